// `on.argocd` hooks against Argo CD's real application controller (issue 12, scenarios 1-8):
// Applications synced by the controller from a local Git server into the stack's
// kube-apiserver, rolled out by kube-controller-manager, kube-scheduler and kwok; the generated
// EventSource and Sensor, and the runner under its generated ServiceAccount. Nothing about the
// Application is written by the test except what a user or Git webhook writes (commits, the
// refresh annotation). Figures (commit → hook request latency) are printed as "[e2e figure]".
import { randomBytes } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  IN_CLUSTER,
  startArgoCd,
  type Application,
  type ApplicationRecorder,
  type ArgoCd,
} from "./components/argocd.js";
import { startClusterControllers, type ClusterControllers } from "./components/cluster-controllers.js";
import { startGitServer, type GitRepo, type GitServer } from "./components/git-server.js";
import { useStack } from "./harness.js";
import {
  dbYaml,
  frontendYaml,
  postSyncJobYaml,
  settingsYaml,
  WIDGET_CRD,
  WIDGET_YAML,
} from "./scenarios/argocd-app.js";
import {
  applyHookSet,
  figure,
  freePort,
  generateHookSet,
  runnerKubeconfig,
  startArgo,
  startRunner,
  waitForRun,
  type DeployedHookSet,
  type RunnerHandle,
} from "./hooks-env.js";
import { startHttpSink, type HttpSink } from "./stack.js";

const NS = "argo-events";
const TOKEN = randomBytes(24).toString("hex");
const SENSOR_ACCOUNT = { namespace: NS, name: "e2e-sensor" };
const APPS = {
  shop: "shop",
  ssa: "shop-ssa",
  retry: "shop-retry",
  manual: "shop-manual",
  waves: "shop-waves",
  degraded: "shop-degraded",
  multi: "shop-multi",
} as const;

const stack = useStack();
let cc: ClusterControllers;
let git: GitServer;
let argocd: ArgoCd;
let deployed: DeployedHookSet;
let runner: RunnerHandle;
const repos = {} as Record<keyof typeof APPS, GitRepo>;
const sinks = {} as Record<
  "deployed" | "any" | "ssa" | "retry" | "manual" | "waves" | "degraded" | "degradedOk" | "multi",
  HttpSink
>;
/** The multi-source Application's second source: the settings ConfigMap in a repository of its own. */
let multiConfig: GitRepo;

/** A multi-step Application: settings (wave -1), StatefulSet db + Service (wave 0), frontend (wave 1), a PostSync Job. */
function wavesFiles(version: string): Record<string, string> {
  return {
    "app/settings.yaml": settingsYaml("blue", -1),
    "app/db.yaml": dbYaml(`registry.invalid/db:${version}`, 0),
    "app/frontend.yaml": frontendYaml(`registry.invalid/frontend:${version}`, { wave: 1 }),
    "app/smoke.yaml": postSyncJobYaml("smoke"),
  };
}

