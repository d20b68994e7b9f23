// Records what Argo CD's real application controller writes to Applications, as fixtures
// for the unit tests of the `on.argocd` model (issue 12, "Fix the model, then prove it").
//
//   npx tsx scripts/e2e/record-argocd-fixtures.ts [scenario...]     (default: all)
//
// It starts the e2e stack with real rollouts (kube-controller-manager, kube-scheduler, kwok)
// and the real Argo CD (test/e2e/components/), drives each scenario through Git commits and
// `operation` writes the way a user or the Git webhook would, and writes every version of the
// Application a watch delivered, in order, to test/fixtures/argocd/<scenario>/NNN.json, plus
// <scenario>/steps.json: what was done when (relative to the first write), the revisions and
// the Argo CD version. Each NNN.json is the whole Application as the API returned it, minus
// metadata.managedFields. Needs what `npm run test:e2e` needs (root, the built binaries,
// redis-server, git).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  IN_CLUSTER,
  startArgoCd,
  type Application,
  type ApplicationRecorder,
  type ArgoCd,
} from "../../test/e2e/components/argocd.js";
import { startClusterControllers, type ClusterControllers } from "../../test/e2e/components/cluster-controllers.js";
import { startGitServer, type GitRepo, type GitServer } from "../../test/e2e/components/git-server.js";
import { pollUntil, startStack, type Stack } from "../../test/e2e/stack.js";
import {
  dbYaml,
  frontendYaml,
  postSyncJobYaml,
  settingsYaml,
  WIDGET_CRD,
  WIDGET_YAML,
} from "../../test/e2e/scenarios/argocd-app.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const OUT = path.join(REPO_ROOT, "test/fixtures/argocd");

interface Ctx {
  stack: Stack;
  argocd: ArgoCd;
  git: GitServer;
}

interface Step {
  /** ms since the recording started */
  atMs: number;
  action: string;
  revision?: string;
}

class Scenario {
  readonly steps: Step[] = [];
  readonly revisions: Record<string, string> = {};
  rec!: ApplicationRecorder;
  repo!: GitRepo;
  private t0 = Date.now();
  constructor(
    readonly ctx: Ctx,
    readonly name: string,
    readonly description: string,
  ) {}

  get app(): string {
    return this.name;
  }

  step(action: string, revision?: string): void {
    this.steps.push({ atMs: Date.now() - this.t0, action, ...(revision ? { revision } : {}) });
    console.log(`[${this.name}] ${action}${revision ? ` (${revision.slice(0, 8)})` : ""}`);
  }

  async start(files: Record<string, string>, spec: (repoURL: string) => Record<string, unknown>): Promise<string> {
    this.repo = await this.ctx.git.createRepo(this.name);
    const rev0 = await this.repo.commit(files, "initial");
    this.revisions.rev0 = rev0;
    this.t0 = Date.now();
    await this.ctx.argocd.applyApplication({ name: this.app, spec: spec(this.repo.url) });
    this.rec = await this.ctx.argocd.record(this.app);
    this.step("Application created", rev0);
    return rev0;
  }

  async commit(label: string, files: Record<string, string | null>, refresh = true): Promise<string> {
    const rev = await this.repo.commit(files, label);
    this.revisions[label] = rev;
    this.step(`commit: ${label}`, rev);
    if (refresh) {
      await this.ctx.argocd.refresh(this.app);
      this.step("refresh annotation (as the Git webhook does)");
    }
    return rev;
  }

  /** Waits for a write matching pred that comes after the writes seen so far. */
  async waitNext(what: string, pred: (a: Application) => boolean, timeoutMs = 120_000): Promise<Application> {
    const from = this.rec.writes.length;
    const w = await this.rec.waitFor(what, pred, timeoutMs, from);
    this.step(`observed: ${what}`);
    return w.object;
  }

  /** Waits until the Application is quiet (no write for quietMs), to catch trailing writes. */
  async settle(quietMs = 4_000): Promise<void> {
    let n = -1;
    await pollUntil(
      `${this.name} quiet`,
      120_000,
      async () => {
        const last = this.rec.writes.at(-1)?.at ?? 0;
        if (this.rec.writes.length === n && Date.now() - last >= quietMs) return true;
        n = this.rec.writes.length;
        return undefined;
      },
      500,
    );
  }

