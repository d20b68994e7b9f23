// Argo CD sync-result hooks on the real engine: Argo CD's own Application CRD (from the argo-cd
// Go module, see scripts/e2e/build.sh "crds"), a generated EventSource watching Applications,
// the hook set's one Sensor (its Lua filter), and the runner behind a recording front door. The test writes what Argo CD's
// application controller writes over a sync (v2.14 setOperationState / persistAppStatus: merge
// patches of the Application): `operation` set, operationState Running, then Succeeded or
// Failed with finishedAt and syncResult (and `operation` cleared), then status.sync and
// status.health as the app is refreshed. Figures are printed as "[e2e figure]". The same hooks on
// Argo CD's real application controller: argocd-hooks.e2e.test.ts.
import { randomBytes } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { resourceEventRequest, sendEvent, watchPathOf, type AcceptAnswer } from "../../src/testing/index.js";
import { startFrontDoor, type FrontDoor } from "./front-door.js";
import { useStack } from "./harness.js";
import {
  applyHookSet,
  figure,
  freePort,
  generateHookSet,
  metricValue,
  runnerKubeconfig,
  sleep,
  startArgo,
  startRunner,
  until,
  waitForRun,
  type DeployedHookSet,
  type RunnerHandle,
} from "./hooks-env.js";
import { startHttpSink, type ArgoProcess, type HttpSink, type KubeObject } from "./stack.js";

const NS = "argo-events";
const ARGOCD = "argocd";
const WEB = "web";
const TOKEN = randomBytes(24).toString("hex");
const SENSOR_ACCOUNT = { namespace: NS, name: "e2e-sensor" };

const stack = useStack();
const sinks = {} as Record<"synced" | "failed" | "multi", HttpSink>;
let deployed: DeployedHookSet;
let runner: RunnerHandle;
let door: FrontDoor;
let eventSource: ArgoProcess;
let sensor: ArgoProcess;
let statusSubresource = false;
let watchBaseline = 0;

const sha = (seed: string): string => Buffer.from(seed.padEnd(20, ".")).toString("hex").slice(0, 40);
const REV = {
  r0: sha("rev-0"),
  r1: sha("rev-1"),
  r2: sha("rev-2"),
  a0: sha("app-0"),
  b0: sha("cfg-0"),
  a1: sha("app-1"),
  b1: sha("cfg-1"),
};

function hooksYaml(runnerUrl: string): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e-argocd
  namespace: ${NS}
spec:
  runner:
    url: ${runnerUrl}
  hooks:
    - name: frontend-synced
      on:
        argocd:
          application: web
          namespace: ${ARGOCD}
          resources: [{kind: Deployment, name: frontend}]
          healthy: true
      steps:
        - name: tell
          http:
            url: ${sinks.synced.url}/synced
            body: {revision: "{{ operation.revision }}", startedAt: "{{ operation.startedAt }}", change: "{{ resources[0].change }}"}
    - name: frontend-sync-failed
      on:
        argocd:
          application: web
          namespace: ${ARGOCD}
          resources: [{kind: Deployment, name: frontend}]
          phases: [Failed]
      steps:
        - name: tell
          http:
            url: ${sinks.failed.url}/failed
            body: {phase: "{{ operation.phase }}", message: "{{ operation.message }}", change: "{{ resources[0].change }}"}
    - name: multi-synced
      on:
        argocd:
          application: web-multi
          namespace: ${ARGOCD}
          resources: [{group: apps, kind: Deployment, name: frontend}]
          healthy: true
      steps:
        - name: tell
          http:
            url: ${sinks.multi.url}/multi
            body: {revisions: "{{ operation.revisions }}"}
