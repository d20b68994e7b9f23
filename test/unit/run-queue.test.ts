// The work queue between replicas and the status writes it makes per run: two real runners (real
// HTTP, real steps against a local peer) sharing one run store the way replicas share the HookRun
// custom resources, each through its own view that says which runs it created (as the Kubernetes
// store does) and records every status write it makes. And the Kubernetes store's transport
// against a real local HTTP server: one kept-alive connection, not one per request.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { HookRun } from "../../src/runner/hookrun.js";
import { acceptorClaim, heldElsewhere, startsOnAcceptorClaim } from "../../src/runner/claim.js";
import { createRuntime } from "../../src/runner/runtime.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { createRunner, listen, type RunningRunner } from "../../src/runner/server.js";
import { KubernetesRunStore } from "../../src/runner/store/kubernetes.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import type { RunChange, RunStore } from "../../src/runner/store/types.js";
import type { HookSet } from "../../src/hookset/types.js";
import { resourceEventRequest, sendEvent, watchPathOf } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { hookSetFrom } from "../helpers/spec.js";

const TOKEN = "test-token-0123456789abcdef";
const on = {
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
  changed: ["spec.template.spec.containers[0].image"],
};

/**
 * One replica's view of the shared store, as the Kubernetes store behaves: its own cache, its own
 * writes seen at once and the others' after a watch lag, each write a round trip. It also says
 * which runs it created and records every status write it makes.
 */
class ReplicaStore implements RunStore {
  readonly created = new Set<string>();
  readonly writes: Array<{ run: string; phase: string; steps: string[]; ok: boolean }> = [];
  private readonly cache = new Map<string, HookRun>();
  private readonly listeners: Array<(run: HookRun, change: RunChange) => void> = [];

  constructor(
    private readonly shared: MemoryRunStore,
    private readonly roundTripMs = 20,
    watchLagMs = 2,
  ) {
    shared.subscribe((run, change) => void sleep(watchLagMs).then(() => this.remember(run, change)));
  }

  async start(): Promise<void> {
    for (const run of this.shared.list()) this.cache.set(run.metadata.name, run);
  }
  stop(): void {}
  async create(run: HookRun): Promise<{ run: HookRun; created: boolean }> {
    await sleep(this.roundTripMs);
    const result = await this.shared.create(run);
    if (result.created) this.created.add(run.metadata.name);
    this.remember(result.run, "added");
    return result;
  }
  get(name: string): HookRun | undefined {
    return this.cache.get(name);
  }
  async fetch(name: string): Promise<HookRun | undefined> {
    await sleep(this.roundTripMs);
    const run = await this.shared.fetch(name);
    if (run) this.remember(run, "modified");
    return run;
  }
  list(): Iterable<HookRun> {
    return this.cache.values();
  }
  async updateStatus(run: HookRun): Promise<HookRun> {
    const write = {
      run: run.metadata.name,
      phase: run.status.phase,
      steps: run.status.steps.map((s) => `${s.name}:${s.phase}`),
      ok: false,
    };
    this.writes.push(write);
    await sleep(this.roundTripMs);
    const updated = await this.shared.updateStatus(run);
    write.ok = true;
    this.remember(updated, "modified");
    return updated;
  }
  async delete(name: string): Promise<void> {
    await this.shared.delete(name);
  }
  subscribe(listener: (run: HookRun, change: RunChange) => void): void {
    this.listeners.push(listener);
  }
  createdHere(name: string): boolean {
    return this.created.has(name);
  }
  /** Status writes to runs (not the first-served markers). */
  runWrites(): Array<{ run: string; phase: string; steps: string[]; ok: boolean }> {
    return this.writes.filter((w) => !w.run.startsWith("first-served"));
  }