  write(): void {
    this.rec.stop();
    const dir = path.join(OUT, this.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const first = this.rec.writes[0]?.at ?? this.t0;
    this.rec.writes.forEach((w, i) => {
      const obj = structuredClone(w.object) as Application & { metadata: { managedFields?: unknown } };
      delete obj.metadata.managedFields;
      writeFileSync(
        path.join(dir, `${String(i).padStart(3, "0")}.json`),
        `${JSON.stringify({ event: w.type, atMs: w.at - first, application: obj }, null, 2)}\n`,
      );
    });
    writeFileSync(
      path.join(dir, "steps.json"),
      `${JSON.stringify({ scenario: this.name, description: this.description, argoCdVersion: this.ctx.argocd.version, revisions: this.revisions, steps: this.steps }, null, 2)}\n`,
    );
    console.log(`[${this.name}] ${this.rec.writes.length} writes -> ${path.relative(REPO_ROOT, dir)}`);
  }
}

// ------------------------------------------------------------------ manifests

const appSpec =
  (ns: string, policy: Record<string, unknown> | undefined, syncOptions: string[] = []) =>
  (repoURL: string): Record<string, unknown> => ({
    project: "default",
    source: { repoURL, targetRevision: "main", path: "app" },
    destination: { server: IN_CLUSTER, namespace: ns },
    syncPolicy: { ...(policy ? { automated: policy } : {}), syncOptions: ["CreateNamespace=true", ...syncOptions] },
  });

// what `argocd app sync` copies from the Application's syncPolicy into the operation it writes
const SYNC_OPTIONS = ["CreateNamespace=true"];

const op = (a: Application) => a.status?.operationState;
const succeededAt = (rev: string) => (a: Application) =>
  op(a)?.phase === "Succeeded" && op(a)?.syncResult?.revision === rev && !!op(a)?.finishedAt;
const healthyAt = (rev: string) => (a: Application) =>
  a.status?.health?.status === "Healthy" && a.status.sync?.status === "Synced" && a.status.sync.revision === rev;

// ------------------------------------------------------------------ scenarios

const scenarios: Record<string, { description: string; run: (s: Scenario) => Promise<void> }> = {
  "plain-sync": {
    description:
      "automated sync (prune): create; a commit changing frontend's image; a commit changing only the settings ConfigMap; an empty commit (new revision, nothing to sync)",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("plain-sync", { prune: true }),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      const rev1 = await s.commit("frontend image 1.1", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
      });
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1));
      await s.waitNext("Healthy at rev1", healthyAt(rev1));
      await s.settle();
      const rev2 = await s.commit("settings green", { "app/settings.yaml": settingsYaml("green") });
      await s.waitNext("operation Succeeded at rev2", succeededAt(rev2));
      await s.waitNext("Healthy at rev2", healthyAt(rev2));
      await s.settle();
      const rev3 = await s.commit("empty commit", {});
      await s.waitNext("Synced at rev3 (no operation)", (a) => a.status?.sync?.revision === rev3);
      await s.settle();
    },
  },
  "server-side-apply": {
    description: "automated sync with ServerSideApply=true: create; frontend image change; settings-only change",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("server-side-apply", { prune: true }, ["ServerSideApply=true"]),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      const rev1 = await s.commit("frontend image 1.1", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
      });
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1));
      await s.waitNext("Healthy at rev1", healthyAt(rev1));
      await s.settle();
      const rev2 = await s.commit("settings green", { "app/settings.yaml": settingsYaml("green") });
      await s.waitNext("operation Succeeded at rev2", succeededAt(rev2));
      await s.waitNext("Healthy at rev2", healthyAt(rev2));
      await s.settle();
    },
  },
  retry: {
    description:
      "automated sync with retry: a commit changes frontend's image (wave 0) and adds a Widget (wave 1, SkipDryRunOnMissingResource) whose CRD does not exist yet: the first attempt configures frontend and fails on the Widget; the CRD is then created and the retry succeeds",
    run: async (s) => {
      const spec = appSpec("retry", { prune: true });
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        (url) => ({
          ...spec(url),
          syncPolicy: {
            automated: { prune: true },
            syncOptions: ["CreateNamespace=true"],
            retry: { limit: 5, backoff: { duration: "3s", factor: 2, maxDuration: "30s" } },
          },
        }),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      const rev1 = await s.commit("frontend 1.1 + widget", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
        "app/widget.yaml": WIDGET_YAML,
      });
      await s.waitNext(
        "an attempt failed (retrying)",
        (a) => (op(a)?.retryCount ?? 0) >= 1 || op(a)?.phase === "Failed" || op(a)?.phase === "Error",
      );
      await s.ctx.stack.apply([WIDGET_CRD]);
      s.step("created the Widget CRD");
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1), 180_000);
      await s.waitNext("Healthy after rev1", (a) => a.status?.health?.status === "Healthy" && succeededAt(rev1)(a));
      await s.settle();
    },
  },
  "waves-hooks": {
    description:
      "automated sync of a multi-step Application: settings (wave -1), StatefulSet db + Service (wave 0), frontend (wave 1), a PostSync Job hook; then a commit changing db's and frontend's images",
    run: async (s) => {
      const files = (v: string): Record<string, string> => ({
        "app/settings.yaml": settingsYaml("blue", -1),
        "app/db.yaml": dbYaml(`registry.invalid/db:${v}`, 0),
        "app/frontend.yaml": frontendYaml(`registry.invalid/frontend:${v}`, { wave: 1 }),
        "app/smoke.yaml": postSyncJobYaml("smoke"),
      });
      const rev0 = await s.start(files("1.0"), appSpec("waves-hooks", { prune: true }));
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a), 180_000);
      await s.settle();
      const rev1 = await s.commit("db and frontend 1.1", files("1.1"));
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1), 180_000);
      await s.waitNext("Healthy at rev1", healthyAt(rev1));
      await s.settle();
    },
  },
  "self-heal": {
    description:
      "automated sync with selfHeal: an out-of-band edit of frontend's image (as admin) is reverted by the controller",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("self-heal", { prune: true, selfHeal: true }),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      await s.settle();
      const startedBefore = op((await s.ctx.argocd.getApplication(s.app))!)?.startedAt;
      await s.ctx.stack.admin.call("PATCH", "/apis/apps/v1/namespaces/self-heal/deployments/frontend", {
        body: {
          spec: {
            template: { spec: { containers: [{ name: "frontend", image: "registry.invalid/frontend:hotfix" }] } },
          },
        },
        contentType: "application/strategic-merge-patch+json",
      });
      s.step("kubectl-like patch of frontend's image (out of band)");
      await s.waitNext(
        "self-heal operation Succeeded",
        (a) => succeededAt(rev0)(a) && op(a)?.startedAt !== startedBefore,
      );
      await s.waitNext("Healthy again", healthyAt(rev0));
      await s.settle();
    },
  },
  "dry-run": {
    description:
      "manual sync policy: sync rev0; a commit changing frontend's image; a dry-run sync (nothing applied); the app stays OutOfSync",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("dry-run", undefined),
      );
      await s.waitNext("OutOfSync (nothing deployed yet)", (a) => a.status?.sync?.status === "OutOfSync");
      await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: "main" });
      s.step("sync (operation written)");
      await s.waitNext("operation Succeeded at rev0", succeededAt(rev0));
      await s.waitNext("Healthy at rev0", healthyAt(rev0));
      await s.settle();
      const rev1 = await s.commit("frontend image 1.1", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
      });
      await s.waitNext(
        "OutOfSync at rev1",
        (a) => a.status?.sync?.status === "OutOfSync" && a.status.sync.revision === rev1,
      );
      await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: "main", dryRun: true });
      s.step("dry-run sync (operation written)");
      await s.waitNext("dry-run operation Succeeded at rev1", succeededAt(rev1));
      await s.settle();
    },
  },
  rollback: {
    description:
      "manual sync policy: sync rev0, a commit (rev1) synced, then a rollback: a sync to rev0's revision (what `argocd app rollback` does); the app is then OutOfSync with main",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("rollback", undefined),
      );
      await s.waitNext("OutOfSync (nothing deployed yet)", (a) => a.status?.sync?.status === "OutOfSync");
      await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: "main" });
      s.step("sync (operation written)");
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      await s.settle();
      const rev1 = await s.commit("frontend image 1.1", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
      });
      await s.waitNext(
        "OutOfSync at rev1",
        (a) => a.status?.sync?.status === "OutOfSync" && a.status.sync.revision === rev1,
      );
      await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: "main" });
      s.step("sync (operation written)");
      await s.waitNext("Healthy at rev1", (a) => healthyAt(rev1)(a) && succeededAt(rev1)(a));
      await s.settle();
      await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: rev0, username: "e2e-rollback" });
      s.step("rollback: sync to rev0", rev0);
      await s.waitNext("operation Succeeded at rev0", succeededAt(rev0));
      await s.waitNext(
        "Healthy after the rollback",
        (a) => a.status?.health?.status === "Healthy" && succeededAt(rev0)(a),
      );
      await s.settle();
    },
  },
  "apply-out-of-sync-only": {
    description:
      "automated sync with ApplyOutOfSyncOnly=true: create; a commit changing only frontend's image (settings is in sync and gets no syncResult entry)",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("apply-out-of-sync-only", { prune: true }, ["ApplyOutOfSyncOnly=true"]),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      await s.settle();
      const rev1 = await s.commit("frontend image 1.1", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1"),
      });
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1));
      await s.waitNext("Healthy at rev1", healthyAt(rev1));
      await s.settle();
    },
  },
  "replace-adopted": {
    description:
      "settings ConfigMap created out of band (no last-applied annotation) before the Application adopts it; Replace=true on frontend; then a commit changing frontend's image and settings",
    run: async (s) => {
      await s.ctx.stack.apply([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "replace-adopted" } },
        {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "settings", namespace: "replace-adopted" },
          data: { color: "red" },
        },
      ]);
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0", { syncOptions: "Replace=true" }),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("replace-adopted", { prune: true }),
      );
      await s.waitNext("Healthy at rev0", (a) => healthyAt(rev0)(a) && succeededAt(rev0)(a));
      await s.settle();
      const rev1 = await s.commit("frontend 1.1, settings green", {
        "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.1", { syncOptions: "Replace=true" }),
        "app/settings.yaml": settingsYaml("green"),
      });
      await s.waitNext("operation Succeeded at rev1", succeededAt(rev1));
      await s.waitNext("Healthy at rev1", healthyAt(rev1));
      await s.settle();
    },
  },
  degraded: {
    description:
      "automated sync of waves: a Deployment (wave 0) that cannot schedule (nodeSelector matches no node, progressDeadlineSeconds 10) becomes Degraded, settings (wave 1); retry limit 1: a failed attempt, then the operation Failed",
    run: async (s) => {
      const broken = frontendYaml("registry.invalid/frontend:1.0", { wave: 0 })
        .replace("  replicas: 2\n", "  replicas: 1\n  progressDeadlineSeconds: 10\n")
        .replace(
          "    spec:\n      containers:",
          '    spec:\n      nodeSelector:\n        e2e.resource-hooks.io/none: "true"\n      containers:',
        );
      const spec = appSpec("degraded", { prune: true });
      await s.start({ "app/frontend.yaml": broken, "app/settings.yaml": settingsYaml("blue", 1) }, (url) => ({
        ...spec(url),
        syncPolicy: {
          automated: { prune: true },
          syncOptions: ["CreateNamespace=true"],
          retry: { limit: 1, backoff: { duration: "2s", factor: 2, maxDuration: "10s" } },
        },
      }));
      await s.waitNext(
        "operation Failed (after its one retry)",
        (a) => op(a)?.phase === "Failed" || op(a)?.phase === "Error",
        240_000,
      );
      await s.settle();
    },
  },
  "failed-sync": {
    description:
      "manual sync policy: a sync operation written without CreateNamespace=true into a namespace that does not exist: the operation Fails (SyncFailed entries)",
    run: async (s) => {
      const rev0 = await s.start(
        {
          "app/frontend.yaml": frontendYaml("registry.invalid/frontend:1.0"),
          "app/settings.yaml": settingsYaml("blue"),
        },
        appSpec("failed-sync", undefined),
      );
      await s.waitNext("OutOfSync (nothing deployed yet)", (a) => a.status?.sync?.status === "OutOfSync");
      await s.ctx.argocd.sync(s.app, { revision: rev0 });
      s.step("sync without CreateNamespace=true (operation written)");
      await s.waitNext("operation Failed", (a) => op(a)?.phase === "Failed" || op(a)?.phase === "Error");
      await s.settle();
    },
  },
  "same-second": {
    description:
      "manual sync policy: sync operations written back to back (each as soon as the previous one finished) until two started in the same second",
    run: async (s) => {
      const rev0 = await s.start({ "app/settings.yaml": settingsYaml("blue") }, appSpec("same-second", undefined));
      await s.waitNext("OutOfSync (nothing deployed yet)", (a) => a.status?.sync?.status === "OutOfSync");
      let lastStarted = "";
      for (let i = 0; i < 8; i++) {
        await s.ctx.argocd.sync(s.app, { syncOptions: SYNC_OPTIONS, revision: rev0 });
        s.step(`sync #${i} (operation written)`);
        const done = await s.waitNext(
          `sync #${i} finished`,
          (a) => !!op(a)?.finishedAt && !a.operation && op(a)?.startedAt !== undefined,
        );
        const started = op(done)?.startedAt ?? "";
        if (started === lastStarted) {
          s.step(`two operations started in the same second (${started})`);
          break;
        }
        lastStarted = started;
      }
      await s.settle();
    },
  },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const w of wanted)
    if (!scenarios[w]) throw new Error(`unknown scenario ${w} (known: ${Object.keys(scenarios).join(", ")})`);
  const names = wanted.length > 0 ? wanted : Object.keys(scenarios);
  const stack = await startStack({ log: (m) => console.error(`[stack] ${m}`) });
  let cc: ClusterControllers | undefined;
  let git: GitServer | undefined;
  let argocd: ArgoCd | undefined;
  const failed: string[] = [];
  try {
    cc = await startClusterControllers(stack);
    git = await startGitServer({ dir: path.join(stack.dir, "git") });
    argocd = await startArgoCd(stack);
    console.log(`Argo CD ${argocd.version} ready in ${Math.round(argocd.timings.totalMs)}ms`);
    const ctx: Ctx = { stack, argocd, git };
    for (const name of names) {
      const def = scenarios[name]!;
      const s = new Scenario(ctx, name, def.description);
      const t = performance.now();
      try {
        await def.run(s);
        console.log(`[${name}] done in ${Math.round(performance.now() - t)}ms`);
      } catch (err) {
        // one scenario failing must not cost the others their recording
        failed.push(name);
        console.error(
          `[${name}] FAILED after ${Math.round(performance.now() - t)}ms: ${err instanceof Error ? err.message : String(err)}`,
        );
        console.error(argocd.controller.logs().slice(-3000));
      } finally {
        if (s.rec) s.write();
      }
    }
    writeFileSync(
      path.join(OUT, "README.md"),
      [
        "# Application writes recorded from Argo CD's application controller",
        "",
        `Recorded by \`scripts/e2e/record-argocd-fixtures.ts\` against Argo CD ${argocd.version} (application`,
        "controller and repo server built from github.com/argoproj/argo-cd/v3) in the e2e stack, with real",
        "rollouts (kube-controller-manager, kube-scheduler, kwok). Not written by hand: re-run the script to",
        "record them again.",
        "",
        "Each `<scenario>/NNN.json` is one version of the Application as a watch delivered it, in order",
        "(`event`, `atMs` since the first, `application` without managedFields); `steps.json` says what the",
        "script did when and which revision each commit made.",
        "",
        ...readdirSync(OUT, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => `- \`${d.name}\`: ${scenarios[d.name]?.description ?? ""}`),
        "",
      ].join("\n"),
    );
    if (failed.length > 0) throw new Error(`scenarios failed: ${failed.join(", ")} (their writes so far were kept)`);
  } catch (err) {
    console.error(stack.logReport(40));
    throw err;
  } finally {
    await argocd?.stop();
    await cc?.stop();
    await git?.close();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
