// The runner over real HTTP: a real listening runner, real local peers for the steps' calls.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../../src/runner/runtime.js";
import { createRunner, listen, type RunningRunner } from "../../src/runner/server.js";
import { MemoryRunStore } from "../../src/runner/store.js";
import type { HookSet } from "../../src/spec/types.js";
import { resourceEventRequest, sendHookEvent, type HookRequest } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { hookSetFrom } from "../helpers/spec.js";
import { startPeer, type Peer } from "./steps/helpers.js";

const TOKEN = "test-token-0123456789abcdef";

interface Harness {
  runner: RunningRunner;
  logs: string[];
  store: MemoryRunStore;
}

async function startRunner(hookSet: HookSet, options: { maxConcurrentRuns?: number; maxBodyBytes?: number } = {}): Promise<Harness> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const store = new MemoryRunStore();
  const runner = createRunner({
    hookSet,
    token: TOKEN,
    runtime: createRuntime({ secretsDir: "/nonexistent" }),
    store,
    logger: pino({ level: "info" }, stream),
    ...options,
  });
  return { runner: await listen(runner, 0, "127.0.0.1"), logs, store };
}

function imageChange(id?: string): HookRequest {
  return resourceEventRequest(
    {
      object: deployment({ image: "registry.example/frontend:1.5.0", generation: 4 }),
      oldObject: deployment(),
      group: "apps",
      version: "v1",
      resource: "deployments",
      ...(id ? { id } : {}),
    },
    TOKEN,
  );
}