  /** Keeps the newer of the cached and the given run, as the Kubernetes store does. */
  private remember(run: HookRun, change: RunChange): void {
    const cached = this.cache.get(run.metadata.name);
    if (change === "deleted") {
      if (!cached) return;
      this.cache.delete(run.metadata.name);
    } else {
      if (cached && Number(cached.metadata.resourceVersion) >= Number(run.metadata.resourceVersion)) return;
      this.cache.set(run.metadata.name, run);
    }
    for (const listener of this.listeners) listener(run, change);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Replicas {
  a: RunningRunner;
  b: RunningRunner;
  storeA: ReplicaStore;
  storeB: ReplicaStore;
  shared: MemoryRunStore;
  hookSet: HookSet;
}

let open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.reverse()) await o.close();
  open = [];
});

async function twoReplicas(hookSet: HookSet, a: { maxConcurrentRuns?: number } = {}): Promise<Replicas> {
  const shared = new MemoryRunStore();
  const storeA = new ReplicaStore(shared);
  const storeB = new ReplicaStore(shared);
  // The replicas share the hooks' memory as they share the runs.
  const memoryShards = new LocalShardStore();
  const start = async (store: ReplicaStore, holder: string, maxConcurrentRuns = 32) => {
    const runner = createRunner({
      hookSet,
      token: TOKEN,
      runtime: createRuntime({ secretsDir: "/nonexistent" }),
      store,
      memoryShards,
      namespace: "hooks",
      holder,
      logger: pino({ level: "silent" }),
      maxConcurrentRuns,
      retryBaseMs: 50,
    });
    await runner.start();
    const running = await listen(runner, 0, "127.0.0.1");
    open.push({ close: () => running.stop(1_000) });
    return running;
  };
  return {
    a: await start(storeA, "pod-a/1", a.maxConcurrentRuns),
    b: await start(storeB, "pod-b/1"),
    storeA,
    storeB,
    shared,
    hookSet,
  };
}

function change(name: string, image: string, rv: string) {
  const object = deployment({ name, image, generation: 4, resourceVersion: rv });
  object.metadata!.uid = `uid-${name}`;
  const oldObject = deployment({ name, image: "registry.example/app:old", resourceVersion: String(Number(rv) - 1) });
  oldObject.metadata!.uid = `uid-${name}`;
  return resourceEventRequest({ object, oldObject, group: "apps", version: "v1", resource: "deployments" }, TOKEN);
}

async function send(
  r: Replicas,
  runner: RunningRunner,
  hook: string,
  name: string,
  image: string,
  rv: string,
): Promise<string> {
  const answer = await sendEvent(runner.url, watchPathOf(r.hookSet, hook), change(name, image, rv));
  expect(answer.status).toBe(202);
  return (answer.body as { runs: Array<{ name: string }> }).runs[0]!.name;
}

