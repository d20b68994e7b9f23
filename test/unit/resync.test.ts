// The runner's resync (src/runner/resync.ts) against a local HTTP server standing in for
// kube-apiserver's list of ConfigMaps (the real API server runs in test/e2e/resync.e2e.test.ts):
// a change no event carried is run once, for the latest state, as the catch-up of a replayed ADD;
// a state an event handles meanwhile, an older state, and an object the hooks never saw are left
// alone.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/k8s/types.js";
import { createRuntime } from "../../src/runner/runtime.js";
import { resourceEventRequest } from "../../src/testing/index.js";
import { kubeConfigFor } from "../helpers/kube-config.js";
import { configMap, CONFIGMAPS } from "../helpers/objects.js";
import { pollUntil } from "../helpers/poll.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";

const WATCH = "configmaps-web";

function cm(name: string, uid: string, v: string, resourceVersion: string): KubeObject {
  const object = configMap({ v }, { name, resourceVersion });
  object.metadata!.uid = uid;
  return object;
}

describe("runner: resync", () => {
  let api: RecordingServer;
  let h: Harness;
  /** What the API server lists now. */
  let listed: KubeObject[] = [];
  /** Runs before the resync's held states are accepted (its deferral). */
  let duringDefer: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    api = await startRecordingServer();
    // Two items a page, so the resync follows `continue`.
    api.respondWith((req) => {
      const url = new URL(req.path, api.url);
      if (url.pathname !== "/api/v1/namespaces/web/configmaps") return { status: 404, body: {} };
      const from = Number(url.searchParams.get("continue") ?? "0");
      const items = listed.slice(from, from + 2).map(({ apiVersion: _a, kind: _k, ...item }) => item);
      const next = from + 2 < listed.length ? String(from + 2) : undefined;
      const defer = duringDefer;
      duringDefer = undefined;
      if (defer && !next) setTimeout(() => void defer(), 0);
      return {
        status: 200,
        body: { apiVersion: "v1", kind: "ConfigMapList", metadata: next ? { continue: next } : {}, items },
      };
    });
    const hookSet = hookSetFrom([
      {
        name: "h",
        on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, changed: ["data.v"] },
        steps: [{ name: "say", log: { message: "v={{ object.data.v }}" } }],
      },
    ]);
    h = await startRunner(hookSet, {
      runtime: { ...createRuntime({ secretsDir: "/nonexistent" }), kubeConfig: kubeConfigFor(api.url) },
      resync: { quietMs: 300, deferMs: 200, intervalMs: 0 },
    });
  });
  afterAll(async () => {
    await h.runner.stop(1000);
    await api.close();
  });
  afterEach(() => {
    api.requests.length = 0;
  });

  const send = async (object: KubeObject, oldObject?: KubeObject) => {
    const request = resourceEventRequest({ object, ...(oldObject ? { oldObject } : {}), ...CONFIGMAPS }, TOKEN);
    const { status } = await h.send("h", request);
    expect([200, 202]).toContain(status);
  };
  const runsOf = (uid: string) => h.runsOf("h").filter((r) => r.spec.object?.uid === uid);

  it("runs a change no event carried once, after the replay, and its late UPDATE finds it handled", async () => {
    const before = cm("race", "uid-race", "1", "100");
    const after = cm("race", "uid-race", "2", "105");
    listed = [after, cm("quiet", "uid-quiet", "1", "90"), cm("other", "uid-other", "1", "91")];
    await send(before); // the replay's ADD: a baseline
    await send(cm("quiet", "uid-quiet", "1", "90"));
    // The ADDs' quiet period ends, the resync lists (two pages) and, after its deferral, accepts.
    const [run] = await pollUntil("the resync's run", 10_000, async () => {
      const runs = runsOf("uid-race");
      return runs.length > 0 ? runs : undefined;
    });
    const queries = api.requests.map((r) => new URL(r.path, api.url).searchParams);
    expect(queries.map((q) => q.get("continue"))).toEqual(expect.arrayContaining([null, "2"]));
    expect(queries.every((q) => q.get("limit") === "500")).toBe(true);
    expect(run!.spec.object?.resourceVersion).toBe("105");
    expect(run!.spec.eventId).toBe("resync:uid-race@105");
    expect((await h.settled(run!.metadata.name)).status.phase).toBe("Succeeded");
    // The UPDATE the changes stream would have carried, had its informer listed earlier.
    await send(after, before);
    expect(runsOf("uid-race")).toHaveLength(1);
    // Never seen by the hook (no ADD sent): left to its ADD, no baseline, no run.
    expect(runsOf("uid-other")).toHaveLength(0);
  });

  it("leaves a state its UPDATE handles during the deferral, and an older state, alone", async () => {
    const v1 = cm("busy", "uid-busy", "1", "200");
    const v2 = cm("busy", "uid-busy", "2", "210");
    const newer = cm("ahead", "uid-ahead", "3", "320");
    listed = [];
    await send(v1);
    await send(cm("ahead", "uid-ahead", "1", "300"));
    await send(newer, cm("ahead", "uid-ahead", "1", "300"));
    // The resync these ADDs scheduled lists nothing; the one below is called directly.
    await api.waitFor(1);
    await pollUntil("the scheduled resync's end", 10_000, async () => (h.runner.runner.resync.idle ? true : undefined));
    listed = [v2, cm("ahead", "uid-ahead", "2", "310")];
    duringDefer = () => send(v2, v1);
    const result = await h.runner.runner.resync.resync(WATCH);
    expect(result).toEqual({ listed: 2, held: 1, accepted: 0 });
    const busy = runsOf("uid-busy");
    expect(busy).toHaveLength(1);
    expect(busy[0]!.spec.eventId).not.toMatch(/^resync:/);
    // uid-ahead: one run, for the UPDATE to 320; the listed 310 is older than what it handled.
    expect(runsOf("uid-ahead").map((r) => r.spec.object?.resourceVersion)).toEqual(["320"]);
  });

  it("runs the latest state: an object changed again during the deferral runs once, for its newest state", async () => {
    listed = [];
    await send(cm("twice", "uid-twice", "1", "400"));
    await api.waitFor(1);
    await pollUntil("the scheduled resync's end", 10_000, async () => (h.runner.runner.resync.idle ? true : undefined));
    listed = [cm("twice", "uid-twice", "2", "401")];
    duringDefer = async () => {
      listed = [cm("twice", "uid-twice", "3", "402")];
    };
    expect(await h.runner.runner.resync.resync(WATCH)).toEqual({ listed: 1, held: 1, accepted: 1 });
    expect(runsOf("uid-twice").map((r) => r.spec.object?.resourceVersion)).toEqual(["402"]);
  });
});
