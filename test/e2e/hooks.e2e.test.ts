// resource-hooks on the real engine ("Prove it on the real engine"): a hooks.yaml generated and
// applied as a user would (the HookRun CRD, runner and event-source RBAC, the EventSource and the
// hook set's one Sensor), Argo Events v1.9.11's eventsource-service and sensor-service as pods,
// and the runner as a real `resource-hooks serve` process under its generated ServiceAccount with
// the HookRun store. The Sensor's runner URL is a recording front door that forwards to the
// runner, so requests that reach the runner are counted on the only way in. Each scenario asserts
// what the sinks received and what the API server holds (HookRuns, Jobs, Events), and prints its
// figures (look for "[e2e figure]" in the output).
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { generate, render } from "../../src/generate/index.js";
import { writeOutput } from "../../src/cli/output-dir.js";
import { stepIdempotencyKey } from "../../src/runner/execute.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { loadHookSetFile } from "../../src/hookset/load.js";
import { deterministicName } from "../../src/steps/kubernetes/index.js";
import { resourceEventRequest, sendEvent, watchPathOf, type AcceptAnswer } from "../../src/testing/index.js";
import { changesStreamName, watchPath } from "../../src/model/names.js";
import { startFrontDoor, type FrontDoor } from "./front-door.js";
import { useStack } from "./harness.js";
import {
  applyHookSet,
  figure,
  freePort,
  generateHookSet,
  metricValue,
  percentile,
  runnerKubeconfig,
  startArgo,
  startRunner,
  until,
  waitForRun,
  type DeployedHookSet,
  type RunnerHandle,
} from "./hooks-env.js";
import { startHttpSink, type ArgoProcess, type HttpSink, type KubeObject, type RecordedRequest } from "./stack.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = "argo-events"; // the HookSet's namespace: runner, EventSource, Sensor, HookRuns
const STALE_NS = "argo-events-old"; // an older install of the same hook set, with a token since rotated
const WEB = "web"; // the watched namespace
const TOKEN = randomBytes(24).toString("hex");
const CLOUDFLARE_TOKEN = "cf-e2e-token";
const ZONE = "023e105f4ecef8ad9ca31a8372d0c353";
const POD_NAME = "e2e-runner-6f9c7d5b8-x2k4q";
const SENSOR_ACCOUNT = { namespace: NS, name: "e2e-sensor" }; // no RBAC at all: sensors need none
const DEPLOYMENTS = "deployments-web"; // the watches (EventSource events, Sensor triggers, runner routes)
const CONFIGMAPS = "configmaps-web";
const HOOKRUNS = `/apis/resource-hooks.io/v1alpha1/namespaces/${NS}/hookruns`;

const stack = useStack();

const sinks = {} as Record<"cdn" | "spec" | "migrate" | "probe" | "latency", HttpSink>;
let door: FrontDoor;
let deployed: DeployedHookSet;
let runner: RunnerHandle;
let eventSource: ArgoProcess;
let sensor: ArgoProcess;
const watchBaseline = { deployments: 0, configmaps: 0 };

function hooksYaml(): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e
  namespace: ${NS}
