// The ten points of issue 12, each against what Argo CD v3.6.1's real application controller
// wrote (test/fixtures/argocd, recorded by scripts/e2e/record-argocd-fixtures.ts, not written by
// hand): every write goes through the Sensor's Lua filter and evaluate() with the runner's memory
// (test/helpers/argocd-fixtures.ts), as the runner would see it.
import { describe, expect, it } from "vitest";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { ArgoCDTrigger } from "../../src/trigger/argocd/index.js";
import {
  operationOf,
  resourceChange,
  type ArgoCDOperation,
  type MatchedResource,
} from "../../src/trigger/argocd/index.js";
import { healthyAfterOperation } from "../../src/trigger/argocd/health.js";
import { evaluate } from "../../src/trigger/index.js";
import { eventOf, firedRevision, recorded, replay, type RecordedWrite } from "../helpers/argocd-fixtures.js";
import { hookWith } from "../helpers/spec.js";

const FRONTEND = { kind: "Deployment", name: "frontend" };
const SETTINGS = { kind: "ConfigMap", name: "settings" };
const DB = { kind: "StatefulSet", name: "db" };

function hook(app: string, resource: Record<string, unknown>, extra: Record<string, unknown> = {}): ArgoCDTrigger {
  const { when, ...argocd } = extra;
  return hookWith({ argocd: { application: app, resources: [resource], ...argocd }, ...(when ? { when } : {}) })
    .trigger as ArgoCDTrigger;
}

/** Which commits (steps.json labels) fired the hook, in order. */
function firedFor(
  scenario: string,
  resource: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  app = scenario,
) {
  const { writes, steps } = recorded(scenario);
  const label = Object.fromEntries(Object.entries(steps.revisions).map(([k, v]) => [v, k]));
  const { fired, all } = replay(hook(app, resource, extra), writes);
  return { labels: fired.map((f) => label[firedRevision(f) ?? ""] ?? "?"), fired, all, writes, steps };
}

const op = (w: RecordedWrite) => w.application.status?.operationState;
const finishedWrites = (writes: RecordedWrite[]) =>
  writes.filter((w) => op(w)?.finishedAt && op(w)?.phase !== "Running");
const entryOf = (w: RecordedWrite, kind: string, name: string) =>
  op(w)?.syncResult?.resources?.find((r) => r.kind === kind && r.name === name);

describe("what the recorded controller writes (the issue's claims about the hand-written fixtures)", () => {
  it("recorded with the Argo CD version the README names", () => {
    expect(recorded("plain-sync").steps.argoCdVersion).toBe("v3.6.1");
  });

  it("non-hook entries carry hookPhase Running in single-step syncs, and the wave's result in multi-step ones", () => {
    const plain = finishedWrites(recorded("plain-sync").writes).at(-1)!;
    expect(entryOf(plain, "Deployment", "frontend")).toMatchObject({
      hookPhase: "Running",
      syncPhase: "Sync",
      status: "Synced",
    });
    const waves = finishedWrites(recorded("waves-hooks").writes).at(-1)!;
    expect(entryOf(waves, "StatefulSet", "db")).toMatchObject({
      hookPhase: "Succeeded",
      message: expect.stringMatching(/^partitioned roll out complete/),
    });
  });

  it("auto-sync writes the operation and removes the previous operationState in the same write; history comes before the final state", () => {
    const { writes } = recorded("plain-sync");
    const i = writes.findIndex(
      (w, k) => k > 0 && w.application.operation && !op(w) && op(writes[k - 1]!)?.phase === "Succeeded",
    );
    expect(i).toBeGreaterThan(0);
    const firstWithHistory = writes.findIndex((w) => (w.application.status?.history?.length ?? 0) === 2);
    expect(op(writes[firstWithHistory]!)?.phase).toBe("Running");
  });
});

