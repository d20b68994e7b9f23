// The runner over real HTTP: a real listening runner, the memory store (the same model as the
// HookRun custom resources), real local peers for the steps' calls.
import { createHash } from "node:crypto";
import http from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeContext, type HookRun } from "../../src/runner/hookrun.js";
import type { Hook, HookSet } from "../../src/hookset/types.js";
import { resourceEventRequest, sendEvent, watchPathOf, type HookRequest } from "../../src/testing/index.js";
import type { KubeObject } from "../../src/trigger/event.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

/** A Deployment with its own uid, so objects of one test are distinct. */
function frontend(overrides: Parameters<typeof deployment>[0] & { uid?: string } = {}): KubeObject {
  const object = deployment(overrides);
  const name = overrides.name ?? "frontend";
  object.metadata!.uid = overrides.uid ?? createHash("sha256").update(name).digest("hex").slice(0, 32);
  return object;
}

function change(options: { name?: string; from?: string; to: string; rv: string; id?: string }): HookRequest {
  return resourceEventRequest(
    {
      object: frontend({ name: options.name, image: options.to, generation: 4, resourceVersion: options.rv }),
      oldObject: frontend({
        name: options.name,
        image: options.from ?? "registry.example/frontend:1.4.0",
        resourceVersion: String(Number(options.rv) - 1),
      }),
      group: "apps",
      version: "v1",
      resource: "deployments",
      ...(options.id ? { id: options.id } : {}),
    },
    TOKEN,
  );
}

const imageChange = (id?: string, rv = "2001") =>
  change({ to: `registry.example/frontend:${rv}`, rv, ...(id ? { id } : {}) });

const on = {
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
  changed: ["spec.template.spec.containers[0].image"],
};

interface Accepted {
  eventId: string;
  runs: Array<{ name: string; hook: string; phase: string; created: boolean }>;
  skipped: Array<{ hook: string; reason: string }>;
}

function setHook(hookSet: HookSet, name: string, fields: Partial<Hook>): void {
  Object.assign(
    hookSet.hooks.find((h) => h.name === name)!,
    fields,
  );
}

