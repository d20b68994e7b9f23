// The runner's resync (src/runner/resync.ts) on a real kube-apiserver, as a ServiceAccount with
// exactly the RBAC `generate` gives the runner. It stands in for the moment when the event source
// starts: the replay's ADDs carry each object as its own entry listed it, and a change made before
// the changes stream's informer listed is on no stream. The events are POSTed as the Sensor would
// post them; the change is made with the API server and never sent. The resync lists the objects
// (three pages) and runs each such change exactly once; the UPDATE that arrives late finds it
// handled. (The real event source's two informers cannot be made to list a chosen moment apart,
// so the gap itself is set up here.)
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rbacFor } from "../../src/generate/rbac.js";
import { runnerNeeds } from "../../src/generate/runner.js";
import type { KubeObject } from "../../src/k8s/types.js";
import { createRuntime } from "../../src/runner/runtime.js";
import { resourceEventRequest } from "../../src/testing/index.js";
import { pollUntil } from "../helpers/poll.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";
import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";

const NS = "resync";
const OBJECTS = 1_100;
const CHANGED = [7, 512, 1_050];
const stack = useStack();
let sink: RecordingServer;
let h: Harness;

const hookSet = () =>
  hookSetFrom(
    [
      {
        name: "h",
        on: { resource: { version: "v1", resource: "configmaps", namespace: NS }, changed: ["data.v"] },
        steps: [{ name: "call", http: { url: `${sink.url}/{{ object.metadata.name }}/{{ object.data.v }}` } }],
      },
    ],
    { metadata: { namespace: NS } },
  );

async function list(): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  let token = "";
  do {
    const query = `limit=500${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
    const page = JSON.parse((await stack().apiGet(`/api/v1/namespaces/${NS}/configmaps?${query}`)).body) as {
      items: KubeObject[];
      metadata: { continue?: string };
    };
    out.push(...page.items.map((item) => ({ apiVersion: "v1", kind: "ConfigMap", ...item })));
    token = page.metadata.continue ?? "";
  } while (token);
  return out.filter((o) => o.metadata?.name?.startsWith("cm-"));
}

async function send(object: KubeObject, oldObject?: KubeObject): Promise<void> {
  const request = resourceEventRequest(
    { object, ...(oldObject ? { oldObject } : {}), group: "", version: "v1", resource: "configmaps" },
    TOKEN,
  );
  const { status } = await h.send("h", request);
  expect([200, 202]).toContain(status);
}

describe("resync on a real API server", () => {
  beforeAll(async () => {
    sink = await startRecordingServer();
    const hs = hookSet();
    await stack().apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      ...rbacFor({ name: "runner", namespace: NS }, runnerNeeds(hs), {}),
    ]);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < OBJECTS) {
          const i = next++;
          await stack().admin.call("POST", `/api/v1/namespaces/${NS}/configmaps`, {
            body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { v: "0" } },
          });
        }
      }),
    );
    const config = new KubeConfig();
    config.loadFromFile(await stack().kubeconfigForServiceAccount(NS, "runner"));
    h = await startRunner(hs, {
      runtime: { ...createRuntime({ secretsDir: "/nonexistent" }), kubeConfig: config },
      namespace: NS,
      resync: { quietMs: 500, deferMs: 1_000, intervalMs: 0 },
    });
  }, 180_000);
  afterAll(async () => {
    await h?.runner.stop(1000);
    await sink?.close();
  });

  it("runs each change made between the two informers' lists exactly once", async () => {
    const replay = await list(); // what the own entry's informer listed
    expect(replay).toHaveLength(OBJECTS);
    const changed = new Map<string, KubeObject>();
    for (const i of CHANGED) {
      const after = await stack().admin.call<KubeObject>("PATCH", `/api/v1/namespaces/${NS}/configmaps/cm-${i}`, {
        body: { data: { v: "1" } },
        contentType: "application/merge-patch+json",
      });
      changed.set(`cm-${i}`, after);
    }
    const started = performance.now();
    for (const object of replay) await send(object);
    const replayed = performance.now();
    const effects = await pollUntil("the changes' effects", 60_000, async () =>
      sink.requests.length >= CHANGED.length ? sink.requests : undefined,
    );
    figure(`resync: replay of ${OBJECTS} ADDs sent (ms)`, replayed - started);
    figure(
      "resync: last ADD -> the missed changes' effects (ms, quiet 500 + deferral 1000)",
      performance.now() - replayed,
    );
    expect(effects.map((r) => r.path).sort()).toEqual(CHANGED.map((i) => `/cm-${i}/1`).sort());
    // The UPDATEs a changes stream that listed in time would have carried: already handled.
    for (const [name, after] of changed)
      await send(
        after,
        replay.find((o) => o.metadata?.name === name),
      );
    await pollUntil("the resync idle", 30_000, async () => (h.runner.runner.resync.idle ? true : undefined));
    // Another resync finds nothing left: nothing is run twice.
    expect(await h.runner.runner.resync.resync("configmaps-resync")).toEqual({
      listed: OBJECTS,
      held: 0,
      accepted: 0,
    });
    expect(sink.requests).toHaveLength(CHANGED.length);
    expect(h.runsOf("h")).toHaveLength(CHANGED.length);
  });
});