spec:
  runner:
    url: ${door.url}
  hooks:
    # Scenario 1: after frontend's image changed and the rollout finished, purge the CDN.
    - name: purge-cdn-on-image-change
      on:
        resource: {group: apps, version: v1, resource: deployments, namespace: ${WEB}, name: frontend}
        events: [update]
        changed: ["spec.template.spec.containers[0].image"]
      steps:
        - name: rollout
          waitFor: {for: rollout, timeout: 2m}
          timeout: 150s
          retries: 0
        - name: purge
          cdnPurge:
            provider: cloudflare
            zoneId: ${ZONE}
            prefixes: ["www.example.com/"]
            token: {secretKeyRef: {name: cdn-credentials, key: cloudflare-token}}
    # The same Deployment, no 'changed': fires on spec (generation) changes. Shares the watch.
    - name: notify-spec-change
      on:
        resource: {group: apps, version: v1, resource: deployments, namespace: ${WEB}, name: frontend}
      steps:
        - name: notify
          http:
            url: ${sinks.spec.url}/spec-change
            body: {generation: "{{ object.metadata.generation }}", image: "{{ object.spec.template.spec.containers[0].image }}"}
          retries: 0
    # Scenario 3: a ConfigMap's data changed -> a Job, created once per change.
    - name: reload-config-job
      on:
        resource: {version: v1, resource: configmaps, namespace: ${WEB}, name: app-config}
        changed: ['data["app.properties"]']
      steps:
        - name: reload
          kubernetes:
            action: create
            manifest:
              apiVersion: batch/v1
              kind: Job
              metadata:
                generateName: reload-config-
                namespace: ${WEB}
                labels: {app.kubernetes.io/part-of: e2e-reload}
              spec:
                backoffLimit: 0
                template:
                  spec:
                    restartPolicy: Never
                    containers:
                      - name: reload
                        image: registry.example/web-tools:1.0
                        args: ["reload", "--config-version", "{{ object.metadata.resourceVersion }}"]
    # Scenario 5: a step that blocks until the Job it created completes (a gate the test holds).
    - name: migrate-once
      on:
        resource: {version: v1, resource: configmaps, namespace: ${WEB}, name: release}
        changed: [data.version]
      steps:
        - name: migrate
          kubernetes:
            action: create
            manifest:
              apiVersion: batch/v1
              kind: Job
              metadata:
                generateName: migrate-
                namespace: ${WEB}
                labels: {app.kubernetes.io/part-of: e2e-migrate}
              spec:
                backoffLimit: 0
                template:
                  spec:
                    restartPolicy: Never
                    containers: [{name: migrate, image: registry.example/migrate:1.0}]
            wait: {for: complete, timeout: 2m}
          timeout: 150s
          retries: 0
        - name: announce
          http:
            url: ${sinks.migrate.url}/migrated
            body: {version: "{{ object.data.version }}", job: "{{ steps.migrate.output.name }}"}
    # Scenario 7: one http step, for latency.
    - name: latency-probe
      on:
        resource: {version: v1, resource: configmaps, namespace: ${WEB}, name: latency}
        changed: [data.n]
      steps:
        - name: ping
          http: {url: "${sinks.latency.url}/latency", body: {n: "{{ object.data.n }}"}}
          retries: 0
`;
}

/**
 * Scenario 6: the same hook set (same name, so its Sensor posts to the routes this runner serves)
 * as an older install left it in another namespace, with a token the runner no longer has. Its
 * one hook watches a ConfigMap that no hook of the current install watches.
 */
function staleInstallYaml(): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e
  namespace: ${STALE_NS}
spec:
  runner:
    url: ${door.url}
  hooks:
    - name: unauthorized-probe
      on:
        resource: {version: v1, resource: configmaps, namespace: ${WEB}, name: probe}
        changed: [data]
      steps:
        - name: call
          http: {url: "${sinks.probe.url}/probe", body: {data: "{{ object.data }}"}}
`;
}

function frontend(image: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "frontend", namespace: WEB, labels: { app: "frontend", team: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "frontend" } },
      template: { metadata: { labels: { app: "frontend" } }, spec: { containers: [{ name: "web", image }] } },
    },
  };
}

const configMap = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: WEB },
  data,
});

