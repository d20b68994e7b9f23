// resource-hooks on the real engine ("Prove it on the real engine"): a hooks.yaml generated and
// applied as a user would (EventSource, Sensors, runner and event-source RBAC), Argo Events
// v1.9.11's eventsource-service and sensor-service as pods, and the runner as a real
// `resource-hooks serve` process under its generated ServiceAccount with the Lease run store.
// Each scenario asserts what the sinks received and what the API server holds, and prints its
// figures (look for "[e2e figure]" in the output).
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { generate, render, writeOutput } from "../../src/generate/index.js";
import { runKey, stepIdempotencyKey } from "../../src/runner/execute.js";
import { KubernetesRunStore } from "../../src/runner/store.js";
import { loadHookSetFile } from "../../src/spec/load.js";
import { deterministicName } from "../../src/steps/kubernetes/index.js";
import { resourceEventRequest, sendHookEvent } from "../../src/testing/index.js";
import { useStack } from "./harness.js";
import {
  applyHookSet,
  figure,
  freePort,
  generateHookSet,
  metricValue,
  percentile,
  runnerAccount,
  sleep,
  startArgo,
  startRunner,
  until,
  waitForRun,
  type DeployedHookSet,
  type RunnerHandle,
} from "./hooks-env.js";
import { startHttpSink, type ArgoProcess, type HttpSink, type KubeObject, type RecordedRequest } from "./stack.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = "argo-events"; // the HookSet's namespace: runner, EventSource, Sensors, run records
const WEB = "web"; // the watched namespace
const TOKEN = randomBytes(24).toString("hex");
const CLOUDFLARE_TOKEN = "cf-e2e-token";
const ZONE = "023e105f4ecef8ad9ca31a8372d0c353";
const POD_NAME = "e2e-runner-6f9c7d5b8-x2k4q";
const SENSOR_ACCOUNT = { namespace: NS, name: "e2e-sensor" }; // no RBAC at all: sensors need none

const stack = useStack();

const sinks = {} as Record<"cdn" | "spec" | "migrate" | "probe" | "latency", HttpSink>;
let runnerPort = 0;
let deployed: DeployedHookSet;
let runner: RunnerHandle;
let runnerKubeconfig = "";
let eventSource: ArgoProcess;
let sensors: Map<string, ArgoProcess>;
const watchBaseline = { deployments: 0, configmaps: 0 };


function hooksYaml(): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e
  namespace: ${NS}
spec:
  runner:
    url: http://127.0.0.1:${runnerPort}
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
    # Scenario 6: the runner knows this hook; only a Sensor with a stale token calls it.
    - name: unauthorized-probe
      on:
        resource: {version: v1, resource: configmaps, namespace: ${WEB}, name: probe}
        changed: [data]
      steps:
        - name: call
          http: {url: "${sinks.probe.url}/probe", body: {data: "{{ object.data }}"}}
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

/** The same hook, as a second HookSet whose Sensor sends a token the runner does not have. */
function staleTokenYaml(): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e-stale
  namespace: ${NS}
spec:
  runner:
    url: http://127.0.0.1:${runnerPort}
    tokenSecret: {name: resource-hooks-token-stale, key: token}
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

const configMap = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: WEB }, data });

