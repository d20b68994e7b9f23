// Cluster scale on the real engine: N ConfigMaps exist before a HookSet starts (as in any real
// cluster), with three hooks on two selectors of them — two on a label selector (changed data.v,
// changed data.w), one on the whole namespace (changed data.v); the label selector's hooks share
// the namespace's watch (trigger/watch.ts). Measures what the first start costs (time to settle,
// objects and bytes stored, etcd growth), how long a real change made during the start waits, the
// rate of a burst of changes, and the runner's resident memory.
// Used by test/e2e/scale.e2e.test.ts; the figures go into README's Performance section.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";

import {
  applyHookSet,
  eventSourceAccount,
  freePort,
  generateHookSet,
  metricValue,
  runnerKubeconfig,
  sleep,
  startRunner,
  until,
  type DeployedHookSet,
  type RunnerHandle,
} from "../hooks-env.js";
import { startHttpSink, type ArgoProcess, type HttpSink, type Stack } from "../stack.js";
import { apiserverProfile, cpuProbe } from "./cpu-probe.js";

export interface ScaleFigures {
  objects: number;
  /** EventSource started → every replayed ADD answered and no HookRun more for 2 s. */
  settleSeconds: number;
  /** EventSource started → the hooks' memory written (nothing unwritten, nothing more stored for 2 s). */
  memoryWrittenSeconds: number;
  /** resource-hooks objects in the runner's namespace after the start (HookRuns and the hooks' memory). */
  storedObjects: number;
  storedBytes: number;
  /** kube-apiserver's apiserver_storage_size_bytes: growth from before the HookSet to settled. */
  etcdGrowthBytes: number;
  /** A change of one object made 1 s after the EventSource started → its effect at the sink. */
  changeDuringStartMs: number;
  /** `burst` objects changed at once (each fires two hooks): effects per second from the first write. */
  burstEffectsPerSecond: number;
  burstLastEffectAfterWritesMs: number;
  /** API writes during the burst, per effect, by resource (HookRuns, the hooks' memory, Events, the test's own patches …). */
  burstWritesPerEffect: Record<string, number>;
  /** During the burst: the runner's mean time from a request to its answer, by outcome, and the requests. */
  burstAccept: { persistedMs: number; persisted: number; noneMs: number; none: number };
  /** During the burst: the Sensor's mean time per trigger action (its post, answer included), and the actions. */
  burstSensorActionMs: number;
  burstSensorActions: number;
  /** CPU seconds during the burst (first write to last effect) by process, per effect in ms. */
  burstCpuMsPerEffect: Record<string, number>;
  /** The burst's runs: the last one accepted (HookRun created) after the last write, where the rest is execution. */
  burstLastAcceptAfterWritesMs: number;
  /**
   * The runner's RSS and V8 heap in use (MiB): when the start has settled, right after the burst,
   * and idle after it (see idleMemory); `burstPeakRss` is the most sampled during the burst.
   */
  runnerMemoryMiB: { settled: RunnerMemory; afterBurst: RunnerMemory; idle: RunnerMemory; burstPeakRss: number };
  /**
   * The most file descriptors the runner held during the burst (sampled every 100 ms): its
   * sockets. Each Sensor trigger keeps one connection when the runner's answer has no body;
   * otherwise every event opened one and Go held it until the trigger's timeout.
   */
  burstRunnerMaxFds: number;
}

interface RunnerMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
}

async function runnerMemory(runner: RunnerHandle): Promise<RunnerMemory> {
  const text = await runner.metrics();
  const mib = (name: string) => metricValue(text, name) / 2 ** 20;
  return {
    rss: rssMiB(runner.process.pid),
    heapUsed: mib("nodejs_heap_size_used_bytes"),
    heapTotal: mib("nodejs_heap_size_total_bytes"),
  };
}

/**
 * The runner's memory once it has been idle a while (V8 may collect meanwhile): what it keeps
 * between bursts, as `kubectl top` shows it. RSS is polled each second until it has not fallen
 * for 10 s (at most 60 s).
 */
