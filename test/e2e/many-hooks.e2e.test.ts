// A HookSet of 200 hooks over 3 selectors on the real engine: one EventSource, one Sensor with
// three triggers, one runner; every hook fires for its own object and only for it.
import { randomBytes } from "node:crypto";

import { beforeAll, describe, expect, it } from "vitest";

import type { HookRun } from "../../src/runner/hookrun.js";
import { useStack } from "./harness.js";
import { resourceEventRequest, sendEvent, watchPathOf } from "../../src/testing/index.js";
import { applyHookSet, eventSourceAccount, figure, freePort, generateHookSet, percentile, runnerAccount, sleep, startRunner, until, type DeployedHookSet, type RunnerHandle } from "./hooks-env.js";
import { startHttpSink, type HttpSink, type KubeObject } from "./stack.js";

const NS = "many";
const APPS = ["team-a", "team-b", "team-c"];
const HOOKS = 200;
const TOKEN = randomBytes(24).toString("hex");
const SENSOR_ACCOUNT = { namespace: NS, name: "e2e-sensor" };

const stack = useStack();
let sink: HttpSink;
let deployed: DeployedHookSet;
let runner: RunnerHandle;

const objectOf = (i: number) => ({ namespace: APPS[i % 3]!, name: `obj-${i}` });

function hooksYaml(port: number): string {
  const hooks = Array.from({ length: HOOKS }, (_, i) => {
    const { namespace, name } = objectOf(i);
    return `    - name: hook-${i}
      on:
        resource: {version: v1, resource: configmaps, namespace: ${namespace}, name: ${name}}
        changed: ["data.v"]
      steps:
        - name: call
          http: {url: "${sink.url}/hook-${i}/{{ object.metadata.name }}/{{ object.data.v }}"}`;
  });
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: many
  namespace: ${NS}
spec:
  runner:
    url: http://127.0.0.1:${port}
  hooks:
${hooks.join("\n")}
`;
}

beforeAll(async () => {
  const s = stack();
  sink = await startHttpSink();
  const port = await freePort();
  deployed = generateHookSet(s, "many", hooksYaml(port));
  await s.apply([...APPS, NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })));
  await s.apply([{ apiVersion: "v1", kind: "ServiceAccount", metadata: SENSOR_ACCOUNT }]);
  await applyHookSet(s, deployed, TOKEN);
  const objects: KubeObject[] = Array.from({ length: HOOKS }, (_, i) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: objectOf(i), data: { v: "0" } }));
  await s.apply(objects);
  const kubeconfig = await s.kubeconfigForServiceAccount(runnerAccount(deployed).namespace, runnerAccount(deployed).name);
  runner = await startRunner(s, { hooksFile: deployed.hooksFile, port, token: TOKEN, namespace: NS, kubeconfig, podName: "many-runner-0" });
  // The Sensor first: its consumers only see what is published after they exist.
  await s.startSensor(deployed.sensor, { serviceAccount: SENSOR_ACCOUNT });
  await s.startEventSource(deployed.eventSource, { serviceAccount: eventSourceAccount(deployed) });
});

describe("200 hooks over 3 selectors", () => {
  it("run as 1 EventSource + 1 Sensor with 3 triggers, and every hook fires for its own object only", async () => {
    const sensorFiles = deployed.files.filter((f) => f.path.startsWith("sensors/"));
    const triggers = (deployed.sensor.spec as { triggers: unknown[] }).triggers;
    const watches = Object.keys((deployed.eventSource.spec as { resource: Record<string, unknown> }).resource);
    figure("scenario 8: Sensor size (KiB)", JSON.stringify(deployed.sensor).length / 1024);
    expect(sensorFiles).toHaveLength(1);
    expect(triggers).toHaveLength(3);
    expect(watches).toHaveLength(3);
    // Baselines first (the event source's initial ADDs), then one change per object.
    await until(
      "200 baselines",
      async () => {
        const list = await stack().admin.get<{ items: HookRun[] }>(`/apis/resource-hooks.io/v1alpha1/namespaces/${NS}/hookruns`);
        return list.items.filter((r) => r.status?.phase === "Skipped" && !r.metadata.labels?.["resource-hooks.io/marker"]).length >= HOOKS ? true : undefined;
      },
      120_000,
      500,
    );
    const t0 = performance.now();
    for (let i = 0; i < HOOKS; i++) {
      const { namespace, name } = objectOf(i);
      await stack().admin.call("PATCH", `/api/v1/namespaces/${namespace}/configmaps/${name}`, { body: { data: { v: "1" } }, contentType: "application/merge-patch+json" });
    }
    await sink.waitFor(HOOKS, 120_000);
    figure("scenario 8: 200 changes -> 200 effects (s)", (performance.now() - t0) / 1000);
    await sink.waitQuiet(3_000, 30_000);
    const paths = sink.requests.map((r) => r.path).sort();
    expect(paths).toEqual(Array.from({ length: HOOKS }, (_, i) => `/hook-${i}/obj-${i}/1`).sort());
  }, 300_000);
});

describe("throughput and latency with HookRuns on the real kube-apiserver", () => {
  it("accepts events as fast as it persists HookRuns (figures)", async () => {
    const n = 300;
    const path = watchPathOf(deployed.hookSet, "hook-0");
    const t0 = performance.now();
    let next = 0;
    const statuses: number[] = [];
    // 10 senders at once, as several Sensor triggers would be; each event a new object state.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < n) {
          const i = next++;
          const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "obj-0", namespace: "team-a", uid: `bench-${i}`, resourceVersion: "1" }, data: { v: `b${i}` } };
          const oldObject = { ...object, data: { v: "old" } };
          const request = resourceEventRequest({ object, oldObject, group: "", version: "v1", resource: "configmaps" }, TOKEN);
          statuses.push((await sendEvent(runner.url, path, request)).status);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    figure("accept path on the real kube-apiserver: events/s (one HookRun each, 10 senders)", n / seconds);
    expect(statuses.filter((x) => x === 202)).toHaveLength(n);
  }, 120_000);

  it("write -> step latency at a sustained 20 changes/s on the real engine (figures)", async () => {
    await sink.waitQuiet(2_000, 120_000); // the runs of the accept test are done
    const before = sink.requests.length;
    const writes: number[] = [];
    for (let k = 0; k < 200; k++) {
      const i = k % HOOKS;
      const { namespace, name } = objectOf(i);
      const due = k * 50;
      const wait = due - (writes.length ? performance.now() - writes[0]! : 0);
      if (wait > 0) await sleep(wait);
      const at = performance.now();
      if (k === 0) writes.push(at);
      await stack().admin.call("PATCH", `/api/v1/namespaces/${namespace}/configmaps/${name}`, { body: { data: { v: `s${k}` } }, contentType: "application/merge-patch+json" });
      writeAt.set(`/hook-${i}/${name}/s${k}`, at);
    }
    await sink.waitFor(before + 200, 120_000);
    const latencies = sink.requests.slice(before).filter((r) => writeAt.has(r.path)).map((r) => r.receivedAtPerf - writeAt.get(r.path)!);
    figure("sustained 20 changes/s: write -> step p50 (ms)", percentile(latencies, 50));
    figure("sustained 20 changes/s: write -> step p95 (ms)", percentile(latencies, 95));
    expect(latencies).toHaveLength(200);
  }, 180_000);
});

const writeAt = new Map<string, number>();