const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${WEB}/deployments/frontend`;
const JOBS_PATH = `/apis/batch/v1/namespaces/${WEB}/jobs`;

async function getJson<T = KubeObject>(p: string): Promise<T> {
  return stack().admin.get<T>(p);
}

/** Writes status through the status subresource, as the Deployment / Job controller would. */
async function writeStatus(objectPath: string, status: Record<string, unknown>): Promise<void> {
  await stack().admin.call("PATCH", `${objectPath}/status`, {
    body: { status },
    contentType: "application/merge-patch+json",
  });
}

async function mergePatch(objectPath: string, patch: Record<string, unknown>): Promise<KubeObject> {
  return stack().admin.call<KubeObject>("PATCH", `${objectPath}?fieldManager=e2e-edit`, {
    body: patch,
    contentType: "application/merge-patch+json",
  });
}

function rolledOut(generation: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    observedGeneration: generation,
    replicas: 2,
    updatedReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    ...extra,
  };
}

async function jobsLabelled(partOf: string): Promise<KubeObject[]> {
  const list = await getJson<{ items: KubeObject[] }>(
    `${JOBS_PATH}?labelSelector=${encodeURIComponent(`app.kubernetes.io/part-of=${partOf}`)}`,
  );
  return list.items;
}

async function hookRun(name: string): Promise<HookRun> {
  return getJson<HookRun>(`${HOOKRUNS}/${name}`);
}

/** The runner's route of a watch, as the Sensor's trigger posts to it. */
const route = (watch: string): string => watchPath({ namespace: NS, name: "e2e" }, watch);

/** Trigger attempts of the Sensor's trigger of one watch (per trigger since one Sensor serves all watches). */
/** A watch's two streams: its entry (ADDs, DELETEs) and its changes stream (UPDATEs, DELETEs). */
const streams = (watch: string): string[] => [watch, changesStreamName(watch)];

/** Attempts of the Sensor's triggers of a watch, both streams. */
async function triggerAttempts(watch: string, s: ArgoProcess = sensor): Promise<{ triggered: number; failed: number }> {
  const text = await s.metrics();
  const sum = (metric: string) =>
    streams(watch).reduce((n, name) => n + metricValue(text, metric, { trigger_name: name }), 0);
  return { triggered: sum("argo_events_action_triggered_total"), failed: sum("argo_events_action_failed_total") };
}

/** Events the event source published for a watch, both streams. */
const eventsSent = async (es: ArgoProcess, watch: string): Promise<number> => {
  const text = await es.metrics();
  return streams(watch).reduce(
    (n, name) => n + metricValue(text, "argo_events_events_sent_total", { event_name: name }),
    0,
  );
};

/** Requests of a watch's two triggers that reached the runner. */
const requestsAt = (watch: string): number => streams(watch).reduce((n, name) => n + door.count(route(watch), name), 0);

/** HookRuns of a hook as the runner lists them that are not a baseline (Skipped). */
async function firedRuns(hook: string): Promise<HookRun[]> {
  return (await runner.runs(hook)).filter((r) => r.status.phase !== "Skipped");
}

beforeAll(async () => {
  const s = stack();
  for (const name of ["cdn", "spec", "migrate", "probe", "latency"] as const) sinks[name] = await startHttpSink();
  // Cloudflare's purge_cache answer
  sinks.cdn.respondWith({
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ success: true, errors: [], messages: [], result: { id: "purge-e2e" } }),
  });
  const runnerPort = await freePort();
  door = await startFrontDoor(`http://127.0.0.1:${runnerPort}`);
  deployed = generateHookSet(s, "e2e", hooksYaml());

  await s.apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: WEB } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: SENSOR_ACCOUNT },
  ]);
  await applyHookSet(s, deployed, TOKEN);

  // the watched objects, as they are before the scenarios change them
  await s.apply([
    frontend("registry.example/frontend:1.4.0"),
    configMap("app-config", { "app.properties": "color=blue\n" }),
    configMap("release", { version: "1" }),
    configMap("probe", { v: "0" }),
    configMap("latency", { n: "0" }),
  ]);
  await writeStatus(DEPLOYMENT_PATH, rolledOut(1));

  let t = performance.now();
  runner = await startRunner(s, {
    hooksFile: deployed.hooksFile,
    port: runnerPort,
    token: TOKEN,
    namespace: NS,
    kubeconfig: await runnerKubeconfig(s, deployed),
    podName: POD_NAME,
    secrets: { "cdn-credentials": { "cloudflare-token": CLOUDFLARE_TOKEN } },
    extraArgs: ["--cloudflare-url", sinks.cdn.url],
  });
  figure("runner start until /readyz (ms)", performance.now() - t);

  watchBaseline.deployments = await s.watchCount("deployments", "apps");
  watchBaseline.configmaps = await s.watchCount("configmaps");
  t = performance.now();
  ({ eventSource, sensor } = await startArgo(s, deployed, { sensorAccount: SENSOR_ACCOUNT }));
  figure("event source + the hook set's Sensor ready (ms)", performance.now() - t);
});

afterAll(async () => {
  await Promise.all(Object.values(sinks).map((x) => x?.close()));
  await door?.close();
});