async function idleMemory(runner: RunnerHandle): Promise<RunnerMemory> {
  const deadline = Date.now() + 60_000;
  let lowest = rssMiB(runner.process.pid);
  let lowestAt = Date.now();
  while (Date.now() - lowestAt < 10_000 && Date.now() < deadline) {
    await sleep(1_000);
    const rss = rssMiB(runner.process.pid);
    if (rss < lowest) [lowest, lowestAt] = [rss, Date.now()];
  }
  return runnerMemory(runner);
}

const NS = "scale";
const LABEL = "tier";
const PAGE = 64;

function hooksYaml(port: number, sinkUrl: string): string {
  const step = (hook: string) => `
      steps:
        - name: call
          http: {url: "${sinkUrl}/${hook}/{{ object.metadata.name }}/{{ object.data.v }}/{{ object.data.w }}"}`;
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: scale
  namespace: ${NS}
spec:
  runner:
    url: http://127.0.0.1:${port}
  hooks:
    - name: labelled-v
      on:
        resource: {version: v1, resource: configmaps, namespace: ${NS}, labels: {${LABEL}: web}}
        changed: ["data.v"]${step("labelled-v")}
    - name: labelled-w
      on:
        resource: {version: v1, resource: configmaps, namespace: ${NS}, labels: {${LABEL}: web}}
        changed: ["data.w"]${step("labelled-w")}
    - name: namespace-v
      on:
        resource: {version: v1, resource: configmaps, namespace: ${NS}}
        changed: ["data.v"]${step("namespace-v")}
`;
}

async function createObjects(stack: Stack, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        await stack.admin.call("POST", `/api/v1/namespaces/${NS}/configmaps`, {
          body: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `cm-${i}`, labels: { [LABEL]: "web" } },
            data: { v: "0", w: "0" },
          },
        });
      }
    }),
  );
}

/** Objects resource-hooks stored in the namespace, and their JSON size, read page by page. */
async function stored(stack: Stack): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  const { body } = await stack.apiGet("/apis/resource-hooks.io/v1alpha1");
  const resources = (JSON.parse(body) as { resources: Array<{ name: string }> }).resources
    .map((r) => r.name)
    .filter((name) => !name.includes("/"));
  for (const resource of resources) {
    let token = "";
    do {
      const query = `limit=${PAGE * 8}${token ? `&continue=${encodeURIComponent(token)}` : ""}`;
      const page = await stack.apiGet(`/apis/resource-hooks.io/v1alpha1/namespaces/${NS}/${resource}?${query}`);
      const list = JSON.parse(page.body) as { items: unknown[]; metadata: { continue?: string } };
      objects += list.items.length;
      for (const item of list.items) bytes += JSON.stringify(item).length;
      token = list.metadata.continue ?? "";
    } while (token);
  }
  return { objects, bytes };
}

async function etcdSize(stack: Stack): Promise<number> {
  return metricValue((await stack.apiGet("/metrics")).body, "apiserver_storage_size_bytes");
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

async function patch(stack: Stack, i: number, data: Record<string, string>): Promise<void> {
  await stack.admin.call("PATCH", `/api/v1/namespaces/${NS}/configmaps/cm-${i}`, {
    body: { data },
    contentType: "application/merge-patch+json",
  });
}

/** kube-apiserver's apiserver_request_total of writes (POST, PUT, PATCH, DELETE), by resource. */
async function apiWrites(stack: Stack): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await stack.apiGet("/metrics")).body.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    if (!["POST", "PUT", "PATCH", "DELETE"].includes(verb)) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
    const sub = /subresource="([^"]*)"/.exec(line)?.[1];
    const key = sub ? `${resource}/${sub}` : resource;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

/** The runner's resource_hooks_accept_duration_seconds, sum (s) and count by outcome. */
async function acceptTimes(
  runner: RunnerHandle,
): Promise<Record<"persisted" | "none", { sum: number; count: number }>> {
  const text = await runner.metrics();
  const of = (outcome: string) => ({
    sum: metricValue(text, "resource_hooks_accept_duration_seconds_sum", { outcome }),
    count: metricValue(text, "resource_hooks_accept_duration_seconds_count", { outcome }),
  });
  return { persisted: of("persisted"), none: of("none") };
}

/** Argo Events' argo_events_action_duration_milliseconds of the Sensor: sum (ms) and count over its triggers. */
async function sensorActions(sensor: ArgoProcess): Promise<{ sum: number; count: number }> {
  const text = await sensor.metrics();
  return {
    sum: metricValue(text, "argo_events_action_duration_milliseconds_sum"),
    count: metricValue(text, "argo_events_action_duration_milliseconds_count"),
  };
}

/**
 * Seconds from `started` until `probe` answered the same value for 2 s (undefined: not ready),
 * polled every 500 ms, the quiet 2 s not counted.
 */
async function quietFor(started: number, probe: () => Promise<number | undefined>): Promise<number> {
  let last: number | undefined;
  let since = performance.now();
  await until(
    "the scenario to go quiet",
    async () => {
      const value = await probe();
      if (value === undefined || value !== last) [last, since] = [value, performance.now()];
      return value !== undefined && performance.now() - since > 2_000 ? true : undefined;
    },
    1_800_000,
    500,
  );
  return (since - started) / 1000;
}

export interface ScaleEnv {
  deployed: DeployedHookSet;
  runner: RunnerHandle;
  sink: HttpSink;
  eventSource: ArgoProcess;
  sensor: ArgoProcess;
  figures: ScaleFigures;
  close(): Promise<void>;
}

/**
 * Runs the whole scenario on a fresh stack: objects first, then the HookSet, then the
 * measurements. Effects are checked exactly once: each changed object's effect arrives once per
 * hook that watches the changed field.
 */
export async function runScale(stack: Stack, n: number, burst = 500): Promise<ScaleEnv> {
  const token = randomBytes(24).toString("hex");
  const sensorAccount = { namespace: NS, name: "e2e-sensor" };
  const sink = await startHttpSink();
  const port = await freePort();
  const deployed = generateHookSet(stack, "scale", hooksYaml(port, sink.url));
  await stack.apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]);
  await stack.apply([{ apiVersion: "v1", kind: "ServiceAccount", metadata: sensorAccount }]);
  await createObjects(stack, n);
  const etcdBefore = await etcdSize(stack);
  await applyHookSet(stack, deployed, token);
  const runner = await startRunner(stack, {
    hooksFile: deployed.hooksFile,
    port,
    token,
    namespace: NS,
    kubeconfig: await runnerKubeconfig(stack, deployed),
    podName: "scale-runner-0",
  });
  const sensor = await stack.startSensor(deployed.sensor, { serviceAccount: sensorAccount });
  const eventSource = await stack.startEventSource(deployed.eventSource, {
    serviceAccount: eventSourceAccount(deployed),
  });
  const started = performance.now();

  // A real change during the start: object cm-0's data.v, 1 s in.
  await sleep(Math.max(0, 1_000 - (performance.now() - started)));
  const changedAt = performance.now();
  await patch(stack, 0, { v: "during-start" });
  const [during] = await sink.waitFor(1, 600_000);
  const changeDuringStartMs = during!.receivedAtPerf - changedAt;

  // Settled: the event source sent every ADD (one watch), the Sensor answered each, and no
  // HookRun is created any more. Then the hooks' memory written: the runner holds no unwritten
  // change and the stored objects stopped changing (its batches wait a few seconds).
  const watches = 1;
  const settleSeconds = await quietFor(started, async () => {
    const sent = metricValue(await eventSource.metrics(), "argo_events_events_sent_total");
    const sensorText = await sensor.metrics();
    const answered =
      metricValue(sensorText, "argo_events_action_triggered_total") +
      metricValue(sensorText, "argo_events_action_failed_total");
    return sent >= n * watches && answered >= sent ? (await runner.runs()).length : undefined;
  });
  const memoryWrittenSeconds = await quietFor(started, async () => {
    const unwritten = await runner.metric("resource_hooks_memory_unwritten_changes");
    return unwritten === 0 ? (await stored(stack)).bytes : undefined;
  });
  const { objects: storedObjects, bytes: storedBytes } = await stored(stack);
  const etcdGrowthBytes = (await etcdSize(stack)) - etcdBefore;
  const settledMemory = await runnerMemory(runner);

  // The burst: `burst` objects' data.v at once; each fires labelled-v and namespace-v.
  await sink.waitQuiet(2_000, 60_000);
  const before = sink.requests.length;
  const tag = randomBytes(3).toString("hex");
  const writesBefore = await apiWrites(stack);
  const acceptBefore = await acceptTimes(runner);
  const actionsBefore = await sensorActions(sensor);
  const cpu = cpuProbe();
  const profile = apiserverProfile(
    stack.adminKubeconfig,
    stack.caFile,
    `burst-${n}`,
    Number(process.env.E2E_APISERVER_PROFILE_SECONDS ?? 10),
  );
  let burstRunnerMaxFds = 0;
  let burstPeakRss = 0;
  const fdSampler = setInterval(() => {
    burstRunnerMaxFds = Math.max(burstRunnerMaxFds, openFds(runner.process.pid));
    burstPeakRss = Math.max(burstPeakRss, rssMiB(runner.process.pid));
  }, 100);
  const burstStart = performance.now();
  let next = 1;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next <= burst) await patch(stack, next++, { v: `b${tag}` });
    }),
  );
  const writesDone = performance.now();
  const writesDoneAt = Date.now();
  await sink.waitFor(before + 2 * burst, 600_000);
  const effects = sink.requests.slice(before, before + 2 * burst);
  const lastEffect = Math.max(...effects.map((r) => r.receivedAtPerf));
  const burstCpu = cpu();
  clearInterval(fdSampler);
  const writesAfter = await apiWrites(stack);
  const acceptAfter = await acceptTimes(runner);
  const actionsAfter = await sensorActions(sensor);
  const mean = (sum: number, count: number) => (count > 0 ? (sum / count) * 1000 : Number.NaN);
  const persisted = acceptAfter.persisted.count - acceptBefore.persisted.count;
  const none = acceptAfter.none.count - acceptBefore.none.count;
  const actions = actionsAfter.count - actionsBefore.count;
  // the burst's runs are the newest
  const lastAccept = Math.max(...(await runner.runs()).map((r) => Date.parse(r.spec.acceptedAt)));
  const figures: ScaleFigures = {
    objects: n,
    settleSeconds,
    memoryWrittenSeconds,
    storedObjects,
    storedBytes,
    etcdGrowthBytes,
    changeDuringStartMs,
    burstEffectsPerSecond: (2 * burst) / ((lastEffect - burstStart) / 1000),
    burstLastEffectAfterWritesMs: lastEffect - writesDone,
    burstLastAcceptAfterWritesMs: lastAccept - writesDoneAt,
    burstWritesPerEffect: Object.fromEntries(
      Object.entries(writesAfter)
        .map(([resource, count]) => [resource, (count - (writesBefore[resource] ?? 0)) / (2 * burst)] as const)
        .filter(([, perEffect]) => perEffect >= 0.01),
    ),
    burstAccept: {
      persistedMs: mean(acceptAfter.persisted.sum - acceptBefore.persisted.sum, persisted),
      persisted,
      noneMs: mean(acceptAfter.none.sum - acceptBefore.none.sum, none),
      none,
    },
    burstSensorActionMs: actions > 0 ? (actionsAfter.sum - actionsBefore.sum) / actions : Number.NaN,
    burstSensorActions: actions,
    burstCpuMsPerEffect: Object.fromEntries(
      Object.entries(burstCpu)
        .filter(([, seconds]) => seconds > 0)
        .map(([label, seconds]) => [label, (seconds * 1000) / (2 * burst)]),
    ),
    runnerMemoryMiB: {
      settled: settledMemory,
      afterBurst: await runnerMemory(runner),
      idle: await idleMemory(runner),
      burstPeakRss,
    },
    burstRunnerMaxFds,
  };
  await profile;
  return {
    deployed,
    runner,
    sink,
    eventSource,
    sensor,
    figures,
    close: async () => {
      await runner.stop();
      await sink.close();
    },
  };
}
