// Helpers of the end-to-end scenarios: a hooks.yaml generated and applied the way a user
// deploys it (`resource-hooks generate`, then the manifests, EventSource and Sensors), the
// runner started as a real child process (`resource-hooks serve`) under its generated
// ServiceAccount, and small readers for Prometheus metrics and the runner's /runs.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { generate, render, type GeneratedFile } from "../../src/generate/index.js";
import { writeOutput } from "../../src/cli/output-dir.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { parseHookSet } from "../../src/hookset/load.js";
import type { HookSet } from "../../src/hookset/types.js";
import { RUNNER_RESOURCES } from "../../src/generate/runner.js";
import { ENTRYPOINT, IMAGE_ENV } from "./components/kubelet.js";
import { memoryLimit, quantityBytes } from "./components/memory-limit.js";
import type { ArgoProcess, KubeObject, ManagedProcess, MountedData, Stack, StartPodOptions } from "./stack.js";
import { pollUntil } from "./stack.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export { freePort, sleep } from "./stack.js";

/** Polls `fn` until it returns something other than undefined. */
export function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  return pollUntil(what, timeoutMs, async () => fn(), intervalMs);
}

// ------------------------------------------------------------------ metrics

/**
 * Sum of the samples of a Prometheus metric whose labels include `labels` (text exposition
 * format; a missing series counts 0).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith("#")) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    const labelText = rest[0] === "{" ? rest.slice(1, rest.indexOf("}")) : "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

// ------------------------------------------------------------------ hook sets

export interface DeployedHookSet {
  hookSet: HookSet;
  /** Where hooks.yaml and the generated eventsources/, sensors/, manifests/ were written. */
  dir: string;
  hooksFile: string;
  files: GeneratedFile[];
  eventSource: KubeObject;
  /** The hook set's one Sensor (one trigger per watch). */
  sensor: KubeObject;
  /** Paths of the generated EventSource and Sensor files (for argo-events lint). */
  argoFiles: string[];
  /** Every object of manifests/ but the CRDs (RBAC, runner, ConfigMap, placeholder token Secret). */
  manifests: KubeObject[];
  /** The HookRun CRD (applied first, and only once per stack). */
  crds: KubeObject[];
}

/**
 * Writes `text` as <stack dir>/<name>/hooks.yaml and generates into that directory exactly what
 * `resource-hooks generate -f hooks.yaml --output-dir <dir>` writes.
 */
export function generateHookSet(stack: Stack, name: string, text: string): DeployedHookSet {
  const dir = path.join(stack.dir, "hooksets", name);
  mkdirSync(dir, { recursive: true });
  const hooksFile = path.join(dir, "hooks.yaml");
  writeFileSync(hooksFile, text);
  const hookSet = parseHookSet(text, hooksFile);
  const files = generate(hookSet);
  writeOutput(dir, render(files, "hooks.yaml"));
  const objectsOf = (prefix: string): KubeObject[] =>
    files.filter((f) => f.path.startsWith(prefix)).flatMap((f) => f.objects as KubeObject[]);
  const [eventSource] = objectsOf("eventsources/");
  if (!eventSource) throw new Error(`${name}: no EventSource generated`);
  const [sensor] = objectsOf("sensors/");
  if (!sensor) throw new Error(`${name}: no Sensor generated`);
  return {
    hookSet,
    dir,
    hooksFile,
    files,
    eventSource,
    sensor,
    argoFiles: files.filter((f) => /^(eventsources|sensors)\//.test(f.path)).map((f) => path.join(dir, f.path)),
    manifests: objectsOf("manifests/").filter(
      (o) => o.kind !== "Kustomization" && o.kind !== "CustomResourceDefinition",
    ),
    crds: objectsOf("manifests/").filter((o) => o.kind === "CustomResourceDefinition"),
  };
}

/**
 * Applies what a user applies: the manifests (runner and event-source RBAC, the runner's
 * Deployment/Service/ConfigMap) with the placeholder token Secret replaced by one holding
 * `Bearer <token>`, then the EventSource and Sensors (the CRDs accept them).
 */
export async function applyHookSet(stack: Stack, deployed: DeployedHookSet, token: string): Promise<void> {
  const { hookSet } = deployed;
  const secret = hookSet.runner.tokenSecret;
  await stack.apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: hookSet.namespace } }, ...deployed.crds]);
  await waitForCrd(stack, "hookruns.resource-hooks.io");
  await waitForCrd(stack, "hookmemories.resource-hooks.io");
  const manifests = deployed.manifests.filter((o) => !(o.kind === "Secret" && o.metadata?.name === secret.name));
  await stack.apply([
    ...manifests,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secret.name, namespace: hookSet.namespace },
      stringData: { [secret.key]: `Bearer ${token}` },
    },
    deployed.eventSource,
    deployed.sensor,
  ]);
}

