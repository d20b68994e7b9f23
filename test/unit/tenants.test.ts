// One runner serving HookSet resources (src/runner/tenants): each HookSet's route and token, runs
// and markers kept apart for two HookSets of one name in two namespaces, an invalid HookSet's 404,
// an edit that leaves an accepted run with the definition it was accepted under, and one limit of
// running runs over all HookSets. Memory stores; the Kubernetes side is test/e2e/hookset-runner.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_HOOKSET_GENERATION, LABEL_HOOKSET_NAMESPACE, LABEL_MARKER } from "../../src/model/constants.js";
import { watchPath } from "../../src/model/names.js";
import { encodeContext, type HookRun } from "../../src/runner/hookrun.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { createRuntime } from "../../src/runner/runtime.js";
import { listen, type RunningRunner } from "../../src/runner/server.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import { servedDefinition, type HookSetResource } from "../../src/runner/tenants/resource.js";
import { createTenantRunner, type TenantRunner } from "../../src/runner/tenants/server.js";
import { hookSetToken, type HookSetIdentity } from "../../src/tenancy/credential.js";
import { watchesOf } from "../../src/trigger/index.js";
import { resourceEventRequest, sendEvent } from "../../src/testing/index.js";
import { cliAsync } from "../helpers/cli.js";
import { pollUntil } from "../helpers/poll.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

const KEY = Buffer.alloc(32, 7);
const stores = new Map<string, MemoryRunStore>();

function resource(
  namespace: string,
  name: string,
  options: { uid?: string; generation?: number; steps?: unknown[]; hook?: string; spec?: object },
): HookSetResource {
  return {
    metadata: { namespace, name, uid: options.uid ?? `uid-${namespace}-${name}`, generation: options.generation ?? 1 },
    spec: {
      hooks: [
        {
          name: options.hook ?? "notify",
          on: { resource: { version: "v1", resource: "configmaps", namespace: "app" }, events: ["update"] },
          steps: options.steps ?? [{ name: "say", log: { message: "hello" } }],
        },
      ],
      ...options.spec,
    },
  };
}

function identity(r: HookSetResource): HookSetIdentity {
  const { namespace, name, uid } = r.metadata;
  return { namespace: namespace!, name: name!, uid: uid! };
}

/** The route of the resource's only watch. */
function routeOf(r: HookSetResource): string {
  const definition = servedDefinition(r)!;
  if (!("hookSet" in definition.parsed)) throw new Error(definition.parsed.problem);
  const [watch] = watchesOf(definition.parsed.hookSet).keys();
  return watchPath(definition.identity, watch!);
}

let rv = 100;
function update(token: string) {
  rv++;
  const object = (data: string, version: number) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: "app", uid: "cm-1", resourceVersion: String(version) },
    data: { value: data },
  });
  return resourceEventRequest(
    {
      object: object(`v${rv}`, rv),
      oldObject: object(`v${rv - 1}`, rv - 1),
      group: "",
      version: "v1",
      resource: "configmaps",
    },
    token,
  );
}

const runsOf = (namespace: string): HookRun[] =>
  [...(stores.get(namespace)?.list() ?? [])].filter((r) => !r.metadata.labels[LABEL_MARKER]);

