// Secrets scrubbed once, in the encodings a secret commonly takes (issue 9 finding 9, issue 10 §3).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { REDACTED, SecretScrubber, scrubbingLogger } from "../../src/secrets/scrubber.js";
import { httpStep } from "../../src/steps/http/index.js";
import { StepFailure } from "../../src/steps/types.js";
import { failureOf, makeContext } from "./steps/helpers.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

const SECRET = 'p@ss"w\\rd/+é=1';

function scrubberWith(...secrets: string[]): SecretScrubber {
  const scrubber = new SecretScrubber();
  for (const s of secrets) scrubber.add(s);
  return scrubber;
}

describe("SecretScrubber", () => {
  const scrubber = scrubberWith(SECRET);

  it.each([
    ["raw", SECRET],
    ["JSON-escaped", JSON.stringify(SECRET).slice(1, -1)],
    ["JSON-escaped twice", JSON.stringify(JSON.stringify(SECRET)).slice(1, -1)],
    ["JSON-escaped, ASCII only (Python)", JSON.stringify(SECRET).slice(1, -1).replace("é", "\\u00e9")],
    ["JSON-escaped with \\/", JSON.stringify(SECRET).slice(1, -1).replace(/\//g, "\\/")],
    ["URL-encoded", encodeURIComponent(SECRET)],
    ["URL-encoded, lower-case hex", encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
    ["form-encoded", new URLSearchParams({ q: SECRET }).toString().slice(2)],
    ["base64", Buffer.from(SECRET).toString("base64")],
    ["base64url", Buffer.from(SECRET).toString("base64url")],
    ["hex", Buffer.from(SECRET).toString("hex")],
  ])("replaces the %s form", (_, form) => {
    const text = `upstream said: ${form} (end)`;
    const clean = scrubber.text(text);
    expect(clean).toContain(REDACTED);
    expect(clean).not.toContain(form);
    expect(clean.startsWith("upstream said: ")).toBe(true);
    expect(clean.endsWith(" (end)")).toBe(true);
  });

  it.each(["", "u", "us", "user", "admin-user-name-x"])(
    "finds a secret base64-encoded inside a longer value: Basic base64(%j + ':' + secret)",
    (user) => {
      const header = `Basic ${Buffer.from(`${user}:${SECRET}`).toString("base64")}`;
      const clean = scrubber.text(`Authorization: ${header}`);
      expect(clean).toContain(REDACTED);
      // What is left of the base64 cannot be decoded back to the secret.
      const rest = clean
        .replace(/^Authorization: Basic /, "")
        .split(REDACTED)
        .join("");
      expect(Buffer.from(rest, "base64").toString()).not.toContain(SECRET);
    },
  );

  it("covers the three base64 alignments of a secret inside any longer value", () => {
    const token = "tok-0123456789abcdef";
    const s = scrubberWith(token);
    for (const prefix of ["", "x", "xy", "xyz"]) {
      for (const suffix of ["", "!", "!!"]) {
        for (const alphabet of ["base64", "base64url"] as const) {
          const encoded = Buffer.from(`${prefix}${token}${suffix}`).toString(alphabet);
          expect(s.text(encoded), `${alphabet} ${prefix}|${suffix}`).toContain(REDACTED);
        }
      }
    }
  });

  it("leaves text without secrets, and short values, alone", () => {
    const s = scrubberWith("abc", "long-enough-secret");
    expect(s.size).toBe(1);
    expect(s.text("abc and more")).toBe("abc and more");
    expect(s.text("a long-enough-secret here")).toBe(`a ${REDACTED} here`);
    expect(new SecretScrubber().text("anything")).toBe("anything");
  });

  it("scrubs a secret URL's parts as well (a Slack webhook quoted without its host)", () => {
    const s = scrubberWith("https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX");
    expect(s.text("POST /services/T000/B000/XXXXsecretXXXX failed")).toBe(`POST ${REDACTED} failed`);
  });

  it("scrubs values deeply (keys too), without touching other types", () => {
    const value = { a: [SECRET, 1, true, null], [`k-${SECRET}`]: { b: `x${SECRET}y` } };
    const clean = scrubber.value(value);
    expect(JSON.stringify(clean)).not.toContain("w\\\\rd");
    expect(clean).toEqual({ a: [REDACTED, 1, true, null], [`k-${REDACTED}`]: { b: `x${REDACTED}y` } });
  });

  it("scrubs errors and keeps their class and fields", () => {
    const err = new StepFailure(`denied for ${SECRET}`, { retryable: true, retryAfterMs: 5 });
    const clean = scrubber.error(err);
    expect(clean).toBeInstanceOf(StepFailure);
    expect(clean.message).toBe(`denied for ${REDACTED}`);
    expect(clean).toMatchObject({ retryable: true, retryAfterMs: 5 });
    expect(String(clean.stack)).not.toContain(SECRET);
    const plain = new Error("nothing secret");
    expect(scrubber.error(plain)).toBe(plain);
  });
});

describe("scrubbingLogger", () => {
  it("scrubs every line of a child and of its children, message, fields and errors, and keeps them JSON", () => {
    const lines: string[] = [];
    const root = pino({ base: undefined }, { write: (l: string) => void lines.push(l) });
    const scrubber = new SecretScrubber();
    const logger = scrubbingLogger(root, scrubber, { step: "s" });
    scrubber.add(SECRET);
    logger.info({ header: `Bearer ${SECRET}` }, `sent ${SECRET}`);
    logger.child({ sub: 1 }).warn({ err: new Error(`boom ${SECRET}`) }, "failed");
    root.info(`the parent is not scrubbed: ${"x"}`);
    expect(lines).toHaveLength(3);
    for (const line of lines.slice(0, 2)) {
      expect(line).not.toContain(JSON.stringify(SECRET).slice(1, -1));
      expect(line).toContain(REDACTED);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ step: "s", msg: `sent ${REDACTED}`, header: `Bearer ${REDACTED}` });
    expect(JSON.parse(lines[1]!)).toMatchObject({ step: "s", sub: 1 });
  });

  it("keeps a line JSON when a raw secret happens to match across JSON syntax", () => {
    const lines: string[] = [];
    const scrubber = scrubberWith('a","b":"');
    const logger = scrubbingLogger(pino({ base: undefined }, { write: (l: string) => void lines.push(l) }), scrubber);
    logger.info({ x: "a", b: "c" }, "m");
    expect(() => JSON.parse(lines[0]!)).not.toThrow();
  });
});

describe("a secret echoed back by a real peer", () => {
  let peer: RecordingServer;
  beforeAll(async () => {
    peer = await startRecordingServer();
  });
  afterAll(() => peer.close());

  it.each([
    ["JSON-escaped", (v: string) => ({ status: 401, body: { error: `bad token ${v}` } })],
    [
      "base64 in a Basic header it reflects",
      (v: string) => ({ status: 403, body: `denied: Basic ${Buffer.from(`api:${v}`).toString("base64")}` }),
    ],
    [
      "URL-encoded in a URL it reflects",
      (v: string) => ({ status: 400, body: `see https://x.example/?t=${encodeURIComponent(v)}` }),
    ],
  ])("never appears in the failure or the logs when echoed %s", async (_, reply) => {
    peer.respondWith((req) => reply(String(req.headers["x-token"])));
    const { ctx, logs } = makeContext({ secrets: { "api/token": SECRET } });
    const failure = await failureOf(
      httpStep,
      { url: `${peer.url}/x`, headers: { "X-Token": { secretKeyRef: { name: "api", key: "token" } } } },
      ctx,
    );
    expect(peer.requests.at(-1)!.headers["x-token"]).toBe(SECRET);
    expect(failure.message).toContain(REDACTED);
    for (const shown of [failure.message, logs()]) {
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain(JSON.stringify(SECRET).slice(1, -1));
      expect(shown).not.toContain(encodeURIComponent(SECRET));
      expect(shown).not.toContain(Buffer.from(SECRET).toString("base64").slice(8, 16));
    }
  });

  it("quotes at most 512 characters of a downstream's answer", async () => {
    peer.respondWith(() => ({ status: 500, body: `${"x".repeat(10_000)}END` }));
    const { ctx } = makeContext();
    const failure = await failureOf(httpStep, { url: `${peer.url}/big` }, ctx);
    expect(failure.message.length).toBeLessThan(700);
    expect(failure.message).not.toContain("END");
  });
});
