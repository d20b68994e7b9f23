// The runner's HTTP errors come from one catalog (src/runner/http-errors.ts): the code of an
// error gives its status, its reason text and the reason it is counted under in
// resource_hooks_requests_rejected_total (issue #20, point 9: a 413 for an over-limit chunked body
// was counted as bad_request).
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { bodyReadError, HTTP_ERRORS, httpError, toHttpError } from "../../src/runner/http-errors.js";
import { resourceEventRequest, watchPathOf } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";

const hookSet = hookSetFrom([
  {
    name: "say",
    on: { resource: { group: "apps", version: "v1", resource: "deployments" } },
    steps: [{ name: "say", log: { message: "hi" } }],
  },
]);

describe("the HTTP error catalog", () => {
  it("gives every code a status and a reason text", () => {
    for (const [code, entry] of Object.entries(HTTP_ERRORS)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThanOrEqual(599);
    }
    const error = httpError("saturated", 3, 64, 1024);
    expect(error).toMatchObject({ code: "saturated", status: 429, retryAfterSeconds: 1, reason: "saturated" });
    expect(error.message).toBe("3 requests being read or accepted; the limit is 64 requests and 1024 bytes");
  });

  it("makes a body over the limit found while reading a 413 counted as too_large", () => {
    const tooLarge = Object.assign(new Error("request entity too large"), { status: 413, type: "entity.too.large" });
    expect(bodyReadError(tooLarge, 10_000)).toMatchObject({
      code: "body_too_large",
      status: 413,
      reason: "too_large",
      message: "request body over the limit of 10000 bytes",
    });
    const aborted = Object.assign(new Error("request aborted"), { status: 400, type: "request.aborted" });
    expect(bodyReadError(aborted, 10_000)).toMatchObject({ code: "body_aborted", status: 400, reason: "bad_request" });
  });

  it("keeps a library's own 4xx status, and answers anything else as an internal error, uncounted", () => {
    expect(toHttpError(Object.assign(new Error("Failed to decode param"), { status: 400 }))).toMatchObject({
      code: "unclassified",
      status: 400,
      message: "Failed to decode param",
      reason: undefined,
    });
    expect(toHttpError(new TypeError("a bug"))).toMatchObject({
      code: "internal",
      status: 500,
      message: "internal error",
      reason: undefined,
    });
  });
});

describe("runner: rejected requests are counted by their catalog code", () => {
  it("counts a 413 for an over-limit chunked body as too_large, not bad_request", async () => {
    const h = await startRunner(hookSet, { maxBodyBytes: 10_000 });
    const url = new URL(h.runner.url + watchPathOf(hookSet, "say"));
    const { headers } = resourceEventRequest(
      { object: deployment(), group: "apps", version: "v1", resource: "deployments" },
      TOKEN,
    );
    // No Content-Length: node's client sends the body chunked, so only reading it finds it too large.
    const answer = await new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers },
        (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => (body += chunk.toString()));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 4; i++) req.write(" ".repeat(5_000));
      req.end();
    });
    expect(answer).toEqual({
      status: 413,
      body: JSON.stringify({ error: "request body over the limit of 10000 bytes" }),
    });
    const metrics = await (await fetch(`${h.runner.url}/metrics`)).text();
    expect(metrics).toMatch(/^resource_hooks_requests_rejected_total\{reason="too_large"\} 1$/m);
    expect(metrics).not.toMatch(/resource_hooks_requests_rejected_total\{reason="bad_request"\}/);
    await h.runner.stop(100);
  });
});
