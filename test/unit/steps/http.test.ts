// The http step and the shared HTTP classification, against a real HTTP server on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpStep, statusMatches, type HttpConfig } from "../../../src/steps/http/index.js";
import { classifyStatus, parseRetryAfter } from "../../../src/steps/common/http.js";
import { closedPort, failureOf, makeContext, executeScrubbed } from "./helpers.js";
import { startRecordingServer, type RecordingServer } from "../../helpers/recording-server.js";

const TOKEN = "s3cr3t-token-value-42";
const secrets = { "api/token": TOKEN, "env:API_KEY": "env-key-value-77" };
const scope = { object: { metadata: { name: "web", namespace: "prod" }, spec: { replicas: 3 } } };

let peer: RecordingServer;
beforeAll(async () => {
  peer = await startRecordingServer();
});
afterAll(async () => {
  await peer.close();
});

function config(extra: Partial<HttpConfig> = {}): HttpConfig {
  return { url: `${peer.url}/hook/{{ object.metadata.name }}?x=1`, ...extra };
}

describe("shared HTTP classification", () => {
  it("parses Retry-After as seconds or an HTTP-date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0")).toBe(0);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-1")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("retries 5xx, 408 and 429, not other 4xx", () => {
    expect(classifyStatus(500).retryable).toBe(true);
    expect(classifyStatus(502).retryable).toBe(true);
    expect(classifyStatus(408).retryable).toBe(true);
    expect(classifyStatus(429).retryable).toBe(true);
    expect(classifyStatus(400).retryable).toBe(false);
    expect(classifyStatus(401).retryable).toBe(false);
    expect(classifyStatus(404).retryable).toBe(false);
    expect(classifyStatus(429, new Headers({ "retry-after": "2" }))).toEqual({ retryable: true, retryAfterMs: 2000 });
    expect(classifyStatus(503, new Headers({ "retry-after": "5" }))).toEqual({ retryable: true, retryAfterMs: 5000 });
    // Retry-After is honoured for 429 and 503 only.
    expect(classifyStatus(500, new Headers({ "retry-after": "5" }))).toEqual({ retryable: true });
  });

  it("matches expected statuses by code, class and range", () => {
    expect(statusMatches(204, ["2xx"])).toBe(true);
    expect(statusMatches(302, ["2xx"])).toBe(false);
    expect(statusMatches(404, [200, 404])).toBe(true);
    expect(statusMatches(409, ["400-409"])).toBe(true);
    expect(statusMatches(410, ["400-409"])).toBe(false);
  });
});