describe("a runner serving HookSet resources", () => {
  let peer: RecordingServer;
  let tenants: TenantRunner;
  let running: RunningRunner<TenantRunner>;
  const teamA = (steps?: unknown[], generation = 1) =>
    resource("team-a", "hooks", { ...(steps ? { steps } : {}), generation });
  const teamB = (steps?: unknown[]) => resource("team-b", "hooks", steps ? { steps } : {});
  const call = (path: string) => [{ name: "call", http: { url: `${peer.url}${path}` } }];

  beforeAll(async () => {
    peer = await startRecordingServer();
    const sink = new Writable({ write: (_c, _e, done) => done() });
    tenants = createTenantRunner({
      key: KEY,
      holder: "test/1",
      logger: pino({ level: "warn" }, sink),
      maxConcurrentRuns: 1,
      openStores: ({ namespace }) => {
        const store = stores.get(namespace) ?? new MemoryRunStore();
        stores.set(namespace, store);
        return { store, memoryShards: new LocalShardStore() };
      },
      stepRuntime: () => Promise.resolve(createRuntime({ secretsDir: "/nonexistent" })),
      retryBaseMs: 50,
    });
    running = await listen(tenants, 0, "127.0.0.1");
    await tenants.registry.apply(teamA(call("/a")));
    await tenants.registry.apply(teamB(call("/b")));
  });

  afterAll(async () => {
    await running.stop(1000);
    await peer.close();
  });

  it("takes each HookSet's events on its route with its token only, into runs of its namespace", async () => {
    const [a, b] = [teamA(), teamB()];
    const tokenA = hookSetToken(KEY, identity(a));
    const tokenB = hookSetToken(KEY, identity(b));
    expect(routeOf(a)).toMatch(/^\/namespaces\/team-a\/hooksets\/hooks\/watches\//);
    const first = await sendEvent(running.url, routeOf(a), update(tokenA));
    expect(first, JSON.stringify(first.body)).toMatchObject({ status: 202 });
    expect((await sendEvent(running.url, routeOf(b), update(tokenB))).status).toBe(202);
    // One HookSet's token starts no other HookSet's hooks.
    const crossed = await sendEvent(running.url, routeOf(b), update(tokenA));
    expect(crossed).toMatchObject({ status: 401, body: { error: "invalid bearer token" } });
    await peer.waitFor(2);
    expect(peer.requests.map((r) => r.path).sort()).toEqual(["/a", "/b"]);
    const [runA] = runsOf("team-a");
    const [runB] = runsOf("team-b");
    expect(runA!.metadata.labels).toMatchObject({
      [LABEL_HOOKSET_NAMESPACE]: "team-a",
      [LABEL_HOOKSET_GENERATION]: "1",
    });
    expect(runB!.metadata.labels[LABEL_HOOKSET_NAMESPACE]).toBe("team-b");
    expect(runsOf("team-a")).toHaveLength(1);
    // The markers of two HookSets' hooks of one name differ (they may share a namespace).
    const marker = (ns: string) => [...stores.get(ns)!.list()].find((r) => r.metadata.labels[LABEL_MARKER]);
    expect(marker("team-a")!.metadata.name).not.toBe(marker("team-b")!.metadata.name);
    // Each HookSet's /runs behind its own token.
    const runs = await fetch(`${running.url}/namespaces/team-a/hooksets/hooks/runs`, {
      headers: { authorization: `Bearer ${tokenA}` },
    });
    expect(((await runs.json()) as { runs: unknown[] }).runs).toHaveLength(1);
    const refused = await fetch(`${running.url}/namespaces/team-a/hooksets/hooks/runs`, {
      headers: { authorization: `Bearer ${tokenB}` },
    });
    expect(refused.status).toBe(401);
    expect((await fetch(`${running.url}/runs`)).status).toBe(404);
    // The command line reads the same API with --hookset, and gets team-a's run, not team-b's.
    const dir = mkdtempSync(path.join(tmpdir(), "rh-tenants-"));
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, tokenA);
    const asTeamA = ["--url", running.url, "--hookset", "team-a/hooks", "--token-file", tokenFile];
    try {
      const listed = await cliAsync(["runs", "list", ...asTeamA, "-o", "json"]);
      expect(listed.code, listed.stderr).toBe(0);
      const listedRuns = (JSON.parse(listed.stdout) as { runs: Array<{ metadata: { name: string } }> }).runs;
      expect(listedRuns.map((r) => r.metadata.name)).toEqual([runA!.metadata.name]);
      const one = await cliAsync(["runs", "get", runA!.metadata.name, ...asTeamA]);
      expect(one.code, one.stderr).toBe(0);
      expect((JSON.parse(one.stdout) as { metadata: { name: string } }).metadata.name).toBe(runA!.metadata.name);
      const wrong = await cliAsync(["runs", "list", ...asTeamA.slice(0, 2), "--hookset", "Team_A"]);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/--hookset Team_A: expected <namespace>\/<name>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Series of each HookSet labelled with it.
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/resource_hooks_runs_total\{[^}]*hookset_namespace="team-a"/);
    expect(metrics).toMatch(/resource_hooks_runs_total\{[^}]*hookset_namespace="team-b"/);
    expect(metrics.match(/^# TYPE resource_hooks_runs_total/gm)).toHaveLength(1);
  });

  it("answers 404 with the reason for an unknown, an invalid or an unnamespaced route", async () => {
    const ghost = resource("team-c", "ghost", {});
    const unknown = await sendEvent(running.url, routeOf(ghost), update("x"));
    expect(unknown).toMatchObject({ status: 404 });
    expect(JSON.stringify(unknown.body)).toMatch(/team-c\/ghost.*not served: no such HookSet resource/);
    await tenants.registry.apply(resource("team-c", "broken", { steps: [{ name: "x", nope: {} }] }));
    const broken = routeOf(resource("team-c", "broken", {}));
    const refused = await sendEvent(running.url, broken, update("x"));
    expect(refused.status).toBe(404);
    expect(JSON.stringify(refused.body)).toMatch(/team-c\/broken.*not served: .*steps/);
    const legacy = await sendEvent(running.url, "/hooksets/hooks/watches/w", update("x"));
    expect(JSON.stringify(legacy.body)).toMatch(/names no namespace/);
  });

  it("runs an event accepted before an edit with the old definition, a later one with the new", async () => {
    const a = teamA();
    const token = hookSetToken(KEY, identity(a));
    // The one slot is held by a slow run of team-b, so team-a's run waits, accepted under generation 1.
    peer.respondWith((req) => (req.path === "/slow" ? { status: 200, delayMs: 600 } : { status: 200 }));
    await tenants.registry.apply(resource("team-b", "hooks", { steps: call("/slow"), generation: 2 }));
    const tokenB = hookSetToken(KEY, identity(teamB()));
    peer.requests.length = 0;
    await sendEvent(running.url, routeOf(teamB()), update(tokenB));
    await peer.waitFor(1);
    expect(tenants.slots.inUse).toBe(1);
    const before = await sendEvent(running.url, routeOf(a), update(token));
    expect(before.status).toBe(202);
    await tenants.registry.apply(teamA(call("/a-new"), 2));
    const tenant = tenants.registry.tenant("team-a", "hooks");
    expect(tenant.keptGenerations).toEqual([1, 2]);
    const after = await sendEvent(running.url, routeOf(a), update(token));
    expect(after.status).toBe(202);
    await peer.waitFor(3, 10_000);
    // Never more than the one slot at once over both HookSets: the runs came one after the other.
    expect(peer.requests.map((r) => r.path)).toEqual(["/slow", "/a", "/a-new"]);
    const runs = runsOf("team-a").sort((x, y) => x.spec.acceptedAt.localeCompare(y.spec.acceptedAt));
    expect(runs.slice(-2).map((r) => r.metadata.labels[LABEL_HOOKSET_GENERATION])).toEqual(["1", "2"]);
    await pollUntil("generation 1 forgotten", 5000, () => {
      tenant.prune();
      return Promise.resolve(tenant.keptGenerations.length === 1 ? true : undefined);
    });
    peer.respondWith({ status: 200 });
  });

  it("runs a run of a generation it does not know (accepted before a restart) with the current definition", async () => {
    // What a restarted runner finds: an unfinished run of generation 3; the API server has generation 4 only.
    const store = new MemoryRunStore();
    stores.set("team-r", store);
    const now = Date.now();
    await store.create({
      apiVersion: "resource-hooks.io/v1alpha1",
      kind: "HookRun",
      metadata: {
        name: "notify-before-restart",
        namespace: "team-r",
        labels: {
          "resource-hooks.io/hookset": "hooks",
          [LABEL_HOOKSET_NAMESPACE]: "team-r",
          [LABEL_HOOKSET_GENERATION]: "3",
          "resource-hooks.io/hook": "notify",
        },
      },
      spec: {
        hookSet: "hooks",
        hook: "notify",
        eventId: "e-before",
        identity: "before",
        acceptedAt: new Date(now - 1000).toISOString(),
        subject: "ConfigMap app/settings",
        concurrency: "queue",
        deadline: new Date(now + 60_000).toISOString(),
        context: encodeContext({ object: {} }),
      },
      status: { phase: "Pending", attempts: 0, steps: [], conditions: [] },
    });
    peer.requests.length = 0;
    await tenants.registry.apply(resource("team-r", "hooks", { steps: call("/current"), generation: 4 }));
    await peer.waitFor(1, 10_000);
    expect(peer.requests.map((r) => r.path)).toEqual(["/current"]);
  });

  it("stops taking a deleted HookSet's events", async () => {
    await tenants.registry.remove("team-b", "hooks");
    const answer = await sendEvent(running.url, routeOf(teamB()), update(hookSetToken(KEY, identity(teamB()))));
    expect(answer.status).toBe(404);
  });
});