function hooksYaml(runnerUrl: string): string {
  const body = `{app: "{{ application.metadata.name }}", revision: "{{ operation.revision }}", startedAt: "{{ operation.startedAt }}", change: "{{ resources[0].change }}", evidence: "{{ resources[0].evidence }}", selfHeal: "{{ operation.selfHeal }}"}`;
  const hook = (
    name: string,
    app: string,
    sink: HttpSink,
    extra: string,
    kind = "Deployment",
    resource = "frontend",
  ) => `    - name: ${name}
      on:
        argocd:
          application: ${app}
          resources: [{kind: ${kind}, name: ${resource}}]
${extra}      steps:
        - name: tell
          http:
            url: ${sink.url}/${name}
            body: ${body}
`;
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: e2e-argocd-real
  namespace: ${NS}
spec:
  runner:
    url: ${runnerUrl}
  hooks:
${hook("shop-deployed", APPS.shop, sinks.deployed, `          healthy: true\n        when: "!operation.selfHeal"\n`)}${hook("shop-any", APPS.shop, sinks.any, "")}${hook("ssa-frontend", APPS.ssa, sinks.ssa, "")}${hook("retry-frontend", APPS.retry, sinks.retry, "")}${hook("manual-healthy", APPS.manual, sinks.manual, "          healthy: true\n")}${hook("waves-db", APPS.waves, sinks.waves, "", "StatefulSet", "db")}${hook("degraded-failed", APPS.degraded, sinks.degraded, "          phases: [Failed, Error]\n")}${hook("degraded-succeeded", APPS.degraded, sinks.degradedOk, "")}    - name: multi-deployed
      on:
        argocd:
          application: ${APPS.multi}
          resources: [{kind: Deployment, name: frontend}]
          healthy: true
      steps:
        - name: tell
          http:
            url: ${sinks.multi.url}/multi-deployed
            body: {revisions: "{{ operation.revisions }}", change: "{{ resources[0].change }}"}
`;
}

const op = (a: Application | undefined) => a?.status?.operationState;
const succeededAt = (rev: string) => (a: Application) =>
  op(a)?.phase === "Succeeded" && op(a)?.syncResult?.revision === rev && !!op(a)?.finishedAt;
/** What `healthy: true` waits for: Healthy as assessed after the operation finished. */
const healthyAfter = (rev: string) => (a: Application) =>
  succeededAt(rev)(a) &&
  a.status?.health?.status === "Healthy" &&
  Date.parse(a.status.reconciledAt ?? "") >= Date.parse(op(a)?.finishedAt ?? "") &&
  a.status.sync?.status === "Synced";

async function commitAndRefresh(
  key: keyof typeof APPS,
  files: Record<string, string | null>,
  message: string,
): Promise<{ rev: string; at: number }> {
  const at = Date.now();
  const rev = await repos[key].commit(files, message);
  // what Argo CD's Git webhook handler does on a push
  await argocd.refresh(APPS[key]);
  return { rev, at };
}

beforeAll(async () => {
  const s = stack();
  for (const name of ["deployed", "any", "ssa", "retry", "manual", "waves", "degraded", "degradedOk", "multi"] as const)
    sinks[name] = await startHttpSink();
  cc = await startClusterControllers(s);
  git = await startGitServer({ dir: `${s.dir}/git` });
  for (const key of Object.keys(APPS) as Array<keyof typeof APPS>) {
    repos[key] = await git.createRepo(APPS[key]);
    const files =
      key === "waves"
        ? wavesFiles("1.0")
        : key === "degraded"
          ? {
              // cannot schedule (no node matches): Progressing until the deadline, then Degraded
              "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0")
                .replace("  replicas: 2\n", "  replicas: 1\n  progressDeadlineSeconds: 10\n")
                .replace(
                  "    spec:\n      containers:",
                  '    spec:\n      nodeSelector:\n        e2e.resource-hooks.io/none: "true"\n      containers:',
                ),
              "app/settings.yaml": settingsYaml("blue", 1),
            }
          : key === "multi"
            ? { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0") }
            : {
                "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
                "app/settings.yaml": settingsYaml("blue"),
              };
    await repos[key].commit(files, "initial");
  }
  multiConfig = await git.createRepo(`${APPS.multi}-config`);
  await multiConfig.commit({ "app/settings.yaml": settingsYaml("blue") }, "initial");
  argocd = await startArgoCd(s);
  figure(`Argo CD ${argocd.version} start (ms)`, argocd.timings.totalMs);
  const spec = (key: keyof typeof APPS, syncPolicy: Record<string, unknown>) => ({
    project: "default",
    source: { repoURL: repos[key].url, targetRevision: "main", path: "app" },
    destination: { server: IN_CLUSTER, namespace: APPS[key] },
    syncPolicy,
  });
  await argocd.applyApplication({
    name: APPS.shop,
    spec: spec("shop", { automated: { prune: true, selfHeal: true }, syncOptions: ["CreateNamespace=true"] }),
  });
  await argocd.applyApplication({
    name: APPS.ssa,
    spec: spec("ssa", { automated: { prune: true }, syncOptions: ["CreateNamespace=true", "ServerSideApply=true"] }),
  });
  await argocd.applyApplication({
    name: APPS.retry,
    spec: spec("retry", {
      automated: { prune: true },
      syncOptions: ["CreateNamespace=true"],
      retry: { limit: 5, backoff: { duration: "3s", factor: 2, maxDuration: "30s" } },
    }),
  });
  // manual sync policy: synced once, the way `argocd app sync` does (it copies the syncOptions)
  await argocd.applyApplication({ name: APPS.manual, spec: spec("manual", { syncOptions: ["CreateNamespace=true"] }) });
  await argocd.waitForApplication(
    APPS.manual,
    "OutOfSync (nothing deployed yet)",
    (a) => a.status?.sync?.status === "OutOfSync",
    60_000,
  );
  await argocd.sync(APPS.manual, { revision: "main", syncOptions: ["CreateNamespace=true"] });
  await argocd.applyApplication({
    name: APPS.waves,
    spec: spec("waves", { automated: { prune: true }, syncOptions: ["CreateNamespace=true"] }),
  });
  const { source, ...multiSpec } = spec("multi", { automated: { prune: true }, syncOptions: ["CreateNamespace=true"] });
  await argocd.applyApplication({
    name: APPS.multi,
    spec: { ...multiSpec, sources: [source, { repoURL: multiConfig.url, targetRevision: "main", path: "app" }] },
  });
  for (const name of Object.values(APPS).filter((n) => n !== APPS.degraded)) {
    await argocd.waitForApplication(
      name,
      "Synced and Healthy",
      (a) =>
        a.status?.sync?.status === "Synced" && a.status.health?.status === "Healthy" && op(a)?.phase === "Succeeded",
      120_000,
    );
  }

  const port = await freePort();
  deployed = generateHookSet(s, "e2e-argocd-real", hooksYaml(`http://127.0.0.1:${port}`));
  await s.apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: SENSOR_ACCOUNT },
  ]);
  await applyHookSet(s, deployed, TOKEN);
  runner = await startRunner(s, {
    hooksFile: deployed.hooksFile,
    port,
    token: TOKEN,
    namespace: NS,
    kubeconfig: await runnerKubeconfig(s, deployed),
    podName: "e2e-argocd-real-runner-7c4d9-abcde",
  });
  // The stack stops the EventSource and Sensor it started.
  await startArgo(s, deployed, { sensorAccount: SENSOR_ACCOUNT });
  // (the event source's first ADDs are published before the Sensor subscribes: the hooks start
  // without a baseline, which UPDATEs do not need)
}, 600_000);