`;
}

// ------------------------------------------------------------------ what Argo CD writes

const SOURCE = { repoURL: "https://git.example/web.git", path: "deploy", targetRevision: "main" };
const SOURCES = [SOURCE, { repoURL: "https://git.example/web-config.git", path: ".", targetRevision: "main" }];

function application(name: string, multi: boolean): KubeObject {
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name, namespace: ARGOCD },
    spec: {
      project: "default",
      ...(multi ? { sources: SOURCES } : { source: SOURCE }),
      destination: { server: "https://kubernetes.default.svc", namespace: WEB },
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    },
  };
}

type Change = "configured" | "unchanged" | "created";

function result(kind: string, name: string, change: Change | { failed: string }): Record<string, unknown> {
  const group = kind === "Deployment" ? "apps" : "";
  const lower = kind === "Deployment" ? "deployment.apps" : kind.toLowerCase();
  const base = { group, version: "v1", kind, namespace: WEB, name, syncPhase: "Sync" };
  if (typeof change === "object") return { ...base, status: "SyncFailed", message: change.failed, hookPhase: "Failed" };
  return { ...base, status: "Synced", message: `${lower}/${name} ${change}`, hookPhase: "Succeeded" };
}

let lastStarted = "";
/** RFC 3339 seconds, as Argo CD writes; distinct for each operation (its identity). */
function startedNow(): string {
  let t = new Date();
  let s = t.toISOString().replace(/\.\d+Z$/, "Z");
  while (s <= lastStarted) {
    t = new Date(t.getTime() + 1_000);
    s = t.toISOString().replace(/\.\d+Z$/, "Z");
  }
  lastStarted = s;
  return s;
}
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

const appPath = (name: string): string => `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD}/applications/${name}`;

/**
 * A merge patch of the Application, as the application controller sends it: through the status
 * subresource if the CRD declares one, else (Argo CD's CRD: `subresources: {}`) of the object.
 */
async function patchApp(name: string, patch: Record<string, unknown>): Promise<KubeObject> {
  const { status, ...rest } = patch;
  let out: KubeObject | undefined;
  if (statusSubresource && status !== undefined) {
    out = await stack().admin.call<KubeObject>("PATCH", `${appPath(name)}/status`, {
      body: { status },
      contentType: "application/merge-patch+json",
    });
    if (Object.keys(rest).length === 0) return out;
    return stack().admin.call<KubeObject>("PATCH", appPath(name), {
      body: rest,
      contentType: "application/merge-patch+json",
    });
  }
  return stack().admin.call<KubeObject>("PATCH", appPath(name), {
    body: patch,
    contentType: "application/merge-patch+json",
  });
}

interface SyncPlan {
  app: string;
  /** revision (single source) or revisions (multi-source) */
  revision?: string;
  revisions?: string[];
  results: Array<Record<string, unknown>>;
  phase: "Succeeded" | "Failed";
  message?: string;
}

/**
 * One sync as Argo CD writes it, up to the finished operation: `operation` set (automated
 * sync), operationState Running (finishedAt cleared), then the completed state with
 * finishedAt and syncResult, `operation` cleared. Returns the Application before and after
 * the last write, and the time of that write (performance.now()).
 */
async function syncUntilFinished(
  plan: SyncPlan,
): Promise<{ startedAt: string; running: KubeObject; finished: KubeObject }> {
  const sync = plan.revisions ? { revisions: plan.revisions, prune: true } : { revision: plan.revision, prune: true };
  const operation = { sync, initiatedBy: { automated: true }, retry: { limit: 5 } };
  await patchApp(plan.app, { operation });
  const startedAt = startedNow();
  const running = await patchApp(plan.app, {
    // the recorded controller starts an operation without a result (test/fixtures/argocd)
    status: {
      operationState: {
        operation,
        phase: "Running",
        message: "waiting for healthy state of apps/Deployment/frontend",
        startedAt,
        finishedAt: null,
        syncResult: null,
      },
    },
  });
  await sleep(200);
  const syncResult = {
    ...(plan.revisions
      ? { revision: "", revisions: plan.revisions, sources: SOURCES }
      : { revision: plan.revision, source: SOURCE }),
    resources: plan.results,
  };
  const finished = await patchApp(plan.app, {
    operation: null,
    status: {
      operationState: {
        operation,
        phase: plan.phase,
        message:
          plan.message ??
          (plan.phase === "Succeeded" ? "successfully synced (all tasks run)" : "one or more objects failed to apply"),
        startedAt,
        finishedAt: now(),
        syncResult,
      },
    },
  });
  return { startedAt, running, finished };
}

/** What the refresh after a sync writes: sync status and health (persistAppStatus). */
async function refresh(app: string, sync: { revision?: string; revisions?: string[] }, health: string): Promise<void> {
  await patchApp(app, {
    status: {
      reconciledAt: now(),
      sync: {
        status: "Synced",
        ...sync,
        comparedTo: {
          destination: { server: "https://kubernetes.default.svc", namespace: WEB },
          ...(sync.revisions ? { sources: SOURCES } : { source: SOURCE }),
        },
      },
      health: { status: health, lastTransitionTime: now() },
    },
  });
}

/** Requests that reached the runner: counted on its front door, the only way in. */
async function runnerRequests(): Promise<number> {
  return door.requests.length;
}

/** Attempts of the Sensor's triggers (here the one Application watch and its changes stream). */
async function sensorAttempts(): Promise<number> {
  const text = await sensor.metrics();
  return metricValue(text, "argo_events_action_triggered_total") + metricValue(text, "argo_events_action_failed_total");
}

/** Events the event source published for its (one) Application watch, on its entry and its changes stream. */
async function appEventsSent(): Promise<number> {
  const text = await eventSource.metrics();
  let sent = 0;
  for (const eventName of Object.keys((deployed.eventSource.spec as { resource: Record<string, unknown> }).resource))
    sent += metricValue(text, "argo_events_events_sent_total", { event_name: eventName });
  return sent;
}

beforeAll(async () => {
  const s = stack();
  for (const name of ["synced", "failed", "multi"] as const) sinks[name] = await startHttpSink();

  let t = performance.now();
  const crd = await s.installApplicationCrd();
  figure("Argo CD Application CRD applied and Established (ms)", performance.now() - t);
  const versions = (crd.spec as { versions: Array<{ name: string; subresources?: { status?: object } }> }).versions;
  statusSubresource = versions.some((v) => v.name === "v1alpha1" && v.subresources?.status !== undefined);

  const port = await freePort();
  door = await startFrontDoor(`http://127.0.0.1:${port}`);
  deployed = generateHookSet(s, "e2e-argocd", hooksYaml(door.url));
  await s.apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ARGOCD } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: WEB } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: SENSOR_ACCOUNT },
  ]);
  await applyHookSet(s, deployed, TOKEN);

  // two Applications as they stand after an earlier sync, Healthy at their current revision(s)
  await s.apply([application("web", false), application("web-multi", true)]);
  const earlier = (multi: boolean): Record<string, unknown> => {
    const operation = {
      sync: multi ? { revisions: [REV.a0, REV.b0] } : { revision: REV.r0 },
      initiatedBy: { automated: true },
    };
    return {
      status: {
        operationState: {
          operation,
          phase: "Succeeded",
          message: "successfully synced (all tasks run)",
          startedAt: "2026-01-01T10:00:00Z",
          finishedAt: "2026-01-01T10:00:07Z",
          syncResult: {
            ...(multi
              ? { revision: "", revisions: [REV.a0, REV.b0], sources: SOURCES }
              : { revision: REV.r0, source: SOURCE }),
            resources: [result("Deployment", "frontend", "configured")],
          },
        },
        sync: { status: "Synced", ...(multi ? { revisions: [REV.a0, REV.b0] } : { revision: REV.r0 }) },
        health: { status: "Healthy" },
      },
    };
  };
  await patchApp("web", earlier(false));
  await patchApp("web-multi", earlier(true));

  t = performance.now();
  runner = await startRunner(s, {
    hooksFile: deployed.hooksFile,
    port,
    token: TOKEN,
    namespace: NS,
    kubeconfig: await runnerKubeconfig(s, deployed),
    podName: "e2e-argocd-runner-7c4d9-abcde",
  });
  figure("runner start until /readyz (ms)", performance.now() - t);
  watchBaseline = await s.watchCount("applications", "argoproj.io");
  t = performance.now();
  ({ eventSource, sensor } = await startArgo(s, deployed, { sensorAccount: SENSOR_ACCOUNT }));
  figure("event source + the hook set's Sensor ready (ms)", performance.now() - t);
});