/** A CRD serves its kind once it is Established. */
export async function waitForCrd(stack: Stack, name: string): Promise<void> {
  await until(
    `CRD ${name} established`,
    async () => {
      const crd = await stack.admin
        .get<KubeObject>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)
        .catch(() => undefined);
      const conditions =
        (crd?.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [];
      return conditions.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
    },
    30_000,
    100,
  );
  // Established is not yet served: for a moment after it, a list answers 429 "storage is
  // (re)initializing" (kube-apiserver v1.32), and a runner started then fails its first list.
  const crd = await stack.admin.get<{
    spec: { group: string; names: { plural: string }; versions: Array<{ name: string; served: boolean }> };
  }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  const version = crd.spec.versions.find((v) => v.served)?.name ?? "v1";
  await until(
    `CRD ${name} served`,
    async () =>
      (await stack.apiGet(`/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}?limit=1`)).status === 200
        ? true
        : undefined,
    30_000,
    100,
  );
}

/** The ServiceAccount the generated manifests give the event source. */
export function eventSourceAccount(deployed: DeployedHookSet): { namespace: string; name: string } {
  const spec = deployed.eventSource.spec as { template?: { serviceAccountName?: string } };
  const name = spec.template?.serviceAccountName;
  if (!name) throw new Error("the generated EventSource names no ServiceAccount");
  return { namespace: deployed.hookSet.namespace, name };
}

/** A kubeconfig holding a token of the generated runner Deployment's ServiceAccount: the runner's own access. */
export async function runnerKubeconfig(stack: Stack, deployed: DeployedHookSet): Promise<string> {
  const dep = deployed.manifests.find((o) => o.kind === "Deployment");
  const name = (dep?.spec as { template?: { spec?: { serviceAccountName?: string } } } | undefined)?.template?.spec
    ?.serviceAccountName;
  if (!name) throw new Error("the generated runner Deployment names no ServiceAccount");
  return stack.kubeconfigForServiceAccount(deployed.hookSet.namespace, name);
}

/** Starts the generated EventSource and the hook set's Sensor as pods. */
export async function startArgo(
  stack: Stack,
  deployed: DeployedHookSet,
  opts: { sensorAccount: { namespace: string; name: string }; sensorOptions?: StartPodOptions; sensor?: KubeObject },
): Promise<{ eventSource: ArgoProcess; sensor: ArgoProcess }> {
  const eventSource = await stack.startEventSource(deployed.eventSource, {
    serviceAccount: eventSourceAccount(deployed),
  });
  const sensor = await stack.startSensor(opts.sensor ?? deployed.sensor, {
    serviceAccount: opts.sensorAccount,
    ...opts.sensorOptions,
  });
  return { eventSource, sensor };
}

// ------------------------------------------------------------------ the runner

export interface RunnerOptions {
  hooksFile: string;
  port: number;
  /** The token the runner accepts (written to its --token-file as `Bearer <token>`). */
  token: string;
  /** Run-store namespace (--namespace). */
  namespace: string;
  /** kubeconfig the runner uses (e.g. its generated ServiceAccount's). */
  kubeconfig: string;
  /** POD_NAME: the run store's holder identity; a restarted container keeps it. */
  podName: string;
  /** Files of the mounted step secrets: <secrets-dir>/<name>/<key>. */
  secrets?: MountedData;
  extraArgs?: string[];
}

export interface RunnerHandle {
  readonly url: string;
  readonly options: RunnerOptions;
  readonly process: ManagedProcess;
  /** The generated Deployment's memory limit, when a memory cgroup holds the runner to it (components/memory-limit.ts). */
  readonly memoryLimit: string | undefined;
  metrics(): Promise<string>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** GET /runs (newest first), optionally of one hook. */
  runs(hook?: string): Promise<HookRun[]>;
  /** SIGKILL (a crash: no drain, nothing released). */
  kill(): Promise<void>;
  /** SIGTERM: drains in-flight runs, then exits. */
  stop(): Promise<void>;
}