describe("generated objects", () => {
  it("argo-events lint --strict accepts every generated EventSource and Sensor (examples/hooks.yaml and the e2e hook sets)", async () => {
    const examplesDir = path.join(stack().dir, "hooksets", "examples");
    writeOutput(
      examplesDir,
      render(generate(loadHookSetFile(path.join(REPO_ROOT, "examples/hooks.yaml"))), "examples/hooks.yaml"),
    );
    const stale = generateHookSet(stack(), "e2e-stale", staleInstallYaml());
    const exampleFiles = ["eventsources", "sensors"].flatMap((d) =>
      readdirSync(path.join(examplesDir, d)).map((f) => path.join(examplesDir, d, f)),
    );
    const files = [...exampleFiles, ...deployed.argoFiles, ...stale.argoFiles];
    expect(exampleFiles.length).toBeGreaterThanOrEqual(2);
    const lint = await stack().lint(files, { strict: true });
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
    figure("files linted with argo-events lint --strict", files.length);
  });

  it("hooks on the same resource share one watch: one EventSource event and its changes stream, one runner route", async () => {
    const es = deployed.eventSource.spec as { resource: Record<string, { resource: string }> };
    // 5 hooks, 2 selectors (frontend's Deployment twice; three ConfigMaps of namespace web)
    expect(deployed.hookSet.hooks).toHaveLength(5);
    const streams = [CONFIGMAPS, `${CONFIGMAPS}_changes`, DEPLOYMENTS, `${DEPLOYMENTS}_changes`];
    expect(Object.keys(es.resource).sort()).toEqual(streams);
    const spec = deployed.sensor.spec as {
      dependencies: Array<{ name: string }>;
      triggers: Array<{ template: { name: string; http: { url: string } } }>;
    };
    expect(spec.dependencies.map((d) => d.name).sort()).toEqual(streams);
    expect(spec.triggers.map((t) => [t.template.name, t.template.http.url]).sort()).toEqual([
      [CONFIGMAPS, `${door.url}${route(CONFIGMAPS)}`],
      [`${CONFIGMAPS}_changes`, `${door.url}${route(CONFIGMAPS)}`],
      [DEPLOYMENTS, `${door.url}${route(DEPLOYMENTS)}`],
      [`${DEPLOYMENTS}_changes`, `${door.url}${route(DEPLOYMENTS)}`],
    ]);
    // an informer per stream
    expect((await stack().watchCount("deployments", "apps")) - watchBaseline.deployments).toBe(2);
    expect((await stack().watchCount("configmaps")) - watchBaseline.configmaps).toBe(2);
    expect(eventSource.isRunning()).toBe(true);
    expect(sensor.isRunning()).toBe(true);
  });

  it("objects that predate the runner run nothing when the event source starts", async () => {
    const runs = await runner.runs();
    figure("HookRuns after the event source started (baselines only)", runs.length);
    expect(runs.filter((r) => r.status.phase !== "Skipped")).toEqual([]);
    expect(Object.values(sinks).reduce((n, x) => n + x.requests.length, 0)).toBe(0);
    expect(await jobsLabelled("e2e-reload")).toEqual([]);
  });
});

