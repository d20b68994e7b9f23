// Issue #20, point 7: a request the runner answers before reading its body (413 from the
// Content-Length, 429 at admission) must get that answer, not EPIPE or ECONNRESET. The runner
// drains the rest of the body (bounded) before it closes, so a client that writes its whole body
// before it reads the answer (as Go's net/http does) sees the status every time.
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourceEventRequest, watchPathOf } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";

const LIMIT = 4 * 1024 * 1024;
const TIMES = 20;

const hookSet = hookSetFrom([
  {
    name: "say",
    on: { resource: { group: "apps", version: "v1", resource: "deployments" } },
    steps: [{ name: "say", log: { message: "{{ object.metadata.name }}" } }],
  },
]);

function eventHeaders(): Record<string, string> {
  const { headers } = resourceEventRequest(
    { object: deployment(), group: "apps", version: "v1", resource: "deployments" },
    TOKEN,
  );
  return headers;
}

/** One POST with Node's http client; the status, or the client's error code (EPIPE, ECONNRESET, …). */
function postWithNode(url: URL, body: Buffer, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: false,
        headers: { ...eventHeaders(), "content-length": body.length, ...headers },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.statusCode)));
        res.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

/**
 * One POST over a raw socket that writes the whole request, as fast as the socket takes it, and
 * only then reads (Go's client does this): the status line's code, or the socket's error code.
 */
function postWholeThenRead(url: URL, body: Buffer, chunked = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.pause();
    let settled = false;
    const settle = (outcome: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(outcome);
    };
    socket.on("error", (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    const head = Object.entries({ ...eventHeaders(), host: url.host })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    const framing = chunked ? "transfer-encoding: chunked\r\n" : `content-length: ${body.length}\r\n`;
    socket.write(`POST ${url.pathname} HTTP/1.1\r\n${head}${framing}\r\n`);
    if (chunked) {
      for (let at = 0; at < body.length; at += 64 * 1024) {
        const part = body.subarray(at, at + 64 * 1024);
        socket.write(`${part.length.toString(16)}\r\n`);
        socket.write(part);
        socket.write("\r\n");
      }
      socket.write("0\r\n\r\n");
    } else socket.write(body);
    socket.once("drain", read);
    if (socket.writableLength === 0) read();
    function read() {
      let answer = "";
      socket.on("data", (chunk: Buffer) => {
        answer += chunk.toString("latin1");
        const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
        if (status) settle(status[1]!);
      });
      socket.on("end", () => settle(answer ? `unparsed answer ${answer.slice(0, 40)}` : "closed without an answer"));
      socket.resume();
    }
  });
}

/** Sends n requests, a few at a time; counts the outcomes. */
async function times(n: number, send: () => Promise<string>, parallel = 4): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let left = n;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (left-- > 0) {
        const outcome = await send();
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

describe("runner: an answer given before the body is read arrives", () => {
  let h: Harness;
  let url: URL;
  beforeAll(async () => {
    h = await startRunner(hookSet, { maxBodyBytes: LIMIT });
    url = new URL(h.runner.url + watchPathOf(hookSet, "say"));
  });
  afterAll(async () => {
    await h.runner.stop(100);
  });

  const overLimit = Buffer.alloc(LIMIT + 1, 0x20);

  it("413 for an over-limit Content-Length, to Node's http client", async () => {
    expect(await times(TIMES, () => postWithNode(url, overLimit))).toEqual({ 413: TIMES });
  });

  it("413 for an over-limit Content-Length, to a client that writes the whole body before reading", async () => {
    expect(await times(TIMES, () => postWholeThenRead(url, overLimit))).toEqual({ 413: TIMES });
  });

  it("413 for an over-limit chunked body, to a client that writes the whole body before reading", async () => {
    // The runner finds it too large while reading, with more still to come than the sockets buffer.
    const chunked = Buffer.alloc(LIMIT + 6 * 1024 * 1024, 0x20);
    expect(await times(TIMES, () => postWholeThenRead(url, chunked, true))).toEqual({ 413: TIMES });
  });

  it("closes the connection of a refused request (here 401) once the rest of its body is read", async () => {
    const outcome = await new Promise<{ answer: string; error?: string }>((resolve) => {
      const socket = connect(Number(url.port), url.hostname);
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("error", (err: NodeJS.ErrnoException) => resolve({ answer, error: err.code ?? err.message }));
      socket.on("close", () => resolve({ answer }));
      socket.write(`POST ${url.pathname} HTTP/1.1\r\nhost: x\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`);
      socket.end(overLimit);
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(outcome.answer).toMatch(/\r\nconnection: close\r\n/i);
  });
});

describe("runner: a 429 given before the body is read arrives", () => {
  it("to Node's http client and to a client that writes the whole body before reading", async () => {
    const h = await startRunner(hookSet, { maxPendingRequests: 1 });
    const url = new URL(h.runner.url + watchPathOf(hookSet, "say"));
    const body = Buffer.from(
      resourceEventRequest({ object: deployment(), group: "apps", version: "v1", resource: "deployments" }, TOKEN).body,
    );
    // The one slot is held by a sender that sent its headers and stalls before its body.
    const stalled = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      agent: false,
      headers: { ...eventHeaders(), "content-length": body.length },
    });
    stalled.on("error", () => undefined);
    const admitted = new Promise<string>((resolve) => stalled.on("response", (res) => resolve(String(res.statusCode))));
    stalled.flushHeaders();
    await new Promise((r) => setTimeout(r, 100));
    // Bodies near the limit: far more than the socket buffers take before the runner answers.
    const large = Buffer.alloc(LIMIT - 1024, 0x20);
    expect(await times(TIMES, () => postWithNode(url, large))).toEqual({ 429: TIMES });
    expect(await times(TIMES, () => postWholeThenRead(url, large))).toEqual({ 429: TIMES });
    stalled.end(body);
    expect(await admitted).toMatch(/^20[02]$/);
    await h.runner.stop(100);
  });
});