describe("the ten points, on the recorded statuses", () => {
  it("1. ServerSideApply=true: every entry says serverside-applied; only the commit that changed frontend fires its hook", () => {
    const { writes } = recorded("server-side-apply");
    for (const w of finishedWrites(writes))
      for (const r of op(w)?.syncResult?.resources ?? []) expect(resourceChange(r)).toBe("applied");
    expect(firedFor("server-side-apply", FRONTEND).labels).toEqual(["rev0", "frontend image 1.1"]);
    expect(firedFor("server-side-apply", SETTINGS).labels).toEqual(["rev0", "settings green"]);
  });

  it("2. retries: the retry's result says unchanged; the failed attempt's configured still fires frontend once, and not the Failed hook", () => {
    const { writes } = recorded("retry");
    const final = finishedWrites(writes).at(-1)!;
    expect(op(final)).toMatchObject({ phase: "Succeeded", retryCount: 1 });
    expect(entryOf(final, "Deployment", "frontend")?.message).toBe("deployment.apps/frontend unchanged");
    const r = firedFor("retry", FRONTEND);
    expect(r.labels).toEqual(["rev0", "frontend 1.1 + widget"]);
    expect(r.fired[1]!.decision.reason).toMatch(/earlier write of this operation's result/);
    expect(firedFor("retry", FRONTEND, { phases: ["Failed", "Error"] }).labels).toEqual([]);
    // the settings ConfigMap was unchanged in every attempt
    expect(firedFor("retry", SETTINGS).labels).toEqual(["rev0"]);
  });

  it("3. multi-step: the StatefulSet's message is replaced by its health, and its change still fires once; unchanged wave -1 does not", () => {
    expect(firedFor("waves-hooks", DB).labels).toEqual(["rev0", "db and frontend 1.1"]);
    expect(firedFor("waves-hooks", SETTINGS).labels).toEqual(["rev0"]);
    expect(firedFor("waves-hooks", FRONTEND).labels).toEqual(["rev0", "db and frontend 1.1"]);
    // the PostSync Job hook is Argo CD's own hook: never a named resource
    expect(firedFor("waves-hooks", { kind: "Job", name: "smoke" }, { changedOnly: false }).labels).toEqual([]);
  });

  it("3. a Degraded resource (Synced, hookPhase Failed) fires the phases: [Failed] hook, once", () => {
    const { writes } = recorded("degraded");
    const final = finishedWrites(writes).at(-1)!;
    expect(op(final)?.phase).toBe("Failed");
    expect(entryOf(final, "Deployment", "frontend")).toMatchObject({ status: "Synced", hookPhase: "Failed" });
    const failed = firedFor("degraded", FRONTEND, { phases: ["Failed", "Error"] });
    expect(failed.fired).toHaveLength(1);
    expect((failed.fired[0]!.scope.resources as MatchedResource[])[0]).toMatchObject({
      change: "failed",
      changed: true,
    });
    expect(firedFor("degraded", FRONTEND).labels).toEqual([]);
  });

  it("4. message forms: the adopted-resource warning and Replace=true's replaced count as changes", () => {
    const { writes } = recorded("replace-adopted");
    const [first, second] = finishedWrites(writes).filter(
      (w, i, a) => i === 0 || op(a[i - 1]!)?.startedAt !== op(w)?.startedAt,
    );
    expect(entryOf(first!, "ConfigMap", "settings")?.message).toMatch(
      /^configmap\/settings configured\. Warning: .*last-applied-configuration/s,
    );
    expect(resourceChange(entryOf(first!, "ConfigMap", "settings")!)).toBe("configured");
    expect(resourceChange(entryOf(second!, "Deployment", "frontend")!)).toBe("replaced");
    expect(firedFor("replace-adopted", SETTINGS).labels).toEqual(["rev0", "frontend 1.1, settings green"]);
    expect(firedFor("replace-adopted", FRONTEND).labels).toEqual(["rev0", "frontend 1.1, settings green"]);
    // Argo CD's update path for objects under Replace=true that kubectl cannot replace
    expect(
      resourceChange({
        kind: "CustomResourceDefinition",
        name: "widgets.e2e.resource-hooks.io",
        message: "CustomResourceDefinition/widgets.e2e.resource-hooks.io updated",
      } as never),
    ).toBe("updated");
  });

  it("5. a false configured (empty patch): a comparison made before the operation found the resource Synced", () => {
    // plain-sync's second operation, as recorded, with kubectl's verdict for the unchanged
    // settings ConfigMap turned into the "configured" that an empty patch gives (kubernetes #66450)
    const { writes } = recorded("plain-sync");
    const i = writes.findIndex(
      (w) =>
        op(w)?.phase === "Succeeded" &&
        entryOf(w, "Deployment", "frontend")?.message === "deployment.apps/frontend configured",
    );
    const app = structuredClone(writes[i]!.application) as IApplication;
    const settings = app.status!.operationState!.syncResult!.resources!.find((r) => r.kind === "ConfigMap")!;
    expect(settings.message).toBe("configmap/settings unchanged");
    expect(app.status!.reconciledAt! < app.status!.operationState!.startedAt).toBe(true);
    settings.message = "configmap/settings configured";
    const ev = eventOf({ ...writes[i]!, application: app }, writes[i - 1], "e");
    const e = evaluate(hook("plain-sync", SETTINGS), ev, { memory: { fingerprint: "o:earlier" } });
    expect(e.decision).toMatchObject({ fires: false, reason: "the sync changed none of ConfigMap/settings" });
    const all = evaluate(hook("plain-sync", SETTINGS, { changedOnly: false }), ev, {
      memory: { fingerprint: "o:earlier" },
    });
    expect((all.scope.resources as MatchedResource[])[0]).toMatchObject({
      change: "configured",
      changed: false,
      evidence: expect.stringMatching(/comparison before the sync found it Synced/),
    });
  });

  it("6. a dry run fires nothing, and operation.dryRun says so", () => {
    const { writes } = recorded("dry-run");
    const dry = finishedWrites(writes).at(-1)!;
    expect(entryOf(dry, "Deployment", "frontend")?.message).toBe("deployment.apps/frontend configured (dry run)");
    expect(operationOf(dry.application)).toMatchObject({ dryRun: true });
    const r = firedFor("dry-run", FRONTEND);
    expect(r.labels).toEqual(["rev0"]);
    expect(
      r.all.at(-1)?.evaluation?.decision.reason ??
        r.all.filter((a) => a.evaluation).at(-1)?.evaluation?.decision.reason,
    ).toMatch(/dry run/);
  });

  it("7. healthy: true is decided by the health assessed after the operation finished, not by a revision match", () => {
    const { writes } = recorded("plain-sync");
    const finished = finishedWrites(writes).filter(
      (w) => entryOf(w, "Deployment", "frontend")?.message === "deployment.apps/frontend configured",
    );
    const operation = operationOf(finished[0]!.application)!;
    // the finished operation is written with the Healthy of before (stale), then Progressing
    expect(finished[0]!.application.status?.health?.status).toBe("Healthy");
    const verdicts = finished.map((w) => [
      w.application.status?.health?.status,
      healthyAfterOperation(w.application, operation),
    ]);
    expect(verdicts[0]).toEqual(["Healthy", false]);
    expect(verdicts).toContainEqual(["Progressing", false]);
    expect(verdicts.at(-1)).toEqual(["Healthy", true]);
    const firstHealthy = verdicts.findIndex(([, ok]) => ok);
    expect(verdicts.slice(0, firstHealthy).some(([h]) => h === "Progressing")).toBe(true);

    // a rollback: the Application is OutOfSync with main afterwards, and Healthy
    const rb = recorded("rollback");
    const last = rb.writes.at(-1)!.application;
    const rollbackOp = operationOf(last)!;
    expect(rollbackOp.revision).toBe(rb.steps.revisions.rev0);
    expect(last.status?.sync).toMatchObject({
      status: "OutOfSync",
      revision: rb.steps.revisions["frontend image 1.1"],
    });
    expect(healthyAfterOperation(last, rollbackOp)).toBe(true);
    expect(firedFor("rollback", FRONTEND).labels).toEqual(["rev0", "frontend image 1.1", "rev0"]);
  });

  it("8. identity: two operations that started in the same second are two runs", () => {
    const r = firedFor("same-second", SETTINGS, { changedOnly: false, phases: ["Succeeded", "Failed"] });
    const started = r.fired.map((f) => (f.scope.operation as ArgoCDOperation).startedAt);
    const dup = started.find((s, i) => started.indexOf(s) !== i);
    expect(dup).toBeDefined();
    const same = r.fired.filter((f) => (f.scope.operation as ArgoCDOperation).startedAt === dup);
    expect(same).toHaveLength(2);
    expect(same[0]!.identity).not.toBe(same[1]!.identity);
    // even if they had also finished in the same second: the history entry each wrote differs
    const [a, b] = same.map((f) => structuredClone(f.scope.application) as IApplication);
    b!.status!.operationState!.finishedAt = a!.status!.operationState!.finishedAt;
    const ids = [a!, b!].map(
      (app) =>
        evaluate(
          hook("same-second", SETTINGS, { changedOnly: false }),
          eventOf({ file: "x", event: "ADDED", atMs: 0, application: app }, undefined, "e"),
          { memory: { fingerprint: "o:x" } },
        ).identity,
    );
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('9. self-heal: operation.selfHeal and the partial resource list; when: "!operation.selfHeal" skips it', () => {
    const r = firedFor("self-heal", FRONTEND);
    expect(r.labels).toEqual(["rev0", "rev0"]);
    const heal = r.fired[1]!.scope.operation as ArgoCDOperation;
    expect(heal).toMatchObject({
      selfHeal: true,
      initiatedBy: { automated: true },
      syncResources: [{ group: "apps", kind: "Deployment", name: "frontend" }],
    });
    expect((r.fired[0]!.scope.operation as ArgoCDOperation).selfHeal).toBe(false);
    const deploysOnly = firedFor("self-heal", FRONTEND, { when: "!operation.selfHeal" });
    expect(deploysOnly.labels).toEqual(["rev0"]);
  });

  it("10. ApplyOutOfSyncOnly=true: the in-sync settings has no entry and does not fire; frontend does", () => {
    const { writes } = recorded("apply-out-of-sync-only");
    const second = finishedWrites(writes).at(-1)!;
    expect(entryOf(second, "ConfigMap", "settings")).toBeUndefined();
    expect(firedFor("apply-out-of-sync-only", FRONTEND).labels).toEqual(["rev0", "frontend image 1.1"]);
    expect(firedFor("apply-out-of-sync-only", SETTINGS).labels).toEqual(["rev0"]);
  });

  it("plain syncs: image change fires frontend, settings-only change does not, an empty commit fires nothing", () => {
    expect(firedFor("plain-sync", FRONTEND).labels).toEqual(["rev0", "frontend image 1.1"]);
    expect(firedFor("plain-sync", SETTINGS).labels).toEqual(["rev0", "settings green"]);
  });

  it("a failed sync (the namespace does not exist) fires the Failed hook once, and the Succeeded one never", () => {
    expect(firedFor("failed-sync", FRONTEND).labels).toEqual([]);
    const failed = firedFor("failed-sync", FRONTEND, { phases: ["Failed"] });
    expect(failed.labels).toEqual(["rev0"]);
    expect((failed.fired[0]!.scope.resources as MatchedResource[])[0]).toMatchObject({
      change: "failed",
      status: "SyncFailed",
    });
  });

  it("a Running write that still carries an earlier operation's result (never recorded, but merge patches can leave one) is not remembered", () => {
    const { writes } = recorded("plain-sync");
    const running = writes.findIndex(
      (w) => op(w)?.phase === "Running" && (w.application.status?.history?.length ?? 0) === 1 && !op(w)?.syncResult,
    );
    const earlier = finishedWrites(writes)[0]!;
    const app = structuredClone(writes[running]!.application) as IApplication;
    app.status!.operationState!.syncResult = structuredClone(op(earlier)!.syncResult);
    const e = evaluate(
      hook("plain-sync", FRONTEND),
      eventOf({ ...writes[running]!, application: app }, writes[running - 1], "e"),
      {},
    );
    expect(e.decision.reason).toMatch(/for another revision/);
    expect(e.remember).toBe("keep");
  });

  it("replaying every recorded write never fires twice for one operation", () => {
    for (const scenario of [
      "plain-sync",
      "server-side-apply",
      "retry",
      "waves-hooks",
      "self-heal",
      "dry-run",
      "rollback",
      "apply-out-of-sync-only",
      "replace-adopted",
      "same-second",
    ]) {
      const r = firedFor(scenario, FRONTEND, { changedOnly: false, phases: ["Succeeded", "Failed", "Error"] });
      const ids = r.fired.map((f) => f.identity);
      expect(new Set(ids).size, scenario).toBe(ids.length);
      const ops = r.fired.map((f) =>
        JSON.stringify([
          (f.scope.operation as ArgoCDOperation).startedAt,
          (f.scope.operation as ArgoCDOperation).finishedAt,
        ]),
      );
      expect(new Set(ops).size, scenario).toBe(ops.length);
    }
  });
});