afterAll(async () => {
  await Promise.all(Object.values(sinks).map((x) => x?.close()));
  await door?.close();
});

describe("Argo CD sync-result hooks on the real engine", () => {
  it("the generated objects lint, and three hooks on Applications share one watch", async () => {
    const lint = await stack().lint(deployed.argoFiles, { strict: true });
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
    const es = deployed.eventSource.spec as {
      resource: Record<string, { group: string; resource: string; namespace: string }>;
    };
    // the watch and its changes stream: an informer each
    expect(Object.values(es.resource)).toEqual([
      expect.objectContaining({ group: "argoproj.io", resource: "applications", namespace: ARGOCD }),
      expect.objectContaining({ group: "argoproj.io", resource: "applications", eventTypes: ["UPDATE", "DELETE"] }),
    ]);
    expect((await stack().watchCount("applications", "argoproj.io")) - watchBaseline).toBe(2);
    figure("Application CRD declares a status subresource", String(statusSubresource));
  });

  it("a sync in which frontend was unchanged runs nothing", async () => {
    const before = { sent: await appEventsSent(), sensors: await sensorAttempts(), runner: await runnerRequests() };
    await syncUntilFinished({
      app: "web",
      revision: REV.r1,
      phase: "Succeeded",
      results: [result("Deployment", "frontend", "unchanged"), result("ConfigMap", "web-config", "configured")],
    });
    await refresh("web", { revision: REV.r1 }, "Healthy");
    await until(
      "the 4 updates published",
      async () => ((await appEventsSent()) - before.sent >= 4 ? true : undefined),
      20_000,
      100,
    );
    await sleep(1_500);
    const reached = (await runnerRequests()) - before.runner;
    figure(
      "unchanged sync: Application updates published / trigger attempts / requests at the runner",
      `${(await appEventsSent()) - before.sent} / ${(await sensorAttempts()) - before.sensors} / ${reached}`,
    );
    // The Sensor passes the one finished operation that names frontend (whether it really
    // changed needs the runner's evidence: comparison and memory), on the watch's changes stream;
    // the runner skips it.
    expect((await sensorAttempts()) - before.sensors).toBe(1);
    expect(reached).toBe(1);
    const skipped = await waitForRun(
      runner,
      "frontend-synced",
      (r) => r.status.phase === "Skipped" && /changed none of Deployment\/frontend/.test(r.status.message ?? ""),
    );
    expect(skipped.status.message).toMatch(/the sync changed none/);
    expect(sinks.synced.requests.length + sinks.failed.requests.length + sinks.multi.requests.length).toBe(0);
  });

  let changed: { startedAt: string; running: KubeObject; finished: KubeObject };

  it("a sync that changed frontend runs the hook once, after the Application is Healthy (reconciled after the operation finished)", async () => {
    // finished while the Application still reports Healthy at the previous revision
    changed = await syncUntilFinished({
      app: "web",
      revision: REV.r2,
      phase: "Succeeded",
      results: [result("Deployment", "frontend", "configured"), result("ConfigMap", "web-config", "unchanged")],
    });
    await waitForRun(runner, "frontend-synced", (r) => r.status.phase === "Running", 20_000);
    await refresh("web", { revision: REV.r2 }, "Progressing");
    await sleep(2_500); // more than the runner's 2s health poll
    expect(sinks.synced.requests, "no run before Healthy").toHaveLength(0);

    const tHealthy = performance.now();
    await refresh("web", { revision: REV.r2 }, "Healthy");
    const [req] = await sinks.synced.waitFor(1, 20_000);
    expect(req!.receivedAtPerf).toBeGreaterThan(tHealthy);
    figure(
      "changed sync: Healthy write -> hook's request (ms; the runner polls health every 2s)",
      req!.receivedAtPerf - tHealthy,
    );
    expect(req!.json).toEqual({ revision: REV.r2, startedAt: changed.startedAt, change: "configured" });
    const run = await waitForRun(runner, "frontend-synced", (r) => r.status.phase === "Succeeded");
    expect(run.status.steps).toEqual([expect.objectContaining({ name: "tell", phase: "Succeeded" })]);
    expect(run.status.attempts).toBe(1);
    expect((await runner.runs("frontend-synced")).filter((r) => r.status.phase !== "Skipped")).toHaveLength(1);

    // the runner records the result on the Application
    const app = await stack().admin.get<KubeObject>(appPath("web"));
    await until("HookSucceeded on the Application", async () => {
      const list = await stack().admin.get<{ items: Array<{ reason?: string; involvedObject?: { uid?: string } }> }>(
        `/api/v1/namespaces/${ARGOCD}/events?fieldSelector=${encodeURIComponent("involvedObject.name=web,reason=HookSucceeded")}`,
      );
      return list.items.some((e) => e.involvedObject?.uid === app.metadata?.uid) ? true : undefined;
    });
  });

  it("the same operation's later status updates run nothing more (and a redelivered operation is a duplicate)", async () => {
    const before = { sent: await appEventsSent(), runner: await runnerRequests() };
    const history = [
      { id: 1, revision: REV.r2, deployedAt: now(), deployStartedAt: changed.startedAt, source: SOURCE },
    ];
    await patchApp("web", { status: { history } });
    await refresh("web", { revision: REV.r2 }, "Progressing");
    await refresh("web", { revision: REV.r2 }, "Healthy");
    await patchApp("web", {
      status: { reconciledAt: now(), summary: { images: ["registry.example/frontend:1.5.0"] } },
    });
    await until(
      "the 4 updates published",
      async () => ((await appEventsSent()) - before.sent >= 4 ? true : undefined),
      20_000,
      100,
    );
    await sleep(1_500);
    const reached = (await runnerRequests()) - before.runner;
    figure("later status updates of a finished operation: requests at the runner", reached);
    expect(reached).toBe(0);

    // the finishing update delivered again under a new CloudEvent id: same operation, no second run
    const redelivery = resourceEventRequest(
      {
        type: "UPDATE",
        object: changed.finished,
        oldObject: changed.running,
        group: "argoproj.io",
        version: "v1alpha1",
        resource: "applications",
        source: "e2e-argocd",
        subject: "applications-argocd",
      },
      TOKEN,
    );
    const answer = await sendEvent(runner.url, watchPathOf(deployed.hookSet, "frontend-synced"), redelivery);
    expect(answer.status).toBe(202);
    // every hook of the watch is evaluated again and finds what it recorded for this operation:
    // the run of frontend-synced, and frontend-sync-failed's Skipped record (not a Failed sync)
    expect((answer.body as AcceptAnswer).runs).toEqual([
      expect.objectContaining({ hook: "frontend-synced", phase: "Succeeded", created: false }),
      expect.objectContaining({ hook: "frontend-sync-failed", phase: "Skipped", created: false }),
    ]);
    await sinks.synced.waitQuiet(1_000);
    expect(sinks.synced.requests).toHaveLength(1);
  });

  it("a failed sync runs the phases: [Failed] hook once, and not the Succeeded one", async () => {
    const message =
      'one or more objects failed to apply, reason: Deployment.apps "frontend" is invalid: spec.template.spec.containers[0].image: Required value';
    await syncUntilFinished({
      app: "web",
      revision: REV.r1,
      phase: "Failed",
      message,
      results: [
        result("Deployment", "frontend", {
          failed: 'Deployment.apps "frontend" is invalid: spec.template.spec.containers[0].image: Required value',
        }),
      ],
    });
    await refresh("web", { revision: REV.r2 }, "Healthy");
    const [req] = await sinks.failed.waitFor(1, 20_000);
    expect(req!.json).toEqual({ phase: "Failed", message, change: "failed" });
    await sinks.failed.waitQuiet(2_000);
    expect(sinks.failed.requests).toHaveLength(1);
    expect(sinks.synced.requests).toHaveLength(1);
    expect((await runner.runs("frontend-synced")).filter((r) => r.status.phase !== "Skipped")).toHaveLength(1);
    const failedRuns = await runner.runs("frontend-sync-failed");
    expect(failedRuns.filter((r) => r.status.phase === "Succeeded")).toHaveLength(1);
  });

  it("a multi-source Application: the run waits for Healthy (reconciled after the operation, Synced at its revisions)", async () => {
    await syncUntilFinished({
      app: "web-multi",
      revisions: [REV.a1, REV.b1],
      phase: "Succeeded",
      results: [result("Deployment", "frontend", "configured")],
    });
    // still Healthy at the previous revisions: not yet
    await waitForRun(runner, "multi-synced", (r) => r.status.phase === "Running", 20_000);
    await sleep(2_500);
    expect(sinks.multi.requests).toHaveLength(0);
    const tSynced = performance.now();
    await refresh("web-multi", { revisions: [REV.a1, REV.b1] }, "Healthy");
    const [req] = await sinks.multi.waitFor(1, 20_000);
    expect(req!.receivedAtPerf).toBeGreaterThan(tSynced);
    expect(req!.json).toEqual({ revisions: [REV.a1, REV.b1] });
    await sinks.multi.waitQuiet(2_000);
    expect(sinks.multi.requests).toHaveLength(1);
    figure(
      "Argo CD hooks: sink requests (synced / failed / multi)",
      `${sinks.synced.requests.length} / ${sinks.failed.requests.length} / ${sinks.multi.requests.length}`,
    );
  });
});