const on = { resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" }, changed: ["spec.template.spec.containers[0].image"] };

describe("runner", () => {
  let peer: Peer;
  let second: Peer;
  let h: Harness;

  beforeAll(async () => {
    peer = await startPeer();
    second = await startPeer();
    const hookSet = hookSetFrom([
      {
        name: "purge",
        on,
        steps: [
          { name: "first", http: { url: `${peer.url}/purge/{{ object.metadata.name }}`, body: { image: "{{ object.spec.template.spec.containers[0].image }}" } } },
          { name: "second", retries: 0, http: { url: `${second.url}/after`, body: { firstStatus: "{{ steps.first.output.status }}" } } },
          { name: "never", if: "object.spec.replicas > 100", log: { message: "not logged" } },
        ],
      },
    ]);
    h = await startRunner(hookSet);
  });
  afterAll(async () => {
    await h.runner.stop(1000);
    await peer.close();
    await second.close();
  });
  afterEach(() => {
    peer.requests.length = 0;
    second.requests.length = 0;
    second.handle(() => ({ status: 200, body: {} }));
  });

  it("rejects a missing or wrong token with 401 and runs nothing", async () => {
    const request = imageChange();
    const { authorization: _drop, ...noAuth } = request.headers;
    const missing = await sendHookEvent(h.runner.url, "purge", { ...request, headers: noAuth });
    expect(missing).toEqual({ status: 401, body: { error: "missing Authorization: Bearer <token>" } });
    const wrong = await sendHookEvent(h.runner.url, "purge", { ...request, headers: { ...request.headers, authorization: "Bearer nope-nope-nope-nope" } });
    expect(wrong).toEqual({ status: 401, body: { error: "invalid bearer token" } });
    expect(peer.requests).toHaveLength(0);
  });

  it("answers 404 for an unknown hook and 400 for what is not a resource CloudEvent", async () => {
    expect((await sendHookEvent(h.runner.url, "nope", imageChange())).status).toBe(404);
    const request = imageChange();
    const { "ce-id": _id, ...noId } = request.headers;
    expect(await sendHookEvent(h.runner.url, "purge", { ...request, headers: noId })).toEqual({
      status: 400,
      body: { error: "not a CloudEvent: missing header(s) ce-id (binary mode), or send Content-Type: application/cloudevents+json (structured mode)" },
    });
    expect(await sendHookEvent(h.runner.url, "purge", { ...request, body: "{not json" })).toEqual({ status: 400, body: { error: "event data is not valid JSON: Expected property name or '}' in JSON at position 1" } });
    const wrongData = await sendHookEvent(h.runner.url, "purge", { ...request, body: JSON.stringify({ type: "MODIFIED", body: {}, oldBody: null, group: "", version: "v1", resource: "x" }) });
    expect(wrongData).toEqual({ status: 400, body: { error: "event data is not a resource event: /type must be equal to one of the allowed values" } });
    expect(peer.requests).toHaveLength(0);
  });

  it("accepts a structured-mode CloudEvent as well", async () => {
    const request = imageChange();
    const structured = {
      specversion: "1.0",
      id: request.headers["ce-id"],
      source: "web",
      type: "resource",
      subject: "deployments-web",
      datacontenttype: "application/json",
      data: request.data,
    };
    const res = await sendHookEvent(h.runner.url, "purge", { ...request, headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(structured) });
    expect(res.status).toBe(200);
    expect((res.body as { status: string }).status).toBe("succeeded");
  });

  it("skips a change the trigger does not fire on, with the reason, and runs nothing", async () => {
    const request = resourceEventRequest({ object: deployment({ replicas: 9, generation: 4 }), oldObject: deployment(), group: "apps", version: "v1", resource: "deployments" }, TOKEN);
    const res = await sendHookEvent(h.runner.url, "purge", request);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ hook: "purge", status: "skipped", reason: "none of spec.template.spec.containers[0].image changed", steps: [] });
    expect(peer.requests).toHaveLength(0);
  });

  it("runs the steps in order with rendered templates, outputs and if, and answers the run record", async () => {
    const request = imageChange();
    const res = await sendHookEvent(h.runner.url, "purge", request);
    expect(res.status).toBe(200);
    const run = res.body as { runId: string; eventId: string; status: string; steps: Array<{ name: string; status: string; attempts: number; durationMs: number }> };
    expect(run.status).toBe("succeeded");
    expect(run.eventId).toBe(request.headers["ce-id"]);
    expect(run.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["first", "succeeded", 1],
      ["second", "succeeded", 1],
      ["never", "skipped", 0],
    ]);
    expect(peer.requests.map((r) => [r.method, r.url, r.json()])).toEqual([["POST", "/purge/frontend", { image: "registry.example/frontend:1.5.0" }]]);
    expect(peer.requests[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(second.requests[0]!.json()).toEqual({ firstStatus: 200 });
    // Every log line of the run carries hook, runId and eventId; the token never appears.
    const runLines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.runId === run.runId);
    expect(runLines.length).toBeGreaterThanOrEqual(2);
    for (const line of runLines) expect(line).toMatchObject({ hook: "purge", eventId: run.eventId });
    expect(h.logs.join("")).not.toContain(TOKEN);
  });

  it("resumes a redelivered event after the last completed step, then answers duplicate", async () => {
    second.handle(() => ({ status: 500, body: { error: "down" } }));
    const request = imageChange("redelivered-event-1");
    const failed = await sendHookEvent(h.runner.url, "purge", request);
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ status: "failed", reason: expect.stringMatching(/^step second failed: /) });
    expect((failed.body as { steps: Array<{ status: string }> }).steps.map((s) => s.status)).toEqual(["succeeded", "failed", "not-run"]);
    expect(peer.requests).toHaveLength(1);

    second.handle(() => ({ status: 200, body: {} }));
    const resumed = await sendHookEvent(h.runner.url, "purge", request);
    expect(resumed.status).toBe(200);
    expect((resumed.body as { steps: Array<{ status: string }> }).steps.map((s) => s.status)).toEqual(["previously-succeeded", "succeeded", "skipped"]);
    expect(peer.requests).toHaveLength(1); // the first step did not run again
    expect(second.requests).toHaveLength(2);
    // The retried call carries the same idempotency key as the failed one.
    expect(second.requests[1]!.headers["idempotency-key"]).toBe(second.requests[0]!.headers["idempotency-key"]);

    const again = await sendHookEvent(h.runner.url, "purge", request);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "duplicate", reason: "this event was already handled" });
    expect(peer.requests).toHaveLength(1);
    expect(second.requests).toHaveLength(2);
  });

  it("lists recent runs behind the token, and counts them in /metrics", async () => {
    expect((await fetch(`${h.runner.url}/runs`)).status).toBe(401);
    const runs = (await (await fetch(`${h.runner.url}/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { runs: Array<{ status: string }> };
    expect(runs.runs[0]!.status).toBe("duplicate");
    const metrics = await (await fetch(`${h.runner.url}/metrics`)).text();
    expect(metrics).toMatch(/resource_hooks_runs_total\{hook="purge",status="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/resource_hooks_runs_total\{hook="purge",status="failed"\} 1/);
    expect(metrics).toMatch(/resource_hooks_requests_rejected_total\{reason="unauthorized"\} [1-9]/);
    expect(metrics).toContain("resource_hooks_step_duration_seconds_bucket");
  });
});

/** A hook whose one HTTP step blocks until release() is called. */
async function slowHook(): Promise<{ peer: Peer; release: () => void; hookSet: HookSet }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const peer = await startPeer(async () => {
    await gate;
    return { status: 200, body: {} };
  });
  const hookSet = hookSetFrom([{ name: "slow", on, steps: [{ name: "call", http: { url: `${peer.url}/slow` } }] }]);
  return { peer, release, hookSet };
}

describe("runner limits", () => {
  it("answers 413 for a body over the limit, and takes two 1 MiB objects by default", async () => {
    const peer = await startPeer();
    const hookSet = hookSetFrom([{ name: "cm", on: { resource: { version: "v1", resource: "configmaps" } }, steps: [{ name: "call", http: { url: `${peer.url}/x` } }] }]);
    const small = await startRunner(hookSet, { maxBodyBytes: 10_000 });
    const big = await startRunner(hookSet);
    const data = (n: number) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "web" }, data: { blob: String(n).repeat(1024 * 1024 - 200) } });
    const request = resourceEventRequest({ object: data(2), oldObject: data(1), group: "", version: "v1", resource: "configmaps" }, TOKEN);
    expect(await sendHookEvent(small.runner.url, "cm", request)).toEqual({ status: 413, body: { error: "request body over the limit of 10000 bytes" } });
    const res = await sendHookEvent(big.runner.url, "cm", request);
    expect(res.status).toBe(200);
    expect((res.body as { status: string }).status).toBe("succeeded");
    expect(peer.requests).toHaveLength(1);
    await small.runner.stop(100);
    await big.runner.stop(100);
    await peer.close();
  });

  it("answers 429 with Retry-After when saturated, and runs the admitted event", async () => {
    const { peer, release, hookSet } = await slowHook();
    const h = await startRunner(hookSet, { maxConcurrentRuns: 1 });
    const first = sendHookEvent(h.runner.url, "slow", imageChange());
    while (peer.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const res = await fetch(`${h.runner.url}/hooks/slow`, { method: "POST", ...imageChange() });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: "1 runs in flight, the limit is 1" });
    release();
    expect((await first).status).toBe(200);
    expect(peer.requests).toHaveLength(1);
    await h.runner.stop(100);
    await peer.close();
  });

  it("on stop, refuses new runs and lets the in-flight run finish within the grace period", async () => {
    const { peer, release, hookSet } = await slowHook();
    const h = await startRunner(hookSet);
    const inFlight = sendHookEvent(h.runner.url, "slow", imageChange());
    while (peer.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const stopped = h.runner.stop(10_000);
    const ready = await fetch(`${h.runner.url}/readyz`).catch(() => undefined);
    expect(ready === undefined || ready.status === 503).toBe(true);
    setTimeout(release, 200);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((res.body as { status: string }).status).toBe("succeeded");
    await stopped;
    await expect(fetch(`${h.runner.url}/healthz`)).rejects.toThrow();
    await peer.close();
  });
});