afterAll(async () => {
  await Promise.all(Object.values(sinks).map((x) => x?.close()));
  await argocd?.stop();
  await cc?.stop();
  await git?.close();
});

/** Records the Application's writes during `fn`. */
async function recording<T>(app: string, fn: (rec: ApplicationRecorder) => Promise<T>): Promise<T> {
  const rec = await argocd.record(app);
  try {
    return await fn(rec);
  } finally {
    rec.stop();
  }
}

describe("Argo CD hooks on Argo CD's real application controller", () => {
  it("1. a commit changing frontend's image: the healthy: true hook runs once, after the rollout made the Application Healthy", async () => {
    await recording(APPS.shop, async (rec) => {
      // minReadySeconds keeps the rollout Progressing for at least 2 x 3 s after the sync applied it (each new
      // pod in turn): without it kwok rolls out in well under a second, and on a loaded machine Argo CD's first
      // assessment after the operation may already find the rollout done, which would leave nothing to wait for
      const { rev, at } = await commitAndRefresh(
        "shop",
        { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1", { minReadySeconds: 3 }) },
        "frontend 1.1",
      );
      const [req] = await sinks.deployed.waitFor(1, 120_000);
      const finished = await rec.waitFor("operation Succeeded", succeededAt(rev), 10_000);
      const healthy = await rec.waitFor("Healthy after the operation", healthyAfter(rev), 10_000);
      figure("scenario 1: commit -> operation finished (ms)", finished.at - at);
      figure("scenario 1: commit -> Healthy after the operation (ms)", healthy.at - at);
      figure("scenario 1: commit -> healthy: true hook's request (ms)", req!.receivedAt - at);
      // Argo CD assessed the finished operation as Progressing before Healthy: a hook that fired on the finished
      // operation alone would have come before `healthy`
      expect(
        rec.writes.some((w) => succeededAt(rev)(w.object) && w.object.status?.health?.status === "Progressing"),
      ).toBe(true);
      expect(req!.receivedAt).toBeGreaterThanOrEqual(healthy.at);
      expect(req!.json).toMatchObject({ app: APPS.shop, revision: rev, change: "configured", selfHeal: false });
      const [any] = await sinks.any.waitFor(1, 30_000);
      figure("scenario 1: commit -> hook without healthy: true (ms)", any!.receivedAt - at);
      expect(any!.receivedAt).toBeLessThan(req!.receivedAt);
      await sinks.deployed.waitQuiet(3_000);
      expect(sinks.deployed.requests).toHaveLength(1);
      expect(sinks.any.requests).toHaveLength(1);
    });
  });

  it("2. a commit changing only the settings ConfigMap runs nothing for frontend's hooks", async () => {
    await recording(APPS.shop, async (rec) => {
      const { rev, at } = await commitAndRefresh(
        "shop",
        { "app/settings.yaml": settingsYaml("green") },
        "settings green",
      );
      const done = await rec.waitFor("Healthy after the operation", healthyAfter(rev), 120_000);
      figure("scenario 2: commit -> Healthy after the operation (ms)", done.at - at);
      expect(op(done.object)?.syncResult?.resources?.find((r) => r.kind === "Deployment")?.message).toBe(
        "deployment.apps/frontend unchanged",
      );
      const skipped = await waitForRun(
        runner,
        "shop-any",
        (r) => r.status.phase === "Skipped" && /changed none of Deployment\/frontend/.test(r.status.message ?? ""),
        30_000,
      );
      figure("scenario 2: commit -> Skipped HookRun (ms)", Date.parse(skipped.status.completionTime ?? "") - at);
      await sinks.any.waitQuiet(3_000);
      expect(sinks.any.requests).toHaveLength(1);
      expect(sinks.deployed.requests).toHaveLength(1);
    });
  });

  it("3. ServerSideApply=true: every entry says serverside-applied; the image commit runs the hook once, the settings commit does not", async () => {
    await recording(APPS.ssa, async (rec) => {
      const image = await commitAndRefresh(
        "ssa",
        { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1") },
        "frontend 1.1",
      );
      const [req] = await sinks.ssa.waitFor(1, 120_000);
      figure("scenario 3 (SSA): commit -> hook's request (ms)", req!.receivedAt - image.at);
      const fin = await rec.waitFor("operation Succeeded", succeededAt(image.rev), 10_000);
      expect(op(fin.object)?.syncResult?.resources?.map((r) => r.message)).toEqual([
        "configmap/settings serverside-applied",
        "deployment.apps/frontend serverside-applied",
      ]);
      expect(req!.json).toMatchObject({
        revision: image.rev,
        change: "applied",
        evidence: expect.stringMatching(/OutOfSync/),
      });

      const other = await commitAndRefresh("ssa", { "app/settings.yaml": settingsYaml("green") }, "settings green");
      await rec.waitFor("settings operation Succeeded", succeededAt(other.rev), 120_000);
      await waitForRun(
        runner,
        "ssa-frontend",
        (r) => r.status.phase === "Skipped" && /changed none/.test(r.status.message ?? ""),
        30_000,
      );
      await sinks.ssa.waitQuiet(3_000);
      expect(sinks.ssa.requests).toHaveLength(1);
    });
  });

  it("4. a sync whose first attempt fails and whose retry succeeds: frontend's change (configured, then unchanged) runs the hook once", async () => {
    await recording(APPS.retry, async (rec) => {
      const { rev, at } = await commitAndRefresh(
        "retry",
        { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"), "app/widget.yaml": WIDGET_YAML },
        "frontend 1.1 + widget",
      );
      await rec.waitFor("a failed attempt", (a) => (op(a)?.retryCount ?? 0) >= 1, 120_000);
      await stack().apply([WIDGET_CRD]);
      const fin = await rec.waitFor("operation Succeeded", succeededAt(rev), 180_000);
      expect(op(fin.object)?.syncResult?.resources?.find((r) => r.kind === "Deployment")?.message).toBe(
        "deployment.apps/frontend unchanged",
      );
      const [req] = await sinks.retry.waitFor(1, 30_000);
      figure("scenario 4 (retry): commit -> hook's request (ms)", req!.receivedAt - at);
      expect(req!.json).toMatchObject({
        revision: rev,
        change: "unchanged",
        evidence: expect.stringMatching(/earlier write of this operation's result/),
      });
      await sinks.retry.waitQuiet(3_000);
      expect(sinks.retry.requests).toHaveLength(1);
    });
  });

  it("6. self-heal: an out-of-band edit is reverted; the hook sees operation.selfHeal, the `!operation.selfHeal` hook does not run", async () => {
    await recording(APPS.shop, async (rec) => {
      const at = Date.now();
      const before = op(await argocd.getApplication(APPS.shop))?.startedAt;
      await stack().admin.call("PATCH", `/apis/apps/v1/namespaces/${APPS.shop}/deployments/frontend`, {
        body: {
          spec: {
            template: { spec: { containers: [{ name: "frontend", image: "registry.invalid/frontend:hotfix" }] } },
          },
        },
        contentType: "application/strategic-merge-patch+json",
      });
      const [, req] = await sinks.any.waitFor(2, 120_000);
      figure("scenario 6 (self-heal): out-of-band edit -> hook's request (ms)", req!.receivedAt - at);
      expect(req!.json).toMatchObject({ app: APPS.shop, change: "configured", selfHeal: true });
      const heal = rec.writes
        .map((w) => w.object)
        .find((a) => op(a)?.phase === "Succeeded" && op(a)?.startedAt !== before);
      expect(
        (op(heal)?.operation as { sync?: { autoHealAttemptsCount?: number } } | undefined)?.sync?.autoHealAttemptsCount,
      ).toBeGreaterThan(0);
      await waitForRun(
        runner,
        "shop-deployed",
        (r) => r.status.phase === "Skipped" && /when/.test(r.status.message ?? ""),
        30_000,
      );
      await sinks.any.waitQuiet(3_000);
      expect(sinks.any.requests).toHaveLength(2);
      expect(sinks.deployed.requests).toHaveLength(1);
    });
  });

  it("7. a dry-run sync runs nothing; a real sync and then a rollback to the previous revision each run the healthy: true hook once, after Healthy", async () => {
    await recording(APPS.manual, async (rec) => {
      const rev0 = op(await argocd.getApplication(APPS.manual))?.syncResult?.revision ?? "";
      const { rev } = await commitAndRefresh(
        "manual",
        { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1") },
        "frontend 1.1",
      );
      await rec.waitFor(
        "OutOfSync at the commit",
        (a) => a.status?.sync?.status === "OutOfSync" && a.status.sync.revision === rev,
        60_000,
      );
      await argocd.sync(APPS.manual, { revision: "main", dryRun: true, syncOptions: ["CreateNamespace=true"] });
      const dry = await rec.waitFor(
        "dry-run operation Succeeded",
        (a) => succeededAt(rev)(a) && (op(a)?.operation as { sync?: { dryRun?: boolean } })?.sync?.dryRun === true,
        60_000,
      );
      expect(op(dry.object)?.syncResult?.resources?.find((r) => r.kind === "Deployment")?.message).toBe(
        "deployment.apps/frontend configured (dry run)",
      );
      await waitForRun(
        runner,
        "manual-healthy",
        (r) => r.status.phase === "Skipped" && /dry run/.test(r.status.message ?? ""),
        30_000,
      );
      await sinks.manual.waitQuiet(3_000);
      expect(sinks.manual.requests).toHaveLength(0);

      let at = Date.now();
      await argocd.sync(APPS.manual, { revision: "main", syncOptions: ["CreateNamespace=true"] });
      const [req] = await sinks.manual.waitFor(1, 120_000);
      const healthy = await rec.waitFor("Healthy after the sync", healthyAfter(rev), 10_000);
      figure("scenario 7: sync -> healthy: true hook's request (ms)", req!.receivedAt - at);
      expect(req!.receivedAt).toBeGreaterThanOrEqual(healthy.at);
      expect(req!.json).toMatchObject({ revision: rev, change: "configured" });

      // the rollback: a sync to the previous revision; the Application stays OutOfSync with main
      at = Date.now();
      await argocd.sync(APPS.manual, {
        revision: rev0,
        username: "e2e-rollback",
        syncOptions: ["CreateNamespace=true"],
      });
      const [, back] = await sinks.manual.waitFor(2, 120_000);
      figure("scenario 7: rollback sync -> healthy: true hook's request (ms)", back!.receivedAt - at);
      expect(back!.json).toMatchObject({ revision: rev0, change: "configured" });
      const after = await argocd.getApplication(APPS.manual);
      expect(after?.status?.sync).toMatchObject({ status: "OutOfSync", revision: rev });
      expect(after?.status?.health?.status).toBe("Healthy");
      await sinks.manual.waitQuiet(3_000);
      expect(sinks.manual.requests).toHaveLength(2);
    });
  });

  it("5. multi-step: a changed StatefulSet in wave 0 (its message later replaced by its health) runs its hook once; a Degraded resource runs the phases: [Failed] hook once", async () => {
    await recording(APPS.waves, async (rec) => {
      const { rev, at } = await commitAndRefresh("waves", wavesFiles("1.1"), "db and frontend 1.1");
      const fin = await rec.waitFor("operation Succeeded", succeededAt(rev), 180_000);
      const db = op(fin.object)?.syncResult?.resources?.find((r) => r.kind === "StatefulSet");
      expect(db).toMatchObject({ hookPhase: "Succeeded", message: expect.not.stringMatching(/configured$/) });
      expect(op(fin.object)?.syncResult?.resources?.find((r) => r.kind === "Job")).toMatchObject({
        hookType: "PostSync",
      });
      const [req] = await sinks.waves.waitFor(1, 30_000);
      figure("scenario 5 (waves): commit -> StatefulSet hook's request (ms)", req!.receivedAt - at);
      figure("scenario 5 (waves): commit -> operation finished (ms)", fin.at - at);
      expect(req!.json).toMatchObject({
        revision: rev,
        change: "other",
        evidence: expect.stringMatching(/earlier write of this operation's result/),
      });
      await sinks.waves.waitQuiet(3_000);
      expect(sinks.waves.requests).toHaveLength(1);
    });

    const at = Date.now();
    await argocd.applyApplication({
      name: APPS.degraded,
      spec: {
        project: "default",
        source: { repoURL: repos.degraded.url, targetRevision: "main", path: "app" },
        destination: { server: IN_CLUSTER, namespace: APPS.degraded },
        syncPolicy: {
          automated: { prune: true },
          syncOptions: ["CreateNamespace=true"],
          retry: { limit: 1, backoff: { duration: "2s", factor: 2, maxDuration: "10s" } },
        },
      },
    });
    const [req] = await sinks.degraded.waitFor(1, 180_000);
    figure("scenario 5 (Degraded): Application created -> phases: [Failed] hook's request (ms)", req!.receivedAt - at);
    const app = await argocd.getApplication(APPS.degraded);
    expect(op(app)?.phase).toBe("Failed");
    expect(op(app)?.syncResult?.resources?.find((r) => r.kind === "Deployment")).toMatchObject({
      status: "Synced",
      hookPhase: "Failed",
    });
    expect(req!.json).toMatchObject({ app: APPS.degraded, change: "failed" });
    await sinks.degraded.waitQuiet(3_000);
    expect(sinks.degraded.requests).toHaveLength(1);
    // scenario 8 "failed sync" on the real controller: the phases: [Failed] hook above ran once;
    // the hook with the default phases: [Succeeded] ran nothing for that operation
    expect(sinks.degradedOk.requests).toHaveLength(0);
    expect((await runner.runs("degraded-succeeded")).filter((r) => r.status.phase !== "Skipped")).toEqual([]);
  });

  it("8d. multi-source: a commit changing frontend's image in one of two sources runs the healthy: true hook once, after Healthy", async () => {
    const multiSucceededAt = (revs: string[]) => (a: Application) =>
      op(a)?.phase === "Succeeded" &&
      !!op(a)?.finishedAt &&
      JSON.stringify((op(a)?.syncResult as { revisions?: string[] } | undefined)?.revisions) === JSON.stringify(revs);
    const multiHealthyAfter = (revs: string[]) => (a: Application) =>
      multiSucceededAt(revs)(a) &&
      a.status?.health?.status === "Healthy" &&
      a.status.sync?.status === "Synced" &&
      Date.parse(a.status.reconciledAt ?? "") >= Date.parse(op(a)?.finishedAt ?? "");
    await recording(APPS.multi, async (rec) => {
      const configRev = await multiConfig.head();
      // minReadySeconds: Progressing is seen after the operation, as in scenario 1
      const { rev, at } = await commitAndRefresh(
        "multi",
        { "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1", { minReadySeconds: 3 }) },
        "frontend 1.1",
      );
      const [req] = await sinks.multi.waitFor(1, 120_000);
      const fin = await rec.waitFor("operation Succeeded", multiSucceededAt([rev, configRev]), 10_000);
      const healthy = await rec.waitFor("Healthy after the operation", multiHealthyAfter([rev, configRev]), 10_000);
      figure("scenario 8d (multi-source): commit -> operation finished (ms)", fin.at - at);
      figure("scenario 8d (multi-source): commit -> healthy: true hook's request (ms)", req!.receivedAt - at);
      expect(
        rec.writes.some(
          (w) => multiSucceededAt([rev, configRev])(w.object) && w.object.status?.health?.status === "Progressing",
        ),
      ).toBe(true);
      expect(req!.receivedAt).toBeGreaterThanOrEqual(healthy.at);
      expect(req!.json).toMatchObject({ revisions: [rev, configRev], change: "configured" });
      await sinks.multi.waitQuiet(3_000);
      expect(sinks.multi.requests).toHaveLength(1);
    });
  });
});