let runnerCount = 0;

/**
 * `node dist/cli/main.js serve …` (the image's ENTRYPOINT) as a child process of the stack (logs in its
 * logs dir and in failure reports); resolves once /readyz answers 200.
 */
export async function startRunner(stack: Stack, options: RunnerOptions): Promise<RunnerHandle> {
  runnerCount += 1;
  const dir = path.join(stack.dir, "runner", `${options.podName}-${runnerCount}`);
  const secretsDir = path.join(dir, "secrets");
  mkdirSync(secretsDir, { recursive: true });
  for (const [name, keys] of Object.entries(options.secrets ?? {})) {
    mkdirSync(path.join(secretsDir, name), { recursive: true });
    for (const [key, value] of Object.entries(keys))
      writeFileSync(path.join(secretsDir, name, key), value, { mode: 0o600 });
  }
  const tokenFile = path.join(dir, "token");
  writeFileSync(tokenFile, `Bearer ${options.token}`, { mode: 0o600 });
  const url = `http://127.0.0.1:${options.port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...IMAGE_ENV, POD_NAME: options.podName, LOG_LEVEL: "info" };
  delete env.KUBECONFIG;
  delete env.POD_NAMESPACE;
  const limit = memoryLimit(`runner-${runnerCount}`, quantityBytes(RUNNER_RESOURCES.limits.memory));
  const proc = stack.spawn({
    name: `runner-${options.podName}-${runnerCount}`,
    ...limit.wrap(process.execPath, [
      // E2E_RUNNER_CPU_PROF=<dir>: a V8 CPU profile of each runner, written when it exits
      ...(process.env.E2E_RUNNER_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.E2E_RUNNER_CPU_PROF] : []),
      // E2E_RUNNER_NODE_ARGS="--trace-gc …": more Node options for each runner (NODE_OPTIONS refuses some)
      ...(process.env.E2E_RUNNER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
      ENTRYPOINT[1],
      "serve",
      "-f",
      options.hooksFile,
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--token-file",
      tokenFile,
      "--store",
      "kubernetes",
      "--namespace",
      options.namespace,
      "--kubeconfig",
      options.kubeconfig,
      "--secrets-dir",
      secretsDir,
      ...(options.extraArgs ?? []),
    ]),
    env,
    cwd: REPO_ROOT,
  });
  // however the runner ends (stop(), kill(), the stack's stop): its cgroup goes with it
  void proc.exited.then(() => limit.remove());
  const get = async (p: string, auth = false): Promise<Response> =>
    fetch(`${url}${p}`, {
      headers: auth ? { authorization: `Bearer ${options.token}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
  await until(
    `runner ${options.podName} /readyz`,
    async () => {
      if (!proc.isRunning()) throw new Error(`the runner exited:\n${proc.logs().slice(-3000)}`);
      const r = await get("/readyz").catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    60_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n----- runner log -----\n${proc.logs().slice(-3000)}`);
  });
  const metrics = async (): Promise<string> => (await get("/metrics")).text();
  return {
    url,
    options,
    process: proc,
    memoryLimit: limit.limited ? RUNNER_RESOURCES.limits.memory : undefined,
    metrics,
    metric: async (name, labels) => metricValue(await metrics(), name, labels),
    runs: async (hook) => {
      const r = await get(`/runs${hook ? `?hook=${encodeURIComponent(hook)}` : ""}`, true);
      if (r.status !== 200) throw new Error(`GET /runs: ${r.status}`);
      return ((await r.json()) as { runs: HookRun[] }).runs;
    },
    kill: async () => {
      await proc.kill();
    },
    stop: async () => {
      await proc.stop(35_000);
    },
  };
}

/** Waits for a run of `hook` that satisfies `pred` in the runner's /runs. */
export function waitForRun(
  runner: RunnerHandle,
  hook: string,
  pred: (r: HookRun) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<HookRun> {
  return until(`a run of ${hook} on ${runner.url}`, async () => (await runner.runs(hook)).find(pred), timeoutMs, 200);
}

/** Prints a measured figure so it shows in CI output. */
export function figure(label: string, value: string | number): void {
  console.log(`[e2e figure] ${label}: ${typeof value === "number" ? value.toFixed(0) : value}`);
}