describe("runner: accept", () => {
  let peer: RecordingServer;
  let second: RecordingServer;
  let h: Harness;

  beforeAll(async () => {
    peer = await startRecordingServer();
    second = await startRecordingServer();
    const hookSet = hookSetFrom([
      {
        name: "purge",
        on,
        steps: [
          {
            name: "first",
            http: {
              url: `${peer.url}/purge/{{ object.metadata.name }}`,
              body: { image: "{{ object.spec.template.spec.containers[0].image }}" },
            },
          },
          {
            name: "second",
            retries: 0,
            http: { url: `${second.url}/after`, body: { firstStatus: "{{ steps.first.output.status }}" } },
          },
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
    second.respondWith(() => ({ status: 200, body: {} }));
  });

  it("rejects a missing or wrong token with 401 and accepts nothing", async () => {
    const request = imageChange(undefined, "1501");
    const { authorization: _drop, ...noAuth } = request.headers;
    expect(await h.send("purge", { ...request, headers: noAuth })).toEqual({
      status: 401,
      body: { error: "missing Authorization: Bearer <token>" },
    });
    expect(
      await h.send("purge", {
        ...request,
        headers: { ...request.headers, authorization: "Bearer nope-nope-nope-nope" },
      }),
    ).toEqual({ status: 401, body: { error: "invalid bearer token" } });
    // Scheme case and surrounding whitespace do not matter (documented).
    expect(
      (await h.send("purge", { ...request, headers: { ...request.headers, authorization: `  bearer   ${TOKEN}  ` } }))
        .status,
    ).toBe(202);
    expect(h.runsOf("purge").filter((r) => r.spec.eventId === request.headers["ce-id"])).toHaveLength(1);
  });

  it("answers a sender that prefers return=minimal without a body, on a connection it can use again", async () => {
    // The generated Sensor asks for this: Argo Events never reads the answer's body, and Go's
    // transport reuses a connection only once a body has been read (or there is none).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const connections = new Set<unknown>();
    const count = (socket: unknown) => connections.add(socket);
    h.runner.server.on("connection", count);
    try {
      const answers = [];
      for (const rv of ["3101", "3102"]) {
        const request = imageChange(undefined, rv);
        answers.push(
          await new Promise<{ status?: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
            const req = http.request(
              `${h.runner.url}${watchPathOf(h.hookSet, "purge")}`,
              { method: "POST", agent, headers: { ...request.headers, prefer: "handling=lenient, return=minimal" } },
              (res) => {
                let body = "";
                res.on("data", (c: Buffer) => (body += c.toString()));
                res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
              },
            );
            req.on("error", reject);
            req.end(request.body);
          }),
        );
      }
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 202, body: "" });
        expect(answer.headers["content-length"]).toBe("0");
        expect(answer.headers["preference-applied"]).toBe("return=minimal");
      }
      expect(connections.size).toBe(1);
      expect(h.runsOf("purge").filter((r) => ["3101", "3102"].includes(r.spec.object!.resourceVersion!))).toHaveLength(
        2,
      );
    } finally {
      h.runner.server.off("connection", count);
      agent.destroy();
    }
  });

  it("answers 404 for an unknown hook set or watch, 400 for what is not a resource CloudEvent", async () => {
    const request = imageChange();
    expect((await sendEvent(h.runner.url, "/hooksets/other/watches/deployments-web", request)).status).toBe(404);
    expect(await sendEvent(h.runner.url, "/hooksets/web/watches/nope", request)).toEqual({
      status: 404,
      body: { error: 'no watch named "nope"; watches: deployments-web' },
    });
    const { "ce-id": _id, ...noId } = request.headers;
    expect(await h.send("purge", { ...request, headers: noId })).toEqual({
      status: 400,
      body: {
        error:
          "not a CloudEvent: missing header(s) ce-id (binary mode), or send Content-Type: application/cloudevents+json (structured mode)",
      },
    });
    expect(await h.send("purge", { ...request, body: "{not json" })).toEqual({
      status: 400,
      body: { error: "event data is not valid JSON: Expected property name or '}' in JSON at position 1" },
    });
    const wrongData = await h.send("purge", {
      ...request,
      body: JSON.stringify({ type: "MODIFIED", body: {}, oldBody: null, group: "", version: "v1", resource: "x" }),
    });
    expect(wrongData).toEqual({
      status: 400,
      body: { error: "event data is not a resource event: /type must be equal to one of the allowed values" },
    });
    expect(h.runsOf("purge").filter((r) => r.spec.eventId === request.headers["ce-id"])).toHaveLength(0);
  });

  it("skips a change the trigger does not fire on, with the reason, and persists nothing", async () => {
    const request = resourceEventRequest(
      {
        object: frontend({ replicas: 9, generation: 4, resourceVersion: "9301" }),
        oldObject: frontend(),
        group: "apps",
        version: "v1",
        resource: "deployments",
      },
      TOKEN,
    );
    const before = h.store.size;
    const res = await h.send("purge", request);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      runs: [],
      skipped: [{ hook: "purge", reason: "none of spec.template.spec.containers[0].image changed" }],
    });
    expect(h.store.size).toBe(before);
  });

  it("answers 202 with the run before any step ran; the queue then runs the steps in order", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    peer.respondWith(async () => {
      await gate;
      return { status: 200, body: {} };
    });
    const request = imageChange(undefined, "4001");
    const res = await h.send("purge", request);
    expect(res.status).toBe(202);
    const accepted = res.body as Accepted;
    expect(accepted.runs).toEqual([
      { name: expect.stringMatching(/^purge-[0-9a-f]{16}$/), hook: "purge", phase: "Pending", created: true },
    ]);
    release();
    const run = await h.settled(accepted.runs[0]!.name);
    peer.respondWith(() => ({ status: 200, body: {} }));
    expect(run.status.phase).toBe("Succeeded");
    expect(run.spec).toMatchObject({
      hook: "purge",
      eventId: request.headers["ce-id"],
      subject: "Deployment web/frontend",
      object: { kind: "Deployment", name: "frontend", namespace: "web", resourceVersion: "4001" },
    });
    expect(run.status.steps.map((s) => [s.name, s.phase, s.attempts])).toEqual([
      ["first", "Succeeded", 1],
      ["second", "Succeeded", 1],
      ["never", "Skipped", 0],
    ]);
    expect(peer.requests.map((r) => [r.method, r.path, r.json])).toEqual([
      ["POST", "/purge/frontend", { image: "registry.example/frontend:4001" }],
    ]);
    expect(peer.requests[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(second.requests[0]!.json).toEqual({ firstStatus: 200 });
    expect(run.status.conditions).toEqual([expect.objectContaining({ type: "Succeeded", status: "True" })]);
    // Every log line of the run carries hook, run and eventId; the token never appears.
    const lines = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.run === run.metadata.name);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatchObject({ hook: "purge", eventId: request.headers["ce-id"] });
    expect(h.logs.join("")).not.toContain(TOKEN);
  });

  it("keeps an object's metadata.managedFields out of the run: its steps see the object as `kubectl get` shows it", async () => {
    const managedFields = [
      { manager: "kubectl", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:spec": {} } },
    ];
    const object = frontend({ image: "registry.example/frontend:4101", resourceVersion: "4101" });
    const oldObject = frontend({ image: "registry.example/frontend:1.4.0", resourceVersion: "4100" });
    for (const o of [object, oldObject]) o.metadata!.managedFields = managedFields;
    const request = resourceEventRequest(
      { object, oldObject, group: "apps", version: "v1", resource: "deployments" },
      TOKEN,
    );
    const accepted = (await h.send("purge", request)).body as Accepted;
    const run = await h.settled(accepted.runs[0]!.name);
    expect(run.status.phase).toBe("Succeeded");
    const context = decodeContext(run.spec.context) as Record<"object" | "oldObject", KubeObject>;
    for (const object of [context.object, context.oldObject]) {
      expect(object.metadata).toMatchObject({ name: "frontend", namespace: "web" });
      expect(object.metadata).not.toHaveProperty("managedFields");
    }
    expect(context.oldObject.metadata!.resourceVersion).toBe("4100");
    expect(JSON.stringify(run)).not.toContain("f:spec");
  });

  it("a redelivered event (or the same object state under another event id) finds its run and never runs a step twice", async () => {
    const first = (await h.send("purge", imageChange("redelivered-1", "5001"))).body as Accepted;
    await h.settled(first.runs[0]!.name);
    const again = await h.send("purge", imageChange("redelivered-1", "5001"));
    expect(again.status).toBe(202);
    expect((again.body as Accepted).runs).toEqual([
      { name: first.runs[0]!.name, hook: "purge", phase: "Succeeded", created: false },
    ]);
    const otherId = await h.send("purge", imageChange("another-id", "5001"));
    expect((otherId.body as Accepted).runs[0]).toMatchObject({ name: first.runs[0]!.name, created: false });
    expect(peer.requests).toHaveLength(1);
  });

  it("retries a retryable failure itself, resuming after the last completed step with the same idempotency key", async () => {
    let failures = 2;
    second.respondWith(() => (failures-- > 0 ? { status: 503, body: { error: "down" } } : { status: 200, body: {} }));
    const name = ((await h.send("purge", imageChange(undefined, "6001"))).body as Accepted).runs[0]!.name;
    const run = await h.settled(name);
    expect(run.status.phase).toBe("Succeeded");
    expect(run.status.attempts).toBe(3);
    expect(peer.requests).toHaveLength(1); // the first step did not run again
    expect(second.requests).toHaveLength(3);
    expect(new Set(second.requests.map((r) => r.headers["idempotency-key"])).size).toBe(1);
  });

  it("ends Failed on a non-retryable failure; `retry` runs it again from the failed step", async () => {
    second.respondWith(() => ({ status: 400, body: { error: "bad" } }));
    const name = ((await h.send("purge", imageChange(undefined, "7001"))).body as Accepted).runs[0]!.name;
    const failed = await h.settled(name);
    expect(failed.status).toMatchObject({
      phase: "Failed",
      reason: "StepFailed",
      message: expect.stringMatching(/^step second failed: /),
    });
    expect(failed.status.steps.map((s) => s.phase)).toEqual(["Succeeded", "Failed"]);
    second.respondWith(() => ({ status: 200, body: {} }));
    const auth = { authorization: `Bearer ${TOKEN}` };
    const retried = await fetch(`${h.runner.url}/runs/${name}/retry`, { method: "POST", headers: auth });
    expect(retried.status).toBe(200);
    expect((await h.settled(name)).status.phase).toBe("Succeeded");
    expect(peer.requests).toHaveLength(1);
    expect((await fetch(`${h.runner.url}/runs/${name}/retry`, { method: "POST", headers: auth })).status).toBe(409);
    expect((await fetch(`${h.runner.url}/runs/nope/retry`, { method: "POST", headers: auth })).status).toBe(404);
  });

  it("lists runs behind the token without their objects, and counts them in /metrics", async () => {
    expect((await fetch(`${h.runner.url}/runs`)).status).toBe(401);
    const runs = (await (
      await fetch(`${h.runner.url}/runs?hook=purge`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { runs: HookRun[] };
    expect(runs.runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.runs[0]!.spec.context).toBeUndefined();
    const metrics = await (await fetch(`${h.runner.url}/metrics`)).text();
    expect(metrics).toMatch(/resource_hooks_runs_total\{hook="purge",status="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/resource_hooks_runs_total\{hook="purge",status="failed"\} 1/);
    expect(metrics).toMatch(/resource_hooks_requests_rejected_total\{reason="unauthorized"\} [1-9]/);
    expect(metrics).toContain("resource_hooks_step_duration_seconds_bucket");
  });
});

/** A hook whose one HTTP step blocks each request until release() is called. */
async function gatedHook(
  name = "slow",
  extra: Record<string, unknown> = {},
): Promise<{ peer: RecordingServer; release: () => void; hookSet: HookSet; arrived: () => number }> {
  let gates: Array<() => void> = [];
  let arrived = 0;
  const peer = await startRecordingServer({
    responder: async () => {
      arrived++;
      await new Promise<void>((resolve) => gates.push(resolve));
      return { status: 200, body: {} };
    },
  });
  const hookSet = hookSetFrom([
    {
      name,
      on,
      steps: [
        {
          name: "call",
          http: { url: `${peer.url}/{{ object.metadata.name }}/{{ object.spec.template.spec.containers[0].image }}` },
        },
      ],
      ...extra,
    },
  ]);
  return {
    peer,
    hookSet,
    arrived: () => arrived,
    release: () => {
      const open = gates;
      gates = [];
      for (const g of open) g();
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("runner: queue and concurrency", () => {
  it("a slow run of one object does not delay another object; runs of one object go one at a time, in order", async () => {
    const { peer, release, hookSet, arrived } = await gatedHook();
    const h = await startRunner(hookSet);
    const a1 = ((await h.send("slow", change({ name: "a", to: "a:1", rv: "101" }))).body as Accepted).runs[0]!.name;
    await until("a's first step", () => arrived() === 1);
    const a2 = ((await h.send("slow", change({ name: "a", from: "a:1", to: "a:2", rv: "102" }))).body as Accepted)
      .runs[0]!.name;
    await h.send("slow", change({ name: "b", to: "b:1", rv: "201" }));
    // b runs at once although a's run is still blocked; a's second change waits for its first.
    await until("b's step", () => arrived() === 2);
    expect(peer.requests.map((r) => r.path)).toEqual(["/a/a:1", "/b/b:1"]);
    expect(h.store.get(a2)!.status.phase).toBe("Pending");
    release();
    await h.settled(a1);
    await until("a's second step", () => arrived() === 3);
    release();
    await h.settled(a2);
    expect(peer.requests.map((r) => r.path)).toEqual(["/a/a:1", "/b/b:1", "/a/a:2"]);
    await h.runner.stop(1000);
    await peer.close();
  });

  it("`concurrency: replace`: three quick changes end in one Succeeded run, for the last, and two Superseded", async () => {
    const { peer, release, hookSet, arrived } = await gatedHook("latest");
    setHook(hookSet, "latest", { concurrency: "replace" } as Partial<Hook>);
    const h = await startRunner(hookSet);
    const names: string[] = [];
    names.push(((await h.send("latest", change({ to: "x:1", rv: "11" }))).body as Accepted).runs[0]!.name);
    await until("the first step", () => arrived() === 1);
    names.push(((await h.send("latest", change({ from: "x:1", to: "x:2", rv: "12" }))).body as Accepted).runs[0]!.name);
    names.push(((await h.send("latest", change({ from: "x:2", to: "x:3", rv: "13" }))).body as Accepted).runs[0]!.name);
    // The second may have started before the third arrived; whatever ran is cancelled.
    while (h.store.get(names[2]!)!.status.phase !== "Succeeded") {
      release();
      await new Promise((r) => setTimeout(r, 20));
    }
    const phases = await Promise.all(names.map(async (n) => (await h.settled(n)).status.phase));
    expect(phases).toEqual(["Superseded", "Superseded", "Succeeded"]);
    expect(peer.requests.at(-1)!.path).toBe("/frontend/x:3");
    expect(peer.requests.filter((r) => r.path === "/frontend/x:3")).toHaveLength(1);
    expect(arrived()).toBeLessThanOrEqual(3);
    expect(h.store.get(names[0]!)!.status.message).toBe(`superseded by ${names[1]}`);
    await h.runner.stop(1000);
    await peer.close();
  });

  it("`concurrency: parallel`: runs of one object do not wait for each other", async () => {
    const { peer, release, hookSet, arrived } = await gatedHook("par");
    setHook(hookSet, "par", { concurrency: "parallel" } as Partial<Hook>);
    const h = await startRunner(hookSet);
    await h.send("par", change({ to: "p:1", rv: "21" }));
    await h.send("par", change({ from: "p:1", to: "p:2", rv: "22" }));
    await until("both steps", () => arrived() === 2);
    release();
    await h.runner.stop(1000);
    await peer.close();
  });

  it("--max-concurrent-runs bounds the runs executing at once; the rest wait, none is refused", async () => {
    const { peer, release, hookSet, arrived } = await gatedHook();
    const h = await startRunner(hookSet, { maxConcurrentRuns: 2 });
    const names: string[] = [];
    for (let i = 0; i < 5; i++)
      names.push(
        ((await h.send("slow", change({ name: `o${i}`, to: `o:${i}`, rv: String(300 + i) }))).body as Accepted).runs[0]!
          .name,
      );
    await until("two steps", () => arrived() === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(arrived()).toBe(2);
    while (names.some((n) => h.store.get(n)!.status.phase !== "Succeeded")) {
      release();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(peer.requests).toHaveLength(5);
    await h.runner.stop(1000);
    await peer.close();
  });

  it("a run whose deadline passes while it keeps failing ends Failed with the reason", async () => {
    const peer = await startRecordingServer({ responder: () => ({ status: 503, body: {} }) });
    const hookSet = hookSetFrom([
      { name: "d", on, steps: [{ name: "call", retries: 0, http: { url: `${peer.url}/x` } }] },
    ]);
    setHook(hookSet, "d", { deadlineMs: 300 } as Partial<Hook>);
    const h = await startRunner(hookSet);
    const name = ((await h.send("d", imageChange())).body as Accepted).runs[0]!.name;
    const run = await h.settled(name);
    expect(run.status).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded" });
    expect(run.status.message).toMatch(/step call failed: .*503/);
    expect(peer.requests.length).toBeGreaterThanOrEqual(2);
    await h.runner.stop(1000);
    await peer.close();
  });
});

describe("runner: catch-up after event-source downtime", () => {
  const add = (image: string, rv: string) =>
    resourceEventRequest(
      {
        type: "ADD",
        object: frontend({ image, generation: 5, resourceVersion: rv }),
        group: "apps",
        version: "v1",
        resource: "deployments",
      },
      TOKEN,
    );

  /** One hook on the image, whose step calls `<url>/<image>`. */
  const imageHookSet = (url: string) =>
    hookSetFrom([
      {
        name: "img",
        on,
        steps: [{ name: "call", http: { url: `${url}/{{ object.spec.template.spec.containers[0].image }}` } }],
      },
    ]);

  it("a replayed ADD records a baseline, fires for a state changed while down, and nothing for an unchanged one", async () => {
    const peer = await startRecordingServer();
    const h = await startRunner(imageHookSet(peer.url));
    // A baseline is the hook's memory, not a run: answered 200, nothing created.
    const baseline = await h.send("img", add("i:1", "50"));
    expect(baseline.status).toBe(200);
    expect(baseline.body).toMatchObject({
      runs: [],
      skipped: [{ hook: "img", reason: expect.stringMatching(/baseline recorded/) }],
    });
    expect(h.runsOf("img")).toEqual([]);
    // ... in the memory's batch, unwritten for now: what a crash would lose, in /metrics
    const scrape = async () => (await fetch(`${h.runner.url}/metrics`)).text();
    expect(await scrape()).toMatch(/^resource_hooks_memory_unwritten_changes 1$/m);
    // The same state again: the memory has it, nothing new.
    expect((await h.send("img", add("i:1", "50"))).body).toMatchObject({
      runs: [],
      skipped: [{ hook: "img", reason: expect.stringMatching(/already handled/) }],
    });
    expect((await h.send("img", add("i:1", "57"))).body).toMatchObject({ runs: [] }); // status-only changes since
    const missed = (await h.send("img", add("i:2", "60"))).body as Accepted;
    expect(missed.runs).toEqual([expect.objectContaining({ phase: "Pending", created: true })]);
    await h.settled(missed.runs[0]!.name);
    expect((await h.send("img", add("i:2", "61"))).body).toMatchObject({ runs: [] });
    expect(peer.requests.map((r) => r.path)).toEqual(["/i:2"]);
    await h.runner.stop(1000);
    await peer.close();
  });

  it("an ADD the replay took before a newer UPDATE, arriving after it on its own stream, fires nothing", async () => {
    const peer = await startRecordingServer();
    const h = await startRunner(imageHookSet(peer.url));
    expect((await h.send("img", add("i:1", "50"))).status).toBe(200); // the baseline, before the runner's start
    const update = resourceEventRequest(
      {
        type: "UPDATE",
        oldObject: frontend({ image: "i:1", generation: 5, resourceVersion: "50" }),
        object: frontend({ image: "i:3", generation: 6, resourceVersion: "70" }),
        group: "apps",
        version: "v1",
        resource: "deployments",
      },
      TOKEN,
    );
    const fired = (await h.send("img", update)).body as Accepted;
    await h.settled(fired.runs[0]!.name);
    // the event source restarted at 60 (i:2) and its ADD comes on the ADD stream, after the UPDATE of 70
    expect((await h.send("img", add("i:2", "60"))).body).toMatchObject({
      runs: [],
      skipped: [{ hook: "img", reason: expect.stringMatching(/resourceVersion 60 is older than the state/) }],
    });
    expect(peer.requests.map((r) => r.path)).toEqual(["/i:3"]);
    await h.runner.stop(1000);
    await peer.close();
  });
});

describe("runner: hostile and slow input", () => {
  let peer: RecordingServer;
  let h: Harness;
  beforeAll(async () => {
    peer = await startRecordingServer();
    h = await startRunner(
      hookSetFrom([{ name: "purge", on, steps: [{ name: "first", http: { url: `${peer.url}/x` } }] }]),
    );
  });
  afterAll(async () => {
    await h.runner.stop(1000);
    await peer.close();
  });

  const structured = (envelope: unknown) =>
    sendEvent(h.runner.url, watchPathOf(h.hookSet, "purge"), {
      headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(envelope),
      data: {} as never,
    });
  const event = () => ({
    specversion: "1.0",
    id: "s-1",
    source: "web",
    type: "resource",
    data: imageChange(undefined, "9001").data,
  });

  it("accepts a structured-mode CloudEvent", async () => {
    const res = await structured(event());
    expect(res.status).toBe(202);
  });

  it("refuses non-string or empty attributes, so ids never collide (findings 1, 2)", async () => {
    let deep: unknown = "x";
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const nested = await sendEvent(h.runner.url, watchPathOf(h.hookSet, "purge"), {
      headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${TOKEN}` },
      body: `{"specversion":"1.0","id":${"[".repeat(10_000)}"x"${"]".repeat(10_000)},"source":"s","type":"t"}`,
      data: {} as never,
    });
    expect(nested).toEqual({ status: 400, body: { error: "the CloudEvent is nested deeper than 128 levels" } });
    expect(await structured({ ...event(), id: { a: 1 } })).toEqual({
      status: 400,
      body: { error: "invalid CloudEvent: /id must be string" },
    });
    expect(await structured({ ...event(), id: [1, 2] })).toEqual({
      status: 400,
      body: { error: "invalid CloudEvent: /id must be string" },
    });
    expect(await structured({ ...event(), id: "" })).toEqual({
      status: 400,
      body: { error: "invalid CloudEvent: /id must NOT have fewer than 1 characters" },
    });
    expect(await structured({ ...event(), specversion: 1 })).toMatchObject({ status: 400 });
    expect(await structured({ ...event(), myext: { nested: true } })).toEqual({
      status: 400,
      body: { error: "invalid CloudEvent: /myext must be string,integer,boolean" },
    });
    expect((await fetch(`${h.runner.url}/healthz`)).status).toBe(200);
  });

  it("validates binary-mode ce-* headers with the same rules: specversion 1.0, an RFC 3339 time (stored normalized)", async () => {
    const binary = (headers: Record<string, string>, rv: string) => {
      const request = imageChange(undefined, rv);
      return h.send("purge", { ...request, headers: { ...request.headers, ...headers } });
    };
    expect(await binary({ "ce-specversion": "2.0" }, "9301")).toEqual({
      status: 400,
      body: { error: 'invalid CloudEvent: header ce-specversion must be "1.0", got "2.0"' },
    });
    expect(await binary({ "ce-time": "yesterday" }, "9302")).toEqual({
      status: 400,
      body: { error: 'invalid CloudEvent: time "yesterday" is not an RFC 3339 timestamp' },
    });
    const accepted = await binary({ "ce-time": "2026-11-25T12:00:00.123456789+02:00", "ce-myext": "x" }, "9303");
    expect(accepted.status).toBe(202);
    const name = (accepted.body as { runs: Array<{ name: string }> }).runs[0]!.name;
    const stored = h.runner.runner.store.get(name)!;
    expect((decodeContext(stored.spec.context).event as { time: string }).time).toBe("2026-11-25T10:00:00.123Z");
  });

  it("serves the trigger path as express routed it, and refuses compressed bodies (415)", async () => {
    const path = watchPathOf(h.hookSet, "purge");
    const post = (p: string, rv: string, headers: Record<string, string> = {}) => {
      const request = imageChange(undefined, rv);
      return sendEvent(h.runner.url, p, { ...request, headers: { ...request.headers, ...headers } });
    };
    expect((await post(`${path}/`, "9401")).status).toBe(202);
    expect(
      (await post(`${path.replace("/hooksets/", "/HookSets/").replace("/watches/", "/WATCHES/")}?x=1`, "9402")).status,
    ).toBe(202);
    expect(await post(path.replace(/[^/]+$/, "%E0%A4%A"), "9403")).toEqual({
      status: 400,
      body: { error: 'the path segment "%E0%A4%A" is not valid percent-encoding' },
    });
    expect(await post(path, "9404", { "content-encoding": "gzip" })).toEqual({
      status: 415,
      body: { error: 'Content-Encoding "gzip" is not accepted: send the body uncompressed' },
    });
    const get = await fetch(`${h.runner.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect({ status: get.status, body: await get.json() }).toEqual({ status: 404, body: { error: "not found" } });
  });

  it("refuses a body over the limit by its Content-Length before reading it (413)", async () => {
    const small = await startRunner(h.hookSet, { maxBodyBytes: 10_000 });
    const request = imageChange();
    const res = await small.send("purge", { ...request, body: request.body + " ".repeat(20_000) });
    expect(res).toEqual({ status: 413, body: { error: "request body over the limit of 10000 bytes" } });
    await small.runner.stop(100);
  });

  it("admits requests before reading their bodies: slow senders beyond the limit get 429 at once (finding 4)", async () => {
    const limited = await startRunner(h.hookSet, { maxPendingRequests: 3 });
    const { request: httpRequest } = await import("node:http");
    const url = new URL(limited.runner.url + watchPathOf(h.hookSet, "purge"));
    const body = imageChange().body;
    const statuses: Array<number | undefined> = [];
    const stalled = Array.from(
      { length: 8 },
      (_, i) =>
        new Promise<void>((resolve) => {
          const req = httpRequest(
            {
              host: url.hostname,
              port: url.port,
              path: url.pathname,
              method: "POST",
              headers: {
                ...imageChange(`stall-${i}`, String(800 + i)).headers,
                "content-length": Buffer.byteLength(body),
              },
            },
            (res) => {
              statuses[i] = res.statusCode;
              res.resume();
              res.on("end", resolve);
            },
          );
          req.on("error", () => resolve());
          req.flushHeaders(); // headers now, the body only later
          setTimeout(() => req.end(body), 300);
        }),
    );
    await Promise.all(stalled);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    // The three admitted carry one object state: one run, found again by the other two.
    expect(statuses.filter((s) => s === 202 || s === 200)).toHaveLength(3);
    await limited.runner.stop(100);
  });

  it("drops a sender that stalls mid-body after the request timeout (finding 5)", async () => {
    const timed = await startRunner(h.hookSet, {}, { headersMs: 500, requestMs: 1000 });
    const { connect } = await import("node:net");
    const url = new URL(timed.runner.url);
    const socket = connect(Number(url.port), url.hostname);
    let answer = "";
    socket.on("data", (d) => (answer += String(d)));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(
      `POST ${watchPathOf(h.hookSet, "purge")} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"type":`,
    );
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    await timed.runner.stop(100);
  });

  it("on stop: answers 503 with Retry-After (and /readyz 503) while the running run finishes, then closes (finding 6)", async () => {
    const { peer: slowPeer, release, hookSet, arrived } = await gatedHook();
    const s = await startRunner(hookSet);
    const name = ((await s.send("slow", imageChange(undefined, "9101"))).body as Accepted).runs[0]!.name;
    await until("the step", () => arrived() === 1);
    const stopped = s.runner.stop(10_000);
    await new Promise((r) => setTimeout(r, 50));
    const ready = await fetch(`${s.runner.url}/readyz`);
    expect(ready.status).toBe(503);
    const refused = await s.send("slow", imageChange(undefined, "9102"));
    expect(refused).toEqual({ status: 503, body: { error: "the runner is shutting down" } });
    release();
    await stopped;
    expect(s.store.get(name)!.status.phase).toBe("Succeeded");
    await expect(fetch(`${s.runner.url}/healthz`)).rejects.toThrow();
    await slowPeer.close();
  });

  it("past the grace period, a running run is released (Pending, no claim) to resume elsewhere", async () => {
    const { peer: slowPeer, hookSet, arrived } = await gatedHook();
    const s = await startRunner(hookSet);
    const name = ((await s.send("slow", imageChange(undefined, "9201"))).body as Accepted).runs[0]!.name;
    await until("the step", () => arrived() === 1);
    await s.runner.stop(200);
    const run = s.store.get(name)!;
    expect(run.status).toMatchObject({ phase: "Pending", reason: "Interrupted" });
    expect(run.status.claim).toBeUndefined();
    await slowPeer.close();
  });
});

describe("runner: retention", () => {
  it("deletes finished runs past the TTL or beyond keepPerHook, never the newest run of an object", async () => {
    const peer = await startRecordingServer();
    const hookSet = hookSetFrom([{ name: "keep", on, steps: [{ name: "call", http: { url: `${peer.url}/x` } }] }]);
    const h = await startRunner(hookSet, { retention: { ttlMs: 60_000, keepPerHook: 2 } });
    const names: string[] = [];
    // Object a changes three times, b and c once: five finished runs.
    for (const [name, rv, to] of [
      ["a", "1", "a:1"],
      ["a", "2", "a:2"],
      ["a", "3", "a:3"],
      ["b", "1", "b:1"],
      ["c", "1", "c:1"],
    ] as const) {
      const accepted = (await h.send("keep", change({ name, to, rv: `${rv}00` }))).body as Accepted;
      names.push(accepted.runs[0]!.name);
      await h.settled(accepted.runs[0]!.name);
    }
    // keepPerHook 2: the two oldest of a go; a's newest, b and c are each an object's memory.
    expect(await h.runner.runner.queue.applyRetention()).toBe(2);
    expect(
      h
        .runsOf("keep")
        .map((r) => r.metadata.name)
        .sort(),
    ).toEqual([names[2], names[3], names[4]].sort());
    // Past the TTL only the memories remain, and they stay.
    expect(await h.runner.runner.queue.applyRetention(Date.now() + 120_000)).toBe(0);
    expect(h.runsOf("keep")).toHaveLength(3);
    await h.runner.stop(100);
    await peer.close();
  });
});