describe("scenarios", () => {
  let purgeRun: HookRun;

  it("1: an image change purges the CDN exactly once, and only after the rollout finished", async () => {
    const specBefore = sinks.spec.requests.length;
    const requestsBefore = requestsAt(DEPLOYMENTS);
    const t0 = performance.now();
    await stack().apply([frontend("registry.example/frontend:1.5.0")]);
    const dep = await getJson(DEPLOYMENT_PATH);
    expect(dep.metadata?.generation).toBe(2);
    const identity = `${dep.metadata?.uid}@${dep.metadata?.resourceVersion}`;

    // the sibling hook (same watch, no 'changed') fires at once: the event went through
    await sinks.spec.waitFor(specBefore + 1, 30_000);
    expect(sinks.spec.requests[specBefore]!.json).toEqual({ generation: 2, image: "registry.example/frontend:1.5.0" });
    await waitForRun(
      runner,
      "notify-spec-change",
      (r) => r.spec.identity === identity && r.status.phase === "Succeeded",
    );
    // the purge hook's run is Running, waiting for the rollout
    const waiting = await waitForRun(
      runner,
      "purge-cdn-on-image-change",
      (r) => r.spec.identity === identity && r.status.phase === "Running",
      30_000,
    );
    figure("scenario 1: image write -> purge run Running (ms)", performance.now() - t0);
    // one event, one request for both hooks (on the watch's changes stream)
    expect(requestsAt(DEPLOYMENTS) - requestsBefore).toBe(1);
    expect(waiting.status.steps).toEqual([]);

    // the controller observes the new generation; the rollout is under way, not done
    await writeStatus(
      DEPLOYMENT_PATH,
      rolledOut(2, { replicas: 3, updatedReplicas: 1, availableReplicas: 2, readyReplicas: 2 }),
    );
    // the rollout step polls the Deployment: give it a few looks at the unfinished rollout
    await sinks.cdn.waitQuiet(2_000);
    expect(sinks.cdn.requests, "no purge before the rollout holds").toHaveLength(0);

    const tRolledOut = performance.now();
    await writeStatus(DEPLOYMENT_PATH, rolledOut(2));
    const [purge] = await sinks.cdn.waitFor(1, 30_000);
    expect(purge!.receivedAtPerf).toBeGreaterThan(tRolledOut);
    figure("scenario 1: rollout status write -> purge request (ms)", purge!.receivedAtPerf - tRolledOut);
    expect(purge!.method).toBe("POST");
    expect(purge!.path).toBe(`/client/v4/zones/${ZONE}/purge_cache`);
    expect(purge!.headers.authorization).toBe(`Bearer ${CLOUDFLARE_TOKEN}`);
    expect(purge!.json).toEqual({ prefixes: ["www.example.com/"] });

    purgeRun = await waitForRun(
      runner,
      "purge-cdn-on-image-change",
      (r) => r.spec.identity === identity && r.status.phase !== "Running",
      30_000,
    );
    expect(purgeRun.status.phase).toBe("Succeeded");
    expect(purgeRun.status.steps.map((x) => [x.name, x.phase, x.attempts])).toEqual([
      ["rollout", "Succeeded", 1],
      ["purge", "Succeeded", 1],
    ]);
    await sinks.cdn.waitQuiet(3_000);
    expect(sinks.cdn.requests).toHaveLength(1);
    expect(sinks.spec.requests).toHaveLength(specBefore + 1);
    expect(await firedRuns("purge-cdn-on-image-change")).toHaveLength(1);
  });

  it("the runner records HookSucceeded on the Deployment, and keeps the completed steps in the HookRun", async () => {
    type Ev = KubeObject & {
      reason?: string;
      message?: string;
      involvedObject?: { kind?: string; name?: string; uid?: string; apiVersion?: string };
    };
    const eventsOf = async (namespace: string, name: string): Promise<Ev[]> =>
      (
        await getJson<{ items: Ev[] }>(
          `/api/v1/namespaces/${namespace}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name},reason=HookSucceeded`)}`,
        )
      ).items;
    const onDeployment = await until(
      "a HookSucceeded Event on web/frontend",
      async () => {
        const items = await eventsOf(WEB, "frontend");
        return items.some((e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "purge-cdn-on-image-change")
          ? items
          : undefined;
      },
      15_000,
    );
    const dep = await getJson(DEPLOYMENT_PATH);
    const event = onDeployment.find(
      (e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "purge-cdn-on-image-change",
    )!;
    expect(event.involvedObject).toMatchObject({ kind: "Deployment", name: "frontend", uid: dep.metadata?.uid });
    expect(event.message).toBe(`hook purge-cdn-on-image-change succeeded (2 steps, run ${purgeRun.metadata.name})`);
    expect(onDeployment.some((e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "notify-spec-change")).toBe(
      true,
    );

    // a success is said on the object; the HookRun's own status says it already
    expect(await eventsOf(NS, purgeRun.metadata.name)).toEqual([]);

    // what the API server holds: the run, its steps and their outputs, no claim any more
    const stored = await hookRun(purgeRun.metadata.name);
    expect(stored.spec).toMatchObject({
      hookSet: "e2e",
      hook: "purge-cdn-on-image-change",
      subject: "Deployment web/frontend",
    });
    expect(stored.status).toMatchObject({ phase: "Succeeded", attempts: 1 });
    expect(stored.status.claim).toBeUndefined();
    expect(stored.status.steps.map((s) => [s.name, s.phase])).toEqual([
      ["rollout", "Succeeded"],
      ["purge", "Succeeded"],
    ]);
    expect(stored.status.conditions).toEqual([expect.objectContaining({ type: "Succeeded", status: "True" })]);
    // the step secret (the Cloudflare token) is nowhere in the run
    expect(JSON.stringify(stored)).not.toContain(CLOUDFLARE_TOKEN);
    const all = await getJson<{ items: HookRun[] }>(
      `${HOOKRUNS}?labelSelector=${encodeURIComponent("resource-hooks.io/hookset=e2e")}`,
    );
    figure("HookRuns in argo-events after scenario 1 (runs, baselines, first-served markers)", all.items.length);
    expect(
      all.items
        .filter((r) => r.metadata.labels["resource-hooks.io/marker"])
        .map((r) => r.metadata.name)
        .sort(),
    ).toEqual(deployed.hookSet.hooks.map((h) => `${h.name}-first-served`).sort());
    // run records are HookRuns now: no Leases
    const leases = await getJson<{ items: KubeObject[] }>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`);
    expect(leases.items).toEqual([]);
  });

  it("2: status-only and label-only updates reach neither the Sensor's trigger nor the runner (the Lua filter stops them)", async () => {
    const before = {
      sent: await eventsSent(eventSource, DEPLOYMENTS),
      trigger: await triggerAttempts(DEPLOYMENTS),
      door: requestsAt(DEPLOYMENTS),
      runs: (await runner.runs()).length,
      cdn: sinks.cdn.requests.length,
      spec: sinks.spec.requests.length,
    };
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      await writeStatus(
        DEPLOYMENT_PATH,
        rolledOut(2, {
          conditions: [
            {
              type: "Available",
              status: "True",
              reason: "MinimumReplicasAvailable",
              message: `status write ${i}`,
              lastUpdateTime: now,
              lastTransitionTime: now,
            },
          ],
        }),
      );
    }
    for (let i = 0; i < 5; i++) await mergePatch(DEPLOYMENT_PATH, { metadata: { labels: { "e2e-touch": String(i) } } });
    expect((await getJson(DEPLOYMENT_PATH)).metadata?.generation, "no spec change").toBe(2);
    // A fence: one spec change after them, on the same watch. The Sensor handles a dependency's
    // events in order, so once the fence has been triggered the 25 updates before it were decided.
    await mergePatch(DEPLOYMENT_PATH, { spec: { replicas: 3 } });

    await until(
      "26 deployment events published",
      async () => ((await eventsSent(eventSource, DEPLOYMENTS)) - before.sent >= 26 ? true : undefined),
      30_000,
      200,
    );
    await sinks.spec.waitFor(before.spec + 1, 30_000);
    await until(
      "the fence's trigger done",
      async () => ((await triggerAttempts(DEPLOYMENTS)).triggered > before.trigger.triggered ? true : undefined),
      30_000,
      100,
    );
    const sent = (await eventsSent(eventSource, DEPLOYMENTS)) - before.sent;
    const after = await triggerAttempts(DEPLOYMENTS);
    const reached = requestsAt(DEPLOYMENTS) - before.door;
    figure("scenario 2: updates written (20 status-only, 5 label-only) + 1 spec change", 26);
    figure("scenario 2: events the event source published", sent);
    figure(
      "scenario 2: trigger attempts of the Sensor's deployments trigger",
      after.triggered + after.failed - before.trigger.triggered - before.trigger.failed,
    );
    figure("scenario 2: requests that reached the runner", reached);
    figure("scenario 2: duration (ms)", performance.now() - t0);
    expect(sent).toBe(26);
    expect(after.triggered - before.trigger.triggered).toBe(1); // the fence only
    expect(after.failed - before.trigger.failed).toBe(0);
    expect(reached).toBe(1); // the fence only
    expect(sinks.spec.requests.at(-1)!.json).toEqual({ generation: 3, image: "registry.example/frontend:1.5.0" });
    expect(sinks.spec.requests).toHaveLength(before.spec + 1);
    expect(sinks.cdn.requests).toHaveLength(before.cdn); // the image did not change again
    await until(
      "the fence's run recorded",
      async () => ((await runner.runs()).length > before.runs ? true : undefined),
      10_000,
    );
    expect((await runner.runs()).length - before.runs).toBe(1); // notify-spec-change for the fence
  });

  it("3: a ConfigMap data change creates its Job exactly once, however often the event is delivered", async () => {
    const cmPath = `/api/v1/namespaces/${WEB}/configmaps/app-config`;
    const oldCm = await getJson(cmPath);
    await stack().apply([configMap("app-config", { "app.properties": "color=green\n" })]);
    const newCm = await getJson(cmPath);
    const identity = `${newCm.metadata?.uid}@${newCm.metadata?.resourceVersion}`;

    const run = await waitForRun(
      runner,
      "reload-config-job",
      (r) => r.spec.identity === identity && r.status.phase === "Succeeded",
    );
    const key = stepIdempotencyKey("reload-config-job", identity, "reload");
    const name = deterministicName("reload-config-", key);
    let jobs = await jobsLabelled("e2e-reload");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([name]);
    expect(jobs[0]!.metadata?.annotations?.["resource-hooks.io/idempotency-key"]).toBe(key);
    const args = (jobs[0]!.spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec
      .containers[0]!.args;
    expect(args).toEqual(["reload", "--config-version", newCm.metadata?.resourceVersion]);
    expect(run.status.steps).toEqual([
      expect.objectContaining({ name: "reload", phase: "Succeeded", output: expect.objectContaining({ name }) }),
    ]);

    // the same CloudEvent again (a Sensor redelivery), and the same change under a new event id
    // (an event source that restarted and listed again): both find the run by its identity
    const path = watchPathOf(deployed.hookSet, "reload-config-job");
    expect(path).toBe(route(CONFIGMAPS));
    const request = (id: string) =>
      resourceEventRequest(
        {
          type: "UPDATE",
          object: newCm,
          oldObject: oldCm,
          group: "",
          version: "v1",
          resource: "configmaps",
          id,
          source: "e2e",
          subject: CONFIGMAPS,
        },
        TOKEN,
      );
    for (const id of [run.spec.eventId, `replayed-${run.spec.eventId}`]) {
      const again = await sendEvent(runner.url, path, request(id));
      expect(again.status).toBe(202);
      expect((again.body as AcceptAnswer).runs).toEqual([
        { name: run.metadata.name, hook: "reload-config-job", phase: "Succeeded", created: false },
      ]);
    }

    // even with the HookRun gone, the hook's memory (its HookMemory entry) knows this change was
    // handled: a fourth delivery fires nothing and no second Job is created
    await stack().admin.call("DELETE", `${HOOKRUNS}/${run.metadata.name}`);
    await until(
      "the runner no longer lists the deleted run",
      async () =>
        (await runner.runs("reload-config-job")).some((r) => r.metadata.name === run.metadata.name) ? undefined : true,
      20_000,
      100,
    );
    const fourth = await sendEvent(runner.url, path, request(run.spec.eventId));
    expect(fourth.status).toBe(200);
    expect((fourth.body as AcceptAnswer).runs).toEqual([]);
    // (the other hooks of the watch select other ConfigMaps and say so)
    expect((fourth.body as AcceptAnswer).skipped.filter((x) => x.hook === "reload-config-job")).toEqual([
      { hook: "reload-config-job", reason: expect.stringMatching(/already handled/) },
    ]);

    jobs = await jobsLabelled("e2e-reload");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([name]);
    figure("scenario 3: deliveries of one change / Jobs created", `4 / ${jobs.length}`);
  });

  it("5: a runner killed (SIGKILL) mid-step is restarted and resumes its run at once; the Job exists once, the Sensor sent once", async () => {
    const triggerBefore = await triggerAttempts(CONFIGMAPS);
    const doorBefore = requestsAt(CONFIGMAPS);
    const t0 = performance.now();
    await stack().apply([configMap("release", { version: "2" })]);
    const cm = await getJson(`/api/v1/namespaces/${WEB}/configmaps/release`);
    const identity = `${cm.metadata?.uid}@${cm.metadata?.resourceVersion}`;

    // the step is in flight: its Job exists and the step waits for it to complete
    const [job] = await until("the migrate Job", async () => {
      const jobs = await jobsLabelled("e2e-migrate");
      return jobs.length > 0 ? jobs : undefined;
    });
    const running = await waitForRun(
      runner,
      "migrate-once",
      (r) => r.spec.identity === identity && r.status.phase === "Running",
    );
    const firstHolder = running.status.claim?.holder ?? "";
    expect(firstHolder.startsWith(`${POD_NAME}/`)).toBe(true);
    expect(running.status.attempts).toBe(1);
    const eventKey = job!.metadata?.annotations?.["resource-hooks.io/idempotency-key"];
    figure("scenario 5: write -> Job created, step waiting (ms)", performance.now() - t0);
    // the Sensor's part is over: the runner accepted the event (202) before any step ran
    await until(
      "the Sensor's trigger done",
      async () => ((await triggerAttempts(CONFIGMAPS)).triggered > triggerBefore.triggered ? true : undefined),
      20_000,
      100,
    );

    const tKill = performance.now();
    await runner.kill();
    runner = await startRunner(stack(), { ...runner.options }); // same POD_NAME, port, token
    const tUp = performance.now();
    figure("scenario 5: SIGKILL -> restarted runner ready (ms)", tUp - tKill);
    // the new container claims the run at once (its predecessor's claim has not expired)
    const resumed = await until(
      "the run claimed by the new container",
      async () => {
        const r = await hookRun(running.metadata.name);
        return r.status.phase === "Running" && r.status.claim && r.status.claim.holder !== firstHolder ? r : undefined;
      },
      40_000,
      50,
    );
    figure("scenario 5: restarted runner ready -> run resumed (ms)", performance.now() - tUp);
    expect(resumed.status.claim!.holder.startsWith(`${POD_NAME}/`)).toBe(true);
    expect(resumed.status.attempts).toBe(2);

    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await writeStatus(`${JOBS_PATH}/${job!.metadata?.name}`, {
      startTime: now,
      succeeded: 1,
      completionTime: now,
      conditions: [
        { type: "SuccessCriteriaMet", status: "True", lastProbeTime: now, lastTransitionTime: now },
        { type: "Complete", status: "True", lastProbeTime: now, lastTransitionTime: now },
      ],
    });
    const [announced] = await sinks.migrate.waitFor(1, 30_000);
    figure("scenario 5: SIGKILL -> run completed (ms)", announced!.receivedAtPerf - tKill);
    expect(announced!.json).toEqual({ version: "2", job: job!.metadata?.name });

    const run = await waitForRun(
      runner,
      "migrate-once",
      (r) => r.spec.identity === identity && r.status.phase === "Succeeded",
    );
    expect(eventKey).toBe(stepIdempotencyKey("migrate-once", identity, "migrate"));
    expect(run.status.attempts).toBe(2);
    expect(run.status.steps.map((x) => [x.name, x.phase])).toEqual([
      ["migrate", "Succeeded"],
      ["announce", "Succeeded"],
    ]);
    await sinks.migrate.waitQuiet(3_000);
    expect(sinks.migrate.requests).toHaveLength(1);
    const jobs = await jobsLabelled("e2e-migrate");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([job!.metadata?.name]);
    // no Sensor retry was needed: one request, one successful trigger, no failure
    const triggerAfter = await triggerAttempts(CONFIGMAPS);
    expect(triggerAfter.triggered - triggerBefore.triggered).toBe(1);
    expect(triggerAfter.failed - triggerBefore.failed).toBe(0);
    expect(requestsAt(CONFIGMAPS) - doorBefore).toBe(1);
  });

  it("6: a Sensor whose token does not match gets 401 and nothing runs", async () => {
    const s = stack();
    const stale = generateHookSet(s, "e2e-stale", staleInstallYaml());
    await s.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: STALE_NS } },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { namespace: STALE_NS, name: SENSOR_ACCOUNT.name } },
    ]);
    await applyHookSet(s, stale, "stale-token-from-an-old-install");
    const rejectedBefore = await runner.metric("resource_hooks_requests_rejected_total", { reason: "unauthorized" });
    const runsBefore = (await runner.runs()).length;
    const { eventSource: es, sensor: staleSensor } = await startArgo(s, stale, {
      sensorAccount: { namespace: STALE_NS, name: SENSOR_ACCOUNT.name },
    });
    try {
      await s.apply([configMap("probe", { v: "1" })]);
      // the first attempt and the Sensor's first retry (5s ±20% later) of the watch's trigger are
      // both refused (its changes stream's trigger may add its own)
      await until(
        "two refused attempts of the watch's trigger",
        async () => ((await triggerAttempts(CONFIGMAPS, staleSensor)).failed >= 2 ? true : undefined),
        40_000,
      );
      const rejected =
        (await runner.metric("resource_hooks_requests_rejected_total", { reason: "unauthorized" })) - rejectedBefore;
      figure("scenario 6: requests answered 401", rejected);
      const refused = door.requests.filter(
        // The old install's Sensor posts to its own namespace's route; the token is checked first.
        (r) =>
          r.path === watchPath({ namespace: STALE_NS, name: "e2e" }, CONFIGMAPS) &&
          r.headers.authorization === "Bearer stale-token-from-an-old-install",
      );
      expect(refused.length).toBeGreaterThanOrEqual(2);
      const attempts = await triggerAttempts(CONFIGMAPS, staleSensor);
      expect(attempts.failed).toBeGreaterThanOrEqual(2);
      expect(attempts.triggered).toBe(0);
      expect(staleSensor.logs()).toMatch(/401/);
      expect((await runner.runs()).length).toBe(runsBefore);
      expect(sinks.probe.requests).toHaveLength(0);
    } finally {
      await staleSensor.stop();
      await es.stop();
    }
  });

  it("7: latency from the API server write to the sink's first byte, over 25 changes", async () => {
    const cmPath = `/api/v1/namespaces/${WEB}/configmaps/latency`;
    const total: number[] = [];
    const toRunner: number[] = [];
    let got: RecordedRequest[] = [];
    for (let n = 1; n <= 25; n++) {
      // Each change is measured on an idle pipeline: the previous change's step has reached the sink.
      const t0 = performance.now();
      const doorBefore = door.requests.length;
      await mergePatch(cmPath, { data: { n: String(n) } });
      got = await sinks.latency.waitFor(n, 30_000);
      total.push(got[n - 1]!.receivedAtPerf - t0);
      const atRunner = door.requests.slice(doorBefore).find((r) => r.path === route(CONFIGMAPS));
      if (atRunner) toRunner.push(atRunner.receivedAtPerf - t0);
    }
    await sinks.latency.waitQuiet(2_000);
    expect(sinks.latency.requests.map((r) => (r.json as { n: string }).n)).toEqual(
      Array.from({ length: 25 }, (_, i) => String(i + 1)),
    );
    const runs = (await firedRuns("latency-probe")).filter((r) => r.status.phase === "Succeeded");
    expect(runs).toHaveLength(25);
    figure("scenario 7: changes", total.length);
    figure(
      "scenario 7: write -> request at the runner p50 / p95 (ms)",
      `${percentile(toRunner, 50).toFixed(0)} / ${percentile(toRunner, 95).toFixed(0)}`,
    );
    figure("scenario 7: write -> sink first byte p50 (ms)", percentile(total, 50));
    figure("scenario 7: write -> sink first byte p95 (ms)", percentile(total, 95));
    figure("scenario 7: min / max (ms)", `${Math.min(...total).toFixed(0)} / ${Math.max(...total).toFixed(0)}`);
    // a sanity bound, not a benchmark: an order of magnitude above what an idle machine shows
    expect(percentile(total, 95)).toBeLessThan(10_000);
  });
});
