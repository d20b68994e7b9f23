// The real Argo CD in the e2e stack (components/argocd.ts): its application controller and
// repo server sync an Application from a Git repository served on 127.0.0.1
// (components/git-server.ts) into the stack's kube-apiserver, where kube-controller-manager,
// kube-scheduler and kwok roll the Deployment out (components/cluster-controllers.ts).
// Everything asserted here was written by the real controller: its operationState, syncResult
// and health. Figures are printed as "[e2e figure]".
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { IN_CLUSTER, startArgoCd, type Application, type ArgoCd } from "./components/argocd.js";
import { startClusterControllers, type ClusterControllers } from "./components/cluster-controllers.js";
import { startGitServer, type GitRepo, type GitServer } from "./components/git-server.js";
import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";
import { frontendYaml, settingsYaml } from "./scenarios/argocd-app.js";
import type { KubeObject } from "./stack.js";

const APP = "shop";
const DEST_NS = "shop";
const stack = useStack();
let cc: ClusterControllers;
let git: GitServer;
let repo: GitRepo;
let argocd: ArgoCd;
let rev0 = "";

const op = (a: Application | undefined) => a?.status?.operationState;
const entry = (a: Application | undefined, kind: string, name: string) =>
  op(a)?.syncResult?.resources?.find((r) => r.kind === kind && r.name === name);

beforeAll(async () => {
  cc = await startClusterControllers(stack());
  git = await startGitServer({ dir: `${stack().dir}/git` });
  repo = await git.createRepo("apps");
  rev0 = await repo.commit(
    { "shop/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"), "shop/settings.yaml": settingsYaml("blue") },
    "frontend 1.0",
  );
  argocd = await startArgoCd(stack());
  const t = argocd.timings;
  figure("stack start (ms)", Math.round(stack.startMs()));
  figure("controllers + node start (ms)", Math.round(cc.timings.totalMs));
  figure(
    `Argo CD ${argocd.version} start (ms)`,
    `objects ${Math.round(t.setupMs)}, redis ${Math.round(t.redisMs)}, repo-server ${Math.round(t.repoServerMs)}, application-controller ${Math.round(t.controllerMs)}, total ${Math.round(t.totalMs)}`,
  );
});

afterAll(async () => {
  await argocd?.stop();
  await cc?.stop();
  await git?.close();
});

describe(`Argo CD's application controller (real) syncing from a local Git server`, () => {
  it("an automated Application syncs its Deployment into the cluster and becomes Healthy", async () => {
    const t = performance.now();
    await argocd.applyApplication({
      name: APP,
      spec: {
        project: "default",
        source: { repoURL: repo.url, targetRevision: "main", path: "shop" },
        destination: { server: IN_CLUSTER, namespace: DEST_NS },
        syncPolicy: { automated: { prune: true }, syncOptions: ["CreateNamespace=true"] },
      },
    });
    const app = await argocd.waitForApplication(
      APP,
      `Synced and Healthy at ${rev0}`,
      (a) =>
        a.status?.sync?.status === "Synced" &&
        a.status.sync.revision === rev0 &&
        a.status.health?.status === "Healthy" &&
        op(a)?.phase === "Succeeded",
      90_000,
    );
    figure("Application create -> Synced + Healthy (ms)", Math.round(performance.now() - t));
    expect(op(app)?.syncResult?.revision).toBe(rev0);
    expect(entry(app, "Deployment", "frontend")).toMatchObject({
      status: "Synced",
      message: "deployment.apps/frontend created",
    });
    expect(entry(app, "ConfigMap", "settings")).toMatchObject({
      status: "Synced",
      message: "configmap/settings created",
    });
    // the Deployment really exists and rolled out
    const d = await stack().admin.get<KubeObject & { status?: { availableReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${DEST_NS}/deployments/frontend`,
    );
    expect(d.status?.availableReplicas).toBe(2);
  });

  it("a commit changing the image: the controller syncs it (configured), the rollout makes the Application Healthy", async () => {
    const rec = await argocd.record(APP);
    try {
      const t = Date.now();
      const rev1 = await repo.commit(
        { "shop/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1") },
        "frontend 1.1",
      );
      // what Argo CD's Git webhook handler does on a push
      await argocd.refresh(APP);
      const finished = await rec.waitFor(
        `operationState Succeeded at ${rev1}`,
        (a) => op(a)?.phase === "Succeeded" && op(a)?.syncResult?.revision === rev1 && !!op(a)?.finishedAt,
        90_000,
      );
      const syncedMs = finished.at - t;
      const healthy = await rec.waitFor(
        `Healthy at ${rev1}`,
        (a) =>
          a.status?.health?.status === "Healthy" &&
          a.status.sync?.status === "Synced" &&
          a.status.sync.revision === rev1 &&
          op(a)?.syncResult?.revision === rev1,
        90_000,
      );
      const healthyMs = healthy.at - t;
      figure("commit -> operationState Succeeded (ms)", Math.round(syncedMs));
      figure("commit -> Application Healthy at the new revision (ms)", Math.round(healthyMs));
      figure(
        "writes to the Application from the commit until Healthy",
        rec.writes.filter((w) => w.at <= healthy.at).length - 1,
      );

      const fin = finished.object;
      expect(entry(fin, "Deployment", "frontend")).toMatchObject({
        group: "apps",
        kind: "Deployment",
        namespace: DEST_NS,
        status: "Synced",
        message: "deployment.apps/frontend configured",
      });
      expect(entry(fin, "ConfigMap", "settings")?.message).toBe("configmap/settings unchanged");
      expect(op(fin)?.operation).toMatchObject({ sync: { revision: rev1 }, initiatedBy: { automated: true } });
      // an operation the controller started: it was written (Running) before it finished
      expect(
        rec.writes.some((w) => op(w.object)?.phase === "Running" && op(w.object)?.startedAt === op(fin)?.startedAt),
      ).toBe(true);
      expect(healthy.at).toBeGreaterThanOrEqual(finished.at);

      const d = await stack().admin.get<{
        metadata: { generation: number };
        spec: { template: { spec: { containers: Array<{ image: string }> } } };
        status?: { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number };
      }>(`/apis/apps/v1/namespaces/${DEST_NS}/deployments/frontend`);
      expect(d.spec.template.spec.containers[0]?.image).toBe("registry.invalid/frontend:1.1");
      expect(d.status).toMatchObject({
        observedGeneration: d.metadata.generation,
        updatedReplicas: 2,
        availableReplicas: 2,
      });
    } finally {
      rec.stop();
    }
  });
});
