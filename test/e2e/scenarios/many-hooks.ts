// A HookSet of N hooks over 3 selectors deployed on the real engine (one EventSource, one Sensor
// with three triggers, one runner with HookRuns on the real kube-apiserver), and the two
// throughput measurements made on it. Used by test/e2e/many-hooks.e2e.test.ts (with assertions)
// and by `npm run bench` (figures only), so both measure the same thing.
import { randomBytes } from "node:crypto";

import { resourceEventRequest, sendEvent, watchPathOf } from "../../../src/testing/index.js";
import {
  applyHookSet,
  eventSourceAccount,
  freePort,
  generateHookSet,
  percentile,
  runnerKubeconfig,
  sleep,
  startRunner,
  until,
  type DeployedHookSet,
  type RunnerHandle,
} from "../hooks-env.js";
import { startHttpSink, type HttpSink, type KubeObject, type Stack } from "../stack.js";

export const MANY_NS = "many";
const APPS = ["team-a", "team-b", "team-c"];

export interface ManyHooks {
  readonly stack: Stack;
  readonly hooks: number;
  readonly sink: HttpSink;
  readonly deployed: DeployedHookSet;
  readonly runner: RunnerHandle;
  readonly token: string;
  /** The object hook-i watches (its only object). */
  objectOf(i: number): { namespace: string; name: string };
  /** Sets data.v of hook-i's ConfigMap (a merge patch as admin). */
  write(i: number, value: string): Promise<void>;
  close(): Promise<void>;
}

function hooksYaml(
  hooks: number,
  port: number,
  sinkUrl: string,
  objectOf: (i: number) => { namespace: string; name: string },
): string {
  const items = Array.from({ length: hooks }, (_, i) => {
    const { namespace, name } = objectOf(i);
    return `    - name: hook-${i}
      on:
        resource: {version: v1, resource: configmaps, namespace: ${namespace}, name: ${name}}
        changed: ["data.v"]
      steps:
        - name: call
          http: {url: "${sinkUrl}/hook-${i}/{{ object.metadata.name }}/{{ object.data.v }}"}`;
  });
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: many
  namespace: ${MANY_NS}
spec:
  runner:
    url: http://127.0.0.1:${port}
  hooks:
${items.join("\n")}
`;
}

/** Deploys the HookSet, its objects (data.v = "0") and the runner, then starts the Sensor and EventSource. */
export async function deployManyHooks(stack: Stack, hooks: number): Promise<ManyHooks> {
  const token = randomBytes(24).toString("hex");
  const sensorAccount = { namespace: MANY_NS, name: "e2e-sensor" };
  const objectOf = (i: number) => ({ namespace: APPS[i % 3]!, name: `obj-${i}` });
  const sink = await startHttpSink();
  const port = await freePort();
  const deployed = generateHookSet(stack, "many", hooksYaml(hooks, port, sink.url, objectOf));
  await stack.apply([...APPS, MANY_NS].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })));
  await stack.apply([{ apiVersion: "v1", kind: "ServiceAccount", metadata: sensorAccount }]);
  await applyHookSet(stack, deployed, token);
  await stack.apply(
    Array.from({ length: hooks }, (_, i): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: objectOf(i),
      data: { v: "0" },
    })),
  );
  const kubeconfig = await runnerKubeconfig(stack, deployed);
  const runner = await startRunner(stack, {
    hooksFile: deployed.hooksFile,
    port,
    token,
    namespace: MANY_NS,
    kubeconfig,
    podName: "many-runner-0",
  });
  // The Sensor first: its consumers only see what is published after they exist.
  await stack.startSensor(deployed.sensor, { serviceAccount: sensorAccount });
  await stack.startEventSource(deployed.eventSource, { serviceAccount: eventSourceAccount(deployed) });
  return {
    stack,
    hooks,
    sink,
    deployed,
    runner,
    token,
    objectOf,
    write: async (i, value) => {
      const { namespace, name } = objectOf(i);
      await stack.admin.call("PATCH", `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        body: { data: { v: value } },
        contentType: "application/merge-patch+json",
      });
    },
    close: async () => {
      await runner.stop();
      await sink.close();
    },
  };
}

/**
 * Waits until every hook recorded its baseline (the event source's initial ADDs), in the hooks'
 * memory (HookMemory shards): a baseline is not a HookRun.
 */
export async function waitForBaselines(env: ManyHooks, timeoutMs = 120_000): Promise<void> {
  await until(
    `${env.hooks} baselines`,
    async () => {
      const list = await env.stack.admin.get<{ items: Array<{ entries?: Record<string, Record<string, string>> }> }>(
        `/apis/resource-hooks.io/v1alpha1/namespaces/${MANY_NS}/hookmemories`,
      );
      const entries = list.items.reduce(
        (n, shard) => n + Object.values(shard.entries ?? {}).reduce((m, hooks) => m + Object.keys(hooks).length, 0),
        0,
      );
      return entries >= env.hooks ? true : undefined;
    },
    timeoutMs,
    500,
  );
}

/**
 * Accepted events per second with one HookRun persisted per event on the real kube-apiserver:
 * `n` events, each a new object state, from 10 senders at once (as several Sensor triggers would).
 */
export async function measureAcceptRate(
  env: ManyHooks,
  n = 300,
): Promise<{ eventsPerSecond: number; statuses: number[] }> {
  const path = watchPathOf(env.deployed.hookSet, "hook-0");
  const statuses: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < n) {
        const i = next++;
        const object = {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            name: "obj-0",
            namespace: "team-a",
            uid: `bench-${i}-${randomBytes(4).toString("hex")}`,
            resourceVersion: "1",
          },
          data: { v: `b${i}` },
        };
        const request = resourceEventRequest(
          { object, oldObject: { ...object, data: { v: "old" } }, group: "", version: "v1", resource: "configmaps" },
          env.token,
        );
        statuses.push((await sendEvent(env.runner.url, path, request)).status);
      }
    }),
  );
  return { eventsPerSecond: n / ((performance.now() - t0) / 1000), statuses };
}

/**
 * Write -> first byte of the step's request at the sink, for `changes` writes at `perSecond`
 * (round robin over the hooks' objects), through the whole engine.
 */
export async function measureSustainedLatency(
  env: ManyHooks,
  perSecond = 20,
  changes = 200,
): Promise<{ p50: number; p95: number; latencies: number[] }> {
  await env.sink.waitQuiet(2_000, 120_000); // earlier runs are done
  const before = env.sink.requests.length;
  const writeAt = new Map<string, number>();
  const start = performance.now();
  const tag = randomBytes(3).toString("hex");
  for (let k = 0; k < changes; k++) {
    const i = k % env.hooks;
    const wait = (k * 1000) / perSecond - (performance.now() - start);
    if (wait > 0) await sleep(wait);
    const at = performance.now();
    await env.write(i, `s${tag}${k}`);
    writeAt.set(`/hook-${i}/${env.objectOf(i).name}/s${tag}${k}`, at);
  }
  await env.sink.waitFor(before + changes, 120_000);
  const latencies = env.sink.requests
    .slice(before)
    .filter((r) => writeAt.has(r.path))
    .map((r) => r.receivedAtPerf - writeAt.get(r.path)!);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), latencies };
}