const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${WEB}/deployments/frontend`;
const JOBS_PATH = `/apis/batch/v1/namespaces/${WEB}/jobs`;
const LEASES_PATH = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;

async function getJson<T = KubeObject>(p: string): Promise<T> {
  return stack().admin.get<T>(p);
}

/** Writes status through the status subresource, as the Deployment / Job controller would. */
async function writeStatus(objectPath: string, status: Record<string, unknown>): Promise<void> {
  await stack().admin.call("PATCH", `${objectPath}/status`, { body: { status }, contentType: "application/merge-patch+json" });
}

async function mergePatch(objectPath: string, patch: Record<string, unknown>): Promise<KubeObject> {
  return stack().admin.call<KubeObject>("PATCH", `${objectPath}?fieldManager=e2e-edit`, { body: patch, contentType: "application/merge-patch+json" });
}

function rolledOut(generation: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { observedGeneration: generation, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, ...extra };
}

async function jobsLabelled(partOf: string): Promise<KubeObject[]> {
  const list = await getJson<{ items: KubeObject[] }>(`${JOBS_PATH}?labelSelector=${encodeURIComponent(`app.kubernetes.io/part-of=${partOf}`)}`);
  return list.items;
}

async function leaseRecord(hook: string, eventId: string): Promise<{ lease: KubeObject; record: { steps: Record<string, { status: string }>; done: boolean } } | undefined> {
  const r = await stack().admin.request("GET", `${LEASES_PATH}/${KubernetesRunStore.leaseName(runKey(hook, eventId))}`);
  if (r.status === 404) return undefined;
  const lease = r.json as KubeObject;
  return { lease, record: JSON.parse(lease.metadata?.annotations?.["resource-hooks.io/run"] ?? "{}") as { steps: Record<string, { status: string }>; done: boolean } };
}

/** Requests that reached the runner at all: every run (any status) and every rejected request. */
async function runnerRequests(): Promise<number> {
  const text = await runner.metrics();
  return metricValue(text, "resource_hooks_runs_total") + metricValue(text, "resource_hooks_requests_rejected_total");
}

async function sensorAttempts(hooks: string[]): Promise<number> {
  let sum = 0;
  for (const hook of hooks) {
    const text = await sensors.get(hook)!.metrics();
    sum += metricValue(text, "argo_events_action_triggered_total") + metricValue(text, "argo_events_action_failed_total");
  }
  return sum;
}

const eventsSent = async (es: ArgoProcess, eventName: string): Promise<number> =>
  metricValue(await es.metrics(), "argo_events_events_sent_total", { event_name: eventName });

beforeAll(async () => {
  const s = stack();
  for (const name of ["cdn", "spec", "migrate", "probe", "latency"] as const) sinks[name] = await startHttpSink();
  // Cloudflare's purge_cache answer
  sinks.cdn.respondWith({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ success: true, errors: [], messages: [], result: { id: "purge-e2e" } }) });
  runnerPort = await freePort();
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
  runnerKubeconfig = await s.kubeconfigForServiceAccount(runnerAccount(deployed).namespace, runnerAccount(deployed).name);
  runner = await startRunner(s, {
    hooksFile: deployed.hooksFile,
    port: runnerPort,
    token: TOKEN,
    namespace: NS,
    kubeconfig: runnerKubeconfig,
    podName: POD_NAME,
    secrets: { "cdn-credentials": { "cloudflare-token": CLOUDFLARE_TOKEN } },
    extraArgs: ["--cloudflare-url", sinks.cdn.url],
  });
  figure("runner start until /readyz (ms)", performance.now() - t);

  watchBaseline.deployments = await s.watchCount("deployments", "apps");
  watchBaseline.configmaps = await s.watchCount("configmaps");
  t = performance.now();
  // Every Sensor but the one that stands for the stale-token deployment of scenario 6.
  const started = await startArgo(s, deployed, {
    hooks: [...deployed.sensors.keys()].filter((h) => h !== "unauthorized-probe"),
    sensorAccount: SENSOR_ACCOUNT,
  });
  eventSource = started.eventSource;
  sensors = started.sensors;
  figure(`event source + ${sensors.size} sensors ready (ms)`, performance.now() - t);
});

afterAll(async () => {
  await Promise.all(Object.values(sinks).map((x) => x?.close()));
});

describe("generated objects", () => {
  it("argo-events lint --strict accepts every generated EventSource and Sensor (examples/hooks.yaml and the e2e hook sets)", async () => {
    const examplesDir = path.join(stack().dir, "hooksets", "examples");
    writeOutput(examplesDir, render(generate(loadHookSetFile(path.join(REPO_ROOT, "examples/hooks.yaml"))), "examples/hooks.yaml"));
    const stale = generateHookSet(stack(), "e2e-stale", staleTokenYaml());
    const exampleFiles = ["eventsources", "sensors"].flatMap((d) => readdirSync(path.join(examplesDir, d)).map((f) => path.join(examplesDir, d, f)));
    const files = [...exampleFiles, ...deployed.argoFiles, ...stale.argoFiles];
    expect(exampleFiles.length).toBeGreaterThanOrEqual(2);
    const lint = await stack().lint(files, { strict: true });
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
    figure("files linted with argo-events lint --strict", files.length);
  });

  it("two hooks on the same resource share one watch in the running event source", async () => {
    const es = deployed.eventSource.spec as { resource: Record<string, { resource: string }> };
    // 6 hooks, 2 selectors (frontend's Deployment twice; four ConfigMaps of namespace web)
    expect(deployed.hookSet.hooks).toHaveLength(6);
    expect(Object.keys(es.resource).sort()).toEqual(["configmaps-web", "deployments-web"]);
    expect((await stack().watchCount("deployments", "apps")) - watchBaseline.deployments).toBe(1);
    expect((await stack().watchCount("configmaps")) - watchBaseline.configmaps).toBe(1);
    expect(eventSource.isRunning()).toBe(true);
  });
});

describe("scenarios", () => {
  let purgeEventId = "";

  it("1: an image change purges the CDN exactly once, and only after the rollout finished", async () => {
    const specBefore = sinks.spec.requests.length;
    const t0 = performance.now();
    await stack().apply([frontend("registry.example/frontend:1.5.0")]);
    const dep = await getJson(DEPLOYMENT_PATH);
    expect(dep.metadata?.generation).toBe(2);

    // the sibling hook (same watch, no 'changed') fires at once: the event went through
    await sinks.spec.waitFor(specBefore + 1, 30_000);
    expect(sinks.spec.requests[specBefore]!.json).toEqual({ generation: 2, image: "registry.example/frontend:1.5.0" });
    await waitForRun(runner, "notify-spec-change", (r) => r.status === "succeeded");
    // the purge hook's run is in flight, waiting for the rollout
    await until("the purge run in flight", async () => ((await runner.metric("resource_hooks_runs_in_flight")) >= 1 ? true : undefined), 30_000);
    figure("scenario 1: image write -> purge run in flight (ms)", performance.now() - t0);

    // the controller observes the new generation; the rollout is under way, not done
    await writeStatus(DEPLOYMENT_PATH, rolledOut(2, { replicas: 3, updatedReplicas: 1, availableReplicas: 2, readyReplicas: 2 }));
    await sleep(1_500);
    expect(sinks.cdn.requests, "no purge before the rollout holds").toHaveLength(0);

    const tRolledOut = performance.now();
    await writeStatus(DEPLOYMENT_PATH, rolledOut(2));
    const [purge] = await sinks.cdn.waitFor(1, 30_000);
    expect(purge!.receivedAtPerf).toBeGreaterThan(tRolledOut);
    figure("scenario 1: rollout status write -> purge request (ms)", purge!.receivedAtPerf - tRolledOut);
    await sinks.cdn.waitQuiet(3_000);
    expect(sinks.cdn.requests).toHaveLength(1);
    expect(purge!.method).toBe("POST");
    expect(purge!.path).toBe(`/client/v4/zones/${ZONE}/purge_cache`);
    expect(purge!.headers.authorization).toBe(`Bearer ${CLOUDFLARE_TOKEN}`);
    expect(purge!.json).toEqual({ prefixes: ["www.example.com/"] });

    const run = await waitForRun(runner, "purge-cdn-on-image-change", (r) => r.status !== "skipped");
    expect(run.status).toBe("succeeded");
    expect(run.steps.map((x) => [x.name, x.status])).toEqual([
      ["rollout", "succeeded"],
      ["purge", "succeeded"],
    ]);
    purgeEventId = run.eventId;
    expect(sinks.spec.requests).toHaveLength(specBefore + 1);
  });

  it("the runner records HookSucceeded on the Deployment and keeps its completed steps in Leases", async () => {
    const events = await until(
      "a HookSucceeded Event on web/frontend",
      async () => {
        const list = await getJson<{ items: Array<KubeObject & { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string; uid?: string } }> }>(
          `/api/v1/namespaces/${WEB}/events?fieldSelector=${encodeURIComponent("involvedObject.name=frontend,reason=HookSucceeded")}`,
        );
        const ours = list.items.filter((e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "purge-cdn-on-image-change");
        return ours.length > 0 ? list.items : undefined;
      },
      15_000,
    );
    const dep = await getJson(DEPLOYMENT_PATH);
    const event = events.find((e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "purge-cdn-on-image-change")!;
    expect(event.involvedObject).toMatchObject({ kind: "Deployment", name: "frontend", uid: dep.metadata?.uid });
    expect(event.message).toMatch(/^hook purge-cdn-on-image-change succeeded \(2 steps, \d+ms\)$/);
    expect(events.some((e) => e.metadata?.labels?.["resource-hooks.io/hook"] === "notify-spec-change")).toBe(true);

    const stored = await leaseRecord("purge-cdn-on-image-change", purgeEventId);
    expect(stored, "the run's Lease in argo-events").toBeDefined();
    expect(stored!.record).toMatchObject({ done: true, steps: { rollout: { status: "succeeded" }, purge: { status: "succeeded" } } });
    expect(stored!.lease.metadata?.labels).toMatchObject({ "resource-hooks.io/store": "run" });
    expect((stored!.lease.spec as { holderIdentity?: string }).holderIdentity).toBeUndefined(); // released when done
    const leases = await getJson<{ items: KubeObject[] }>(`${LEASES_PATH}?labelSelector=${encodeURIComponent("resource-hooks.io/store=run")}`);
    figure("run-record Leases in argo-events after scenario 1", leases.items.length);
    expect(leases.items.length).toBeGreaterThanOrEqual(2);
  });

  it("2: status-only and label-only updates run no hook (the Sensors' Lua filter stops them)", async () => {
    const deploymentHooks = ["purge-cdn-on-image-change", "notify-spec-change"];
    const before = {
      sent: await eventsSent(eventSource, "deployments-web"),
      sensors: await sensorAttempts(deploymentHooks),
      runner: await runnerRequests(),
      sinks: sinks.cdn.requests.length + sinks.spec.requests.length,
    };
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      await writeStatus(
        DEPLOYMENT_PATH,
        rolledOut(2, {
          conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: `status write ${i}`, lastUpdateTime: now, lastTransitionTime: now }],
        }),
      );
    }
    for (let i = 0; i < 5; i++) await mergePatch(DEPLOYMENT_PATH, { metadata: { labels: { "e2e-touch": String(i) } } });
    const dep = await getJson(DEPLOYMENT_PATH);
    expect(dep.metadata?.generation, "no spec change").toBe(2);

    // every one of the 25 updates reached the event bus...
    await until("25 deployment events published", async () => ((await eventsSent(eventSource, "deployments-web")) - before.sent >= 25 ? true : undefined), 30_000, 200);
    await sleep(2_000); // ...and the Sensors had time to process them
    const sent = (await eventsSent(eventSource, "deployments-web")) - before.sent;
    const triggered = (await sensorAttempts(deploymentHooks)) - before.sensors;
    const reached = (await runnerRequests()) - before.runner;
    figure("scenario 2: updates written (20 status-only, 5 label-only)", 25);
    figure("scenario 2: events the event source published", sent);
    figure("scenario 2: trigger attempts of the 2 Sensors on that Deployment", triggered);
    figure("scenario 2: requests that reached the runner", reached);
    figure("scenario 2: duration (ms)", performance.now() - t0);
    expect(sent).toBe(25);
    expect(triggered).toBe(0);
    expect(reached).toBe(0);
    expect(sinks.cdn.requests.length + sinks.spec.requests.length).toBe(before.sinks);
  });

  it("3: a ConfigMap data change creates its Job exactly once, however often the event is delivered", async () => {
    const cmPath = `/api/v1/namespaces/${WEB}/configmaps/app-config`;
    const oldCm = await getJson(cmPath);
    await stack().apply([configMap("app-config", { "app.properties": "color=green\n" })]);
    const newCm = await getJson(cmPath);

    const run = await waitForRun(runner, "reload-config-job", (r) => r.status === "succeeded");
    const key = stepIdempotencyKey("reload-config-job", run.eventId, "reload");
    const name = deterministicName("reload-config-", key);
    let jobs = await jobsLabelled("e2e-reload");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([name]);
    expect(jobs[0]!.metadata?.annotations?.["resource-hooks.io/idempotency-key"]).toBe(key);
    const args = (jobs[0]!.spec as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0]!.args;
    expect(args).toEqual(["reload", "--config-version", newCm.metadata?.resourceVersion]);

    // the same CloudEvent again (what a redelivery sends): answered from the run record
    const request = resourceEventRequest(
      { type: "UPDATE", object: newCm, oldObject: oldCm, group: "", version: "v1", resource: "configmaps", id: run.eventId, source: "e2e", subject: "configmaps-web" },
      TOKEN,
    );
    const again = await sendHookEvent(runner.url, "reload-config-job", request);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "duplicate", eventId: run.eventId });

    // even with the run record gone, the step finds the Job it created for this event
    const lease = KubernetesRunStore.leaseName(runKey("reload-config-job", run.eventId));
    await stack().admin.call("DELETE", `${LEASES_PATH}/${lease}`);
    const third = await sendHookEvent(runner.url, "reload-config-job", request);
    expect(third.status).toBe(200);
    expect(third.body).toMatchObject({ status: "succeeded", steps: [{ name: "reload", status: "succeeded" }] });

    jobs = await jobsLabelled("e2e-reload");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([name]);
    figure("scenario 3: deliveries of one event / Jobs created", `3 / ${jobs.length}`);
  });

  it("5: a runner killed (SIGKILL) mid-step is restarted; the Sensor's retry completes the run, the Job exists once", async () => {
    const migrateSensor = sensors.get("migrate-once")!;
    const failedBefore = metricValue(await migrateSensor.metrics(), "argo_events_action_failed_total");
    const t0 = performance.now();
    await stack().apply([configMap("release", { version: "2" })]);

    // the step is in flight: its Job exists and the step waits for it to complete
    const [job] = await until("the migrate Job", async () => {
      const jobs = await jobsLabelled("e2e-migrate");
      return jobs.length > 0 ? jobs : undefined;
    });
    await until("the migrate run in flight", async () => ((await runner.metric("resource_hooks_runs_in_flight")) >= 1 ? true : undefined));
    const eventKey = job!.metadata?.annotations?.["resource-hooks.io/idempotency-key"];
    figure("scenario 5: write -> Job created, step waiting (ms)", performance.now() - t0);

    const tKill = performance.now();
    await runner.kill();
    // the Sensor saw its HTTP trigger fail (connection reset) and will retry
    await until("the Sensor's failed trigger", async () => (metricValue(await migrateSensor.metrics(), "argo_events_action_failed_total") > failedBefore ? true : undefined), 20_000, 100);

    runner = await startRunner(stack(), { ...runner.options }); // same POD_NAME, port, token
    const tUp = performance.now();
    figure("scenario 5: SIGKILL -> restarted runner ready (ms)", tUp - tKill);
    // a retry reached the new runner, which reclaimed the run and waits for the Job again
    await until("the retried run in flight on the new runner", async () => ((await runner.metric("resource_hooks_runs_in_flight")) >= 1 ? true : undefined), 40_000, 100);
    figure("scenario 5: restarted runner ready -> Sensor retry in flight (ms)", performance.now() - tUp);

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
    await sinks.migrate.waitQuiet(3_000);
    expect(sinks.migrate.requests).toHaveLength(1);
    expect(announced!.json).toEqual({ version: "2", job: job!.metadata?.name });

    const jobs = await jobsLabelled("e2e-migrate");
    expect(jobs.map((j) => j.metadata?.name)).toEqual([job!.metadata?.name]);
    const run = await waitForRun(runner, "migrate-once", (r) => r.status === "succeeded");
    expect(eventKey).toBe(stepIdempotencyKey("migrate-once", run.eventId, "migrate"));
    expect(run.steps.map((x) => [x.name, x.status])).toEqual([
      ["migrate", "succeeded"],
      ["announce", "succeeded"],
    ]);
    const stored = await leaseRecord("migrate-once", run.eventId);
    expect(stored?.record).toMatchObject({ done: true, steps: { migrate: { status: "succeeded" }, announce: { status: "succeeded" } } });
    expect(metricValue(await migrateSensor.metrics(), "argo_events_action_triggered_total")).toBe(1);
  });

  it("6: a Sensor whose token does not match gets 401 and nothing runs", async () => {
    const stale = generateHookSet(stack(), "e2e-stale", staleTokenYaml());
    await applyHookSet(stack(), stale, "stale-token-from-an-old-install");
    const rejectedBefore = await runner.metric("resource_hooks_requests_rejected_total", { reason: "unauthorized" });
    const { eventSource: es, sensors: staleSensors } = await startArgo(stack(), stale, { sensorAccount: SENSOR_ACCOUNT });
    const sensor = staleSensors.get("unauthorized-probe")!;
    try {
      await stack().apply([configMap("probe", { v: "1" })]);
      await until(
        "a 401 at the runner",
        async () => ((await runner.metric("resource_hooks_requests_rejected_total", { reason: "unauthorized" })) > rejectedBefore ? true : undefined),
        30_000,
      );
      await sleep(3_000); // the Sensor's first retry (2s) is refused too
      const rejected = (await runner.metric("resource_hooks_requests_rejected_total", { reason: "unauthorized" })) - rejectedBefore;
      figure("scenario 6: requests answered 401", rejected);
      expect(rejected).toBeGreaterThanOrEqual(2);
      expect(metricValue(await sensor.metrics(), "argo_events_action_failed_total")).toBeGreaterThanOrEqual(2);
      expect(metricValue(await sensor.metrics(), "argo_events_action_triggered_total")).toBe(0);
      expect(await runner.metric("resource_hooks_runs_total", { hook: "unauthorized-probe" })).toBe(0);
      expect(sinks.probe.requests).toHaveLength(0);
      expect(sensor.logs()).toMatch(/401/);
    } finally {
      await sensor.stop();
      await es.stop();
    }
  });

  it("7: latency from the API server write to the sink's first byte, over 25 changes", async () => {
    const cmPath = `/api/v1/namespaces/${WEB}/configmaps/latency`;
    const sensor = sensors.get("latency-probe")!;
    const triggered = async (): Promise<number> => metricValue(await sensor.metrics(), "argo_events_action_triggered_total");
    const latencies: number[] = [];
    let got: RecordedRequest[] = [];
    for (let n = 1; n <= 25; n++) {
      // Each change is measured on an idle pipeline: the Sensor got the previous run's answer
      // (an atLeastOnce trigger blocks its Sensor until the runner answers).
      await until(`the Sensor's trigger ${n - 1} done`, async () => ((await triggered()) >= n - 1 ? true : undefined), 30_000, 20);
      const t0 = performance.now();
      await mergePatch(cmPath, { data: { n: String(n) } });
      got = await sinks.latency.waitFor(n, 30_000);
      latencies.push(got[n - 1]!.receivedAtPerf - t0);
    }
    await sinks.latency.waitQuiet(2_000);
    expect(sinks.latency.requests.map((r) => (r.json as { n: string }).n)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    figure("scenario 7: changes", latencies.length);
    figure("scenario 7: write -> sink first byte p50 (ms)", p50);
    figure("scenario 7: write -> sink first byte p95 (ms)", p95);
    figure("scenario 7: min / max (ms)", `${Math.min(...latencies).toFixed(0)} / ${Math.max(...latencies).toFixed(0)}`);
    expect(p95).toBeLessThan(5_000);
  });
});