describe("http step", () => {
  it("sends a templated JSON request with the idempotency key and secret headers", async () => {
    peer.respondWith(() => ({
      status: 201,
      headers: { "x-request-id": "req-9", "set-cookie": "session=abc" },
      body: { accepted: true, id: 7 },
    }));
    const { ctx, logs } = makeContext({ scope, secrets });
    const outcome = await httpStep.execute(
      config({
        method: "PUT",
        headers: {
          "X-Name": "{{ object.metadata.namespace }}/{{ object.metadata.name }}",
          Authorization: { secretKeyRef: { name: "api", key: "token" }, prefix: "Bearer " },
          "X-Api-Key": { env: "API_KEY" },
        },
        body: { name: "{{ object.metadata.name }}", replicas: "{{ object.spec.replicas }}", fixed: [1, true, null] },
      }),
      ctx,
    );
    const received = peer.requests.at(-1)!;
    expect(received.method).toBe("PUT");
    expect(received.path).toBe("/hook/web?x=1");
    expect(received.headers["idempotency-key"]).toBe("idem-0123456789abcdef");
    expect(received.headers["content-type"]).toBe("application/json");
    expect(received.headers["x-name"]).toBe("prod/web");
    expect(received.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(received.headers["x-api-key"]).toBe("env-key-value-77");
    // A whole-string template keeps its type: replicas stays a number.
    expect(received.json).toEqual({ name: "web", replicas: 3, fixed: [1, true, null] });
    expect(outcome.output).toEqual({
      status: 201,
      headers: expect.objectContaining({ "content-type": "application/json", "x-request-id": "req-9" }),
      body: { accepted: true, id: 7 },
    });
    expect((outcome.output as { headers: Record<string, string> }).headers["set-cookie"]).toBeUndefined();
    expect(logs()).not.toContain(TOKEN);
  });

  it("defaults to POST without a body, and returns text bodies as text", async () => {
    peer.respondWith(() => ({ status: 200, headers: { "content-type": "text/plain" }, body: "fine" }));
    const { ctx } = makeContext({ scope });
    const outcome = await httpStep.execute(config(), ctx);
    expect(peer.requests.at(-1)!.method).toBe("POST");
    expect(peer.requests.at(-1)!.bodyText).toBe("");
    expect((outcome.output as { body: unknown }).body).toBe("fine");
  });

  it("accepts the statuses in expectStatus", async () => {
    peer.respondWith(() => ({ status: 404, body: { gone: true } }));
    const { ctx } = makeContext({ scope });
    const outcome = await httpStep.execute(config({ method: "DELETE", expectStatus: [200, 404] }), ctx);
    expect((outcome.output as { status: number }).status).toBe(404);
    const failure = await failureOf(httpStep, config({ method: "DELETE", expectStatus: ["2xx"] }), ctx);
    expect(failure.retryable).toBe(false);
  });

  it("classifies 500 as retryable and 400 as not", async () => {
    const { ctx } = makeContext({ scope });
    peer.respondWith(() => ({ status: 500, body: "boom" }));
    const five = await failureOf(httpStep, config(), ctx);
    expect(five.retryable).toBe(true);
    expect(five.retryAfterMs).toBeUndefined();
    expect(five.message).toContain("500");
    expect(five.message).toContain("boom");
    expect(five.message).not.toContain("?x=1");
    peer.respondWith(() => ({ status: 400, body: { error: "bad field" } }));
    const four = await failureOf(httpStep, config(), ctx);
    expect(four.retryable).toBe(false);
    expect(four.message).toContain("bad field");
  });

  it("turns 429 with Retry-After: 2 into retryAfterMs 2000, and 503 with an HTTP-date into a delay", async () => {
    const { ctx } = makeContext({ scope });
    peer.respondWith(() => ({ status: 429, headers: { "retry-after": "2" }, body: "slow down" }));
    const limited = await failureOf(httpStep, config(), ctx);
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBe(2000);
    peer.respondWith(() => ({ status: 503, headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() } }));
    const unavailable = await failureOf(httpStep, config(), ctx);
    expect(unavailable.retryable).toBe(true);
    expect(unavailable.retryAfterMs).toBeGreaterThan(50_000);
    expect(unavailable.retryAfterMs).toBeLessThanOrEqual(60_000);
    peer.respondWith(() => ({ status: 408 }));
    expect((await failureOf(httpStep, config(), ctx)).retryable).toBe(true);
  });

  it("treats a refused connection as retryable", async () => {
    const port = await closedPort();
    const { ctx } = makeContext({ scope });
    const failure = await failureOf(httpStep, { url: `http://127.0.0.1:${port}/x` }, ctx);
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(/could not be reached: ECONNREFUSED/);
  });

  it("stops when ctx.signal aborts", async () => {
    peer.respondWith(() => undefined); // never answers
    const controller = new AbortController();
    const { ctx } = makeContext({ scope, signal: controller.signal });
    const started = Date.now();
    setTimeout(() => controller.abort(new Error("step timeout")), 100);
    const failure = await failureOf(httpStep, config(), ctx);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("aborted");
    expect(failure.message).toContain("step timeout");
  });

  it("never lets a secret reach outputs, errors or logs, even when the peer echoes it", async () => {
    peer.respondWith((req) => ({
      status: 200,
      body: { youSent: req.headers.authorization, list: [req.headers["x-api-key"]] },
    }));
    const { ctx, logs } = makeContext({ scope, secrets });
    const headers = {
      Authorization: { secretKeyRef: { name: "api", key: "token" }, prefix: "Bearer " },
      "X-Api-Key": { env: "API_KEY" },
    };
    const outcome = await executeScrubbed(httpStep, config({ headers }), ctx);
    const shown = JSON.stringify(outcome.output);
    expect(shown).not.toContain(TOKEN);
    expect(shown).not.toContain("env-key-value-77");
    expect(shown).toContain("[redacted]");

    peer.respondWith((req) => ({ status: 401, body: `invalid token ${String(req.headers.authorization)}` }));
    const failure = await failureOf(httpStep, config({ headers }), ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).not.toContain(TOKEN);
    expect(failure.message).toContain("[redacted]");
    expect(logs()).not.toContain(TOKEN);
    expect(logs()).not.toContain("env-key-value-77");
  });

  it("follows redirects, except when a header carries a secret", async () => {
    peer.respondWith((req) =>
      req.path.startsWith("/moved")
        ? { status: 200, body: { landed: req.path } }
        : { status: 307, headers: { location: "/moved" } },
    );
    const { ctx } = makeContext({ scope, secrets });
    const followed = await httpStep.execute({ url: `${peer.url}/start` }, ctx);
    expect(followed.output).toMatchObject({ status: 200, body: { landed: "/moved" } });
    const headers = { "X-Api-Key": { env: "API_KEY" } };
    const kept = await failureOf(httpStep, { url: `${peer.url}/start`, headers }, ctx);
    expect(kept.message).toContain("answered 307");
    expect(kept.retryable).toBe(false);
    const accepted = await httpStep.execute({ url: `${peer.url}/start`, headers, expectStatus: ["2xx", "3xx"] }, ctx);
    expect(accepted.output).toMatchObject({ status: 307, headers: { location: "/moved" } });
  });

  it("caps large bodies", async () => {
    peer.respondWith(() => ({
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ big: "x".repeat(400_000) }),
    }));
    const { ctx } = makeContext({ scope });
    const outcome = await httpStep.execute(config(), ctx);
    const output = outcome.output as { body: string; bodyTruncated?: boolean };
    expect(output.bodyTruncated).toBe(true);
    expect(output.body.length).toBeLessThanOrEqual(256 * 1024);
  });

  it("fails without retrying on a template that does not render", async () => {
    const { ctx } = makeContext({ scope });
    const failure = await failureOf(httpStep, { url: `${peer.url}/{{ object.nope.deeper }}` }, ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/^url: /);
  });

  it("lists secret references and checks what the schema cannot", () => {
    expect(
      httpStep.secrets!({
        url: "https://example.com",
        headers: {
          A: { secretKeyRef: { name: "api", key: "token" }, prefix: "Bearer " },
          B: { secretKeyRef: { name: "api", key: "token" } },
          C: { env: "X" },
          D: "plain",
        },
      }),
    ).toEqual([{ name: "api", key: "token" }]);
    expect(httpStep.check!({ url: "https://example.com", method: "GET", body: { a: 1 } })).toEqual([
      { path: ["body"], message: "a GET request cannot have a body" },
    ]);
    expect(httpStep.check!({ url: "https://user:pw@example.com" })[0]?.path).toEqual(["url"]);
    expect(httpStep.check!({ url: "https://example.com", headers: { "Idempotency-Key": "x" } })[0]?.path).toEqual([
      "headers",
      "Idempotency-Key",
    ]);
    expect(httpStep.check!({ url: "https://example.com/{{ object.metadata.name }}" })).toEqual([]);
  });
});
