// sendHttp itself, the client under the http, githubWorkflow, slack and cdnPurge steps, against
// real HTTP servers on 127.0.0.1: what it sends, redirects, connection reuse, capped reading,
// aborts and failures.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeHeaders, sendHttp, type HttpRequest } from "../../../src/steps/common/http.js";
import { StepFailure } from "../../../src/steps/types.js";
import { makeContext } from "./helpers.js";
import { startRecordingServer, type RecordingServer } from "../../helpers/recording-server.js";

let peer: RecordingServer;
let other: RecordingServer;
beforeAll(async () => {
  peer = await startRecordingServer();
  other = await startRecordingServer();
});
afterAll(async () => {
  await peer.close();
  await other.close();
});

const post = (path: string, extra: Partial<HttpRequest> = {}): HttpRequest => ({
  method: "POST",
  url: `${peer.url}${path}`,
  label: "the peer",
  ...extra,
});

async function failureOf(request: HttpRequest, signal?: AbortSignal): Promise<StepFailure> {
  const { ctx } = makeContext(signal ? { signal } : {});
  const err = await sendHttp(ctx, request).then(
    () => new Error("expected a failure"),
    (e: unknown) => e,
  );
  if (err instanceof StepFailure) return err;
  throw err;
}

describe("sendHttp", () => {
  it("sends the runner's headers, the caller's (which win, in any case) and fetch's defaults", async () => {
    peer.respondWith({ status: 200, body: "ok" });
    const { ctx } = makeContext({ idempotencyKey: "idem-42" });
    await sendHttp(ctx, post("/a", { body: "plain", headers: { "X-Name": "web" } }));
    const plain = peer.requests.at(-1)!;
    expect(plain.headers["user-agent"]).toBe("resource-hooks");
    expect(plain.headers["idempotency-key"]).toBe("idem-42");
    expect(plain.headers.accept).toBe("*/*");
    expect(plain.headers["content-type"]).toBe("text/plain;charset=UTF-8");
    expect(plain.headers["content-length"]).toBe("5");
    expect(plain.headers["x-name"]).toBe("web");
    expect(plain.bodyText).toBe("plain");

    const headers = { "content-type": "application/json", ACCEPT: "application/json", "User-Agent": "mine" };
    await sendHttp(ctx, post("/b", { body: "{}", headers }));
    const json = peer.requests.at(-1)!;
    expect(json.headers["content-type"]).toBe("application/json");
    expect(json.headers.accept).toBe("application/json");
    expect(json.headers["user-agent"]).toBe("mine");
    expect(json.rawHeaders.filter((h) => h.toLowerCase() === "accept")).toHaveLength(1);
  });

  it("reuses kept-alive connections for sequential requests", async () => {
    let connections = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const { ctx } = makeContext();
      for (let i = 0; i < 10; i++) {
        const answer = await sendHttp(ctx, { method: "POST", url, body: "x", label: "keep-alive" });
        expect(answer.text).toBe("ok");
      }
      // undici's pool may open a second connection when the next request comes before the first
      // connection is marked free (fetch did the same); without keep-alive there would be ten.
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("returns the answer's status, reason phrase and headers (case-insensitive, repeats joined)", async () => {
    peer.respondWith((_req, res) => {
      res.writeHead(404, [
        ["Content-Type", "application/json"],
        ["X-Multi", "a"],
        ["X-Multi", "b"],
        ["Set-Cookie", "s=1"],
      ]);
      res.end(JSON.stringify({ gone: true }));
      return undefined;
    });
    const { ctx } = makeContext();
    const answer = await sendHttp(ctx, post("/missing"));
    expect(answer).toMatchObject({ status: 404, statusText: "Not Found", body: { gone: true }, truncated: false });
    expect(answer.headers.get("X-MULTI")).toBe("a, b");
    expect(answer.headers.get("x-absent")).toBeNull();
    expect(safeHeaders(answer.headers)).toEqual(expect.objectContaining({ "content-type": "application/json" }));
    expect(safeHeaders(answer.headers)["set-cookie"]).toBeUndefined();
  });

  it("returns a redirect as is by default", async () => {
    peer.respondWith({ status: 302, headers: { location: "/elsewhere" }, body: "" });
    const { ctx } = makeContext();
    const answer = await sendHttp(ctx, post("/start", { headers: { "X-Api-Key": "key-1" } }));
    expect(answer.status).toBe(302);
    expect(answer.headers.get("location")).toBe("/elsewhere");
    expect(peer.requests.at(-1)!.path).toBe("/start");
  });

  it("follows a same-origin 307 with method, body and every header", async () => {
    peer.respondWith((req) =>
      req.path === "/start" ? { status: 307, headers: { location: "/moved" }, body: "" } : { status: 200, body: "ok" },
    );
    peer.requests.length = 0;
    const { ctx } = makeContext();
    const headers = { "X-Api-Key": "key-1", "Content-Type": "application/json" };
    const answer = await sendHttp(ctx, post("/start", { body: "{}", headers, redirect: "follow" }));
    expect(answer.status).toBe(200);
    const moved = peer.requests.at(-1)!;
    expect(moved).toMatchObject({ method: "POST", path: "/moved", bodyText: "{}" });
    expect(moved.headers["x-api-key"]).toBe("key-1");
    expect(moved.headers["content-type"]).toBe("application/json");
  });

  it("turns a POST into a GET without body after a 303 or a 302, as fetch does", async () => {
    for (const status of [303, 302]) {
      peer.respondWith((req) =>
        req.path === "/form" ? { status, headers: { location: "/done" }, body: "" } : { status: 200, body: "done" },
      );
      const { ctx } = makeContext();
      const headers = { "Content-Type": "application/json" };
      const answer = await sendHttp(ctx, post("/form", { body: "{}", headers, redirect: "follow" }));
      expect(answer.text).toBe("done");
      const done = peer.requests.at(-1)!;
      expect(done).toMatchObject({ method: "GET", path: "/done", bodyText: "" });
      expect(done.headers["content-type"]).toBeUndefined();
    }
  });

  it("sends no credential header along a redirect to another origin", async () => {
    peer.respondWith({ status: 308, headers: { location: `${other.url}/landing` }, body: "" });
    other.respondWith({ status: 200, body: "landed" });
    const { ctx } = makeContext({ idempotencyKey: "idem-7" });
    const headers = {
      Authorization: "Bearer t0ken",
      "Fastly-Key": "fastly-secret",
      "X-Api-Key": "api-secret",
      Cookie: "session=abc",
      "Content-Type": "application/json",
    };
    const answer = await sendHttp(ctx, post("/start", { body: "{}", headers, redirect: "follow" }));
    expect(answer.text).toBe("landed");
    const landed = other.requests.at(-1)!;
    expect(landed).toMatchObject({ method: "POST", path: "/landing", bodyText: "{}" });
    for (const name of ["authorization", "fastly-key", "x-api-key", "cookie"])
      expect(landed.headers[name]).toBeUndefined();
    expect(landed.headers["idempotency-key"]).toBe("idem-7");
    expect(landed.headers["content-type"]).toBe("application/json");
    expect(landed.headers["user-agent"]).toBe("resource-hooks");
  });

  it("fails retryably on a redirect loop or a Location that is not http(s)", async () => {
    peer.respondWith({ status: 307, headers: { location: "/again" }, body: "" });
    const loop = await failureOf(post("/again", { redirect: "follow" }));
    expect(loop.retryable).toBe(true);
    expect(loop.message).toBe("the peer could not be reached: redirect count exceeded");
    peer.respondWith({ status: 307, headers: { location: "ftp://example.com/x" }, body: "" });
    const scheme = await failureOf(post("/start", { redirect: "follow" }));
    expect(scheme.retryable).toBe(true);
    expect(scheme.message).toContain("could not be reached: URL scheme must be a HTTP(S) scheme");
  });

  it("cuts a body at maxBodyBytes, and does not parse a cut JSON body", async () => {
    peer.respondWith({ status: 200, headers: { "content-type": "application/json" }, body: `"${"x".repeat(98)}"` });
    const { ctx } = makeContext();
    const cut = await sendHttp(ctx, post("/big", { maxBodyBytes: 10 }));
    expect(cut).toMatchObject({ text: `"${"x".repeat(9)}`, body: `"${"x".repeat(9)}`, truncated: true });
    const whole = await sendHttp(ctx, post("/big", { maxBodyBytes: 100 }));
    expect(whole).toMatchObject({ body: "x".repeat(98), truncated: false });
  });

  it("stops reading an answer when ctx.signal aborts", async () => {
    const controller = new AbortController();
    peer.respondWith((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("part of it"); // the rest never comes
      // Once the head is out, so the abort finds sendHttp reading the body.
      setTimeout(() => controller.abort(new Error("step timeout")), 50);
      return undefined;
    });
    const failure = await failureOf(post("/slow"), controller.signal);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe("aborted while reading the answer of the peer: step timeout");
  });

  it("refuses a header value with a line break without retrying, and sends nothing", async () => {
    const before = peer.requests.length;
    const failure = await failureOf(post("/x", { headers: { "X-Name": "a\r\nInjected: yes" } }));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/^the peer could not be called: /);
    expect(peer.requests.length).toBe(before);
  });
});