async function settled(store: MemoryRunStore, name: string): Promise<HookRun> {
  const end = Date.now() + 10_000;
  for (;;) {
    const run = store.get(name);
    if (run && ["Succeeded", "Failed", "Superseded"].includes(run.status.phase)) return run;
    if (Date.now() > end) throw new Error(`run ${name} is still ${run?.status.phase ?? "missing"}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function peer(responder?: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const server = await startRecordingServer(responder);
  open.push(server);
  return server;
}

describe("queue: replicas sharing the runs", () => {
  it("the replica that accepted a run claims it; the other never races it for the claim", async () => {
    const sink = await peer();
    const r = await twoReplicas(
      hookSetFrom([
        { name: "call", on, steps: [{ name: "post", http: { url: `${sink.url}/{{ object.metadata.name }}` } }] },
      ]),
    );
    const names: string[] = [];
    for (let i = 0; i < 10; i++)
      names.push(await send(r, r.a, "call", `o${i}`, `registry.example/app:${i}`, String(100 + i)));
    for (const name of names) expect((await settled(r.shared, name)).status.phase).toBe("Succeeded");
    expect(sink.requests).toHaveLength(10);
    // Every run was A's, on its acceptor's claim (no claim write), and B wrote nothing: no claim
    // write of B failed on a run A had.
    expect(r.storeB.runWrites()).toEqual([]);
    expect(
      r.storeA
        .runWrites()
        .map((w) => `${w.run} ${w.phase}`)
        .sort(),
    ).toEqual(names.map((n) => `${n} Succeeded`).sort());
  });

  it("a run its accepting replica cannot take (at capacity) is claimed by the other after the hand-off", async () => {
    const gates: Array<() => void> = [];
    const sink = await peer({
      responder: async () => {
        await new Promise<void>((resolve) => gates.push(resolve));
        return { status: 200, body: {} };
      },
    });
    const r = await twoReplicas(
      hookSetFrom([
        { name: "call", on, steps: [{ name: "post", http: { url: `${sink.url}/{{ object.metadata.name }}` } }] },
      ]),
      { maxConcurrentRuns: 1 },
    );
    const first = await send(r, r.a, "call", "first", "registry.example/app:1", "201");
    await sink.waitFor(1);
    const second = await send(r, r.a, "call", "second", "registry.example/app:2", "202");
    await sink.waitFor(2);
    // A is full (its one run blocks): B took the second run once the hand-off was over.
    expect(
      r.storeB
        .runWrites()
        .filter((w) => w.phase === "Running" && w.ok)
        .map((w) => w.run),
    ).toEqual([second]);
    // A started the first on its acceptor's claim (no Running write); the second, accepted while
    // A was full, carried no such claim
    expect(
      r.storeA
        .runWrites()
        .filter((w) => w.phase === "Running")
        .map((w) => w.run),
    ).toEqual([]);
    expect(r.shared.get(second)?.metadata.annotations?.["resource-hooks.io/accepted-by"]).toBeUndefined();
    for (const g of gates.splice(0)) g();
    expect((await settled(r.shared, first)).status.phase).toBe("Succeeded");
    expect((await settled(r.shared, second)).status.phase).toBe("Succeeded");
  });

  it("a new run of a replica that is gone is taken by another after the hand-off, not after the claim expiry", async () => {
    const sink = await peer();
    const hookSet = hookSetFrom([
      { name: "call", on, steps: [{ name: "post", http: { url: `${sink.url}/{{ object.metadata.name }}` } }] },
    ]);
    const r = await twoReplicas(hookSet, { maxConcurrentRuns: 0 });
    const name = await send(r, r.a, "call", "orphan", "registry.example/app:1", "301");
    expect((await settled(r.shared, name)).status.phase).toBe("Succeeded");
    expect(
      r.storeB
        .runWrites()
        .filter((w) => w.phase === "Running")
        .map((w) => w.run),
    ).toEqual([name]);
  });
});

describe("queue: status writes per run", () => {
  it("a one-step run its acceptor starts at once writes only its end, with the claim's attempt and the step's status", async () => {
    const sink = await peer();
    const r = await twoReplicas(
      hookSetFrom([{ name: "call", on, steps: [{ name: "post", http: { url: `${sink.url}/x` } }] }]),
    );
    const name = await send(r, r.a, "call", "one", "registry.example/app:1", "401");
    const run = await settled(r.shared, name);
    expect(run.status.steps).toEqual([expect.objectContaining({ name: "post", phase: "Succeeded", attempts: 1 })]);
    // the acceptor's claim (the accepted-by annotation of the create) stood for the claim write
    expect(run.metadata.annotations?.["resource-hooks.io/accepted-by"]).toMatch(/^pod-a\//);
    expect(run.status).toMatchObject({ attempts: 1, startTime: expect.any(String) });
    expect(r.storeA.runWrites().map((w) => `${w.phase} [${w.steps.join(",")}]`)).toEqual([
      "Succeeded [post:Succeeded]",
    ]);
  });

  it("a run started on its acceptor's claim that lasts over a second writes its Running status a second in", async () => {
    const sink = await peer({
      responder: async () => {
        await new Promise((r) => setTimeout(r, 1_500));
        return { status: 200, body: {} };
      },
    });
    const r = await twoReplicas(
      hookSetFrom([{ name: "call", on, steps: [{ name: "post", http: { url: `${sink.url}/x` } }] }]),
    );
    const name = await send(r, r.a, "call", "slow", "registry.example/app:1", "451");
    await sink.waitFor(1);
    await settled(r.shared, name);
    expect(r.storeA.runWrites().map((w) => `${w.phase} [${w.steps.join(",")}]`)).toEqual([
      "Running []",
      "Succeeded [post:Succeeded]",
    ]);
  });

  it("a run superseded while it runs on its acceptor's claim ends Superseded, its attempt and start time kept", async () => {
    const sink = await peer({
      responder: async () => {
        await new Promise((r) => setTimeout(r, 400));
        return { status: 200, body: {} };
      },
    });
    const r = await twoReplicas(
      hookSetFrom([
        {
          name: "call",
          on,
          concurrency: "replace",
          steps: [
            {
              name: "post",
              retries: 0,
              http: { url: `${sink.url}/{{ object.spec.template.spec.containers[0].image }}` },
            },
          ],
        },
      ]),
    );
    const first = await send(r, r.a, "call", "obj", "registry.example/app:1", "601");
    await sink.waitFor(1);
    // still Pending in the API (no status write yet) while its step runs: the newer change must cancel it
    expect(r.shared.get(first)?.status.phase).toBe("Pending");
    const second = await send(r, r.a, "call", "obj", "registry.example/app:2", "602");
    const ended = await settled(r.shared, first);
    expect(ended.status).toMatchObject({ phase: "Superseded", attempts: 1, startTime: expect.any(String) });
    expect((await settled(r.shared, second)).status.phase).toBe("Succeeded");
  });

  it("a step before another is persisted before the next one starts; the last comes with the end", async () => {
    const sink = await peer();
    const r = await twoReplicas(
      hookSetFrom([
        {
          name: "call",
          on,
          steps: [
            { name: "first", http: { url: `${sink.url}/1` } },
            { name: "second", http: { url: `${sink.url}/2` } },
          ],
        },
      ]),
    );
    let firstSavedBeforeSecond: boolean | undefined;
    sink.respondWith((req) => {
      if (req.path === "/2")
        firstSavedBeforeSecond = r.shared
          .get(name)
          ?.status.steps.some((s) => s.name === "first" && s.phase === "Succeeded");
      return { status: 200, body: {} };
    });
    const name = await send(r, r.a, "call", "two", "registry.example/app:1", "501");
    await settled(r.shared, name);
    expect(firstSavedBeforeSecond).toBe(true);
    expect(r.storeA.runWrites().map((w) => `${w.phase} [${w.steps.join(",")}]`)).toEqual([
      "Running [first:Succeeded]",
      "Succeeded [first:Succeeded,second:Succeeded]",
    ]);
  });

  it("a failed step is written with the outcome: Pending with a retry time, then Failed", async () => {
    const sink = await peer({ responder: { status: 503, body: "down" } });
    const r = await twoReplicas(
      hookSetFrom([
        { name: "call", deadline: "1s", on, steps: [{ name: "post", retries: 0, http: { url: `${sink.url}/x` } }] },
      ]),
    );
    const name = await send(r, r.a, "call", "failing", "registry.example/app:1", "601");
    const run = await settled(r.shared, name);
    expect(run.status.phase).toBe("Failed");
    expect(run.status.steps).toEqual([expect.objectContaining({ name: "post", phase: "Failed" })]);
    const writes = [...r.storeA.runWrites(), ...r.storeB.runWrites()].filter((w) => w.ok);
    // Each attempt: the claim (Running) and its outcome, the failed step in the outcome write.
    for (const w of writes) expect(w.phase === "Running" || w.steps.includes("post:Failed")).toBe(true);
    expect(writes.filter((w) => w.phase === "Pending").length).toBeGreaterThanOrEqual(1);
  });
});

describe("Kubernetes store transport", () => {
  it("reuses one kept-alive connection to the API server for successive requests", async () => {
    let connections = 0;
    const runs = new Map<string, HookRun>();
    let rv = 1;
    const api: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        if (req.method === "POST") {
          const run = JSON.parse(body) as HookRun;
          run.metadata.resourceVersion = String(++rv);
          runs.set(run.metadata.name, run);
          res.end(JSON.stringify(run));
        } else if (req.method === "GET" && req.url?.includes("watch=true")) {
          // A watch that stays open (the store's informer); its connection is not counted below.
          connections--;
          res.write("");
        } else {
          res.end(JSON.stringify({ items: [...runs.values()], metadata: { resourceVersion: String(rv) } }));
        }
      });
    });
    api.on("connection", () => connections++);
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    open.push({
      close: () =>
        new Promise<void>((resolve) => {
          api.closeAllConnections();
          api.close(() => resolve());
        }),
    });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const store = new KubernetesRunStore(kubeConfig, "hooks", "web", pino({ level: "silent" }));
    await store.start();
    open.push({ close: async () => store.stop() });
    for (let i = 0; i < 5; i++) {
      const { created } = await store.create({
        apiVersion: "resource-hooks.io/v1alpha1",
        kind: "HookRun",
        metadata: { name: `run-${i}`, namespace: "hooks", labels: {} },
        spec: {
          hookSet: "web",
          hook: "h",
          eventId: `e${i}`,
          identity: `i${i}`,
          acceptedAt: new Date().toISOString(),
          subject: "",
          concurrency: "queue",
          deadline: new Date().toISOString(),
        },
        status: { phase: "Pending", attempts: 0, steps: [], conditions: [] },
      });
      expect(created).toBe(true);
      expect(store.createdHere(`run-${i}`)).toBe(true);
    }
    // The list and five creates over one connection (the watch has its own).
    expect(connections).toBe(1);
    expect(store.createdHere("made-elsewhere")).toBe(false);
  });
});

describe("the acceptor's claim", () => {
  const run = (annotations: Record<string, string>, status: Partial<HookRun["status"]> = {}): HookRun =>
    ({
      metadata: { name: "r", namespace: "hooks", annotations },
      spec: { acceptedAt: "2026-12-05T00:00:00.000Z" },
      status: { phase: "Pending", attempts: 0, steps: [], conditions: [], ...status },
    }) as unknown as HookRun;
  const accepted = Date.parse("2026-12-05T00:00:00.000Z");
  const byA = { "resource-hooks.io/accepted-by": "pod-a/1" };

  it("holds a new run for the claim's time from its accept, for the replica that accepted it", () => {
    expect(acceptorClaim(run(byA), 15_000)).toEqual({ holder: "pod-a/1", expiresAt: "2026-12-05T00:00:15.000Z" });
    // another replica waits for it; a restarted process of the same pod does not (heldElsewhere)
    const claim = acceptorClaim(run(byA), 15_000)!;
    expect(heldElsewhere(claim, "pod-b/7", accepted + 14_000)).toBe(true);
    expect(heldElsewhere(claim, "pod-b/7", accepted + 15_001)).toBe(false);
    expect(heldElsewhere(claim, "pod-a/2", accepted + 1_000)).toBe(false);
    // without the annotation, once claimed by a write, or once attempted: no acceptor's claim
    expect(acceptorClaim(run({}), 15_000)).toBeUndefined();
    expect(acceptorClaim(run(byA, { claim: { holder: "pod-b/7", expiresAt: "x" } }), 15_000)).toBeUndefined();
    expect(acceptorClaim(run(byA, { attempts: 1 }), 15_000)).toBeUndefined();
  });

  it("lets the acceptor start without a claim write only early, so its first renewal comes long before the end", () => {
    expect(startsOnAcceptorClaim(run(byA), "pod-a/1", 15_000, accepted + 2_500)).toBe(true);
    expect(startsOnAcceptorClaim(run(byA), "pod-a/1", 15_000, accepted + 2_501)).toBe(false);
    expect(startsOnAcceptorClaim(run(byA), "pod-b/7", 15_000, accepted)).toBe(false);
  });
});
