// Argo CD sync-result hooks: decide() against realistic Application status sequences, and the
// Sensor's Lua filter compiled from the same trigger agreeing with it.
import { describe, expect, it } from "vitest";
import { decideArgoCD, resourceChange } from "../../src/trigger/argocd.js";
import { sensorFilterScript } from "../../src/trigger/index.js";
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";
import type { ArgoCDTrigger } from "../../src/spec/types.js";
import { simulate } from "../../src/simulate.js";
import { application, appUpdate, resourceResult, REVISION } from "../helpers/applications.js";
import { runLuaFilter } from "../helpers/lua-filter.js";
import { hookSetFrom, hookWith } from "../helpers/spec.js";

const frontend = { kind: "Deployment", name: "frontend" };
const trigger = (extra: Record<string, unknown> = {}) => hookWith({ argocd: { application: "web", resources: [frontend], ...extra } }).trigger as ArgoCDTrigger;

function check(t: ArgoCDTrigger, ev: ResourceEvent, fires: boolean, reason: RegExp, luaPassesMore = false) {
  const { decision } = decideArgoCD(t, ev);
  expect(decision.fires).toBe(fires);
  expect(decision.reason).toMatch(reason);
  const lua = runLuaFilter(sensorFilterScript(t), JSON.parse(JSON.stringify(ev.data)));
  expect(lua).toBe(luaPassesMore ? true : fires);
}

const running = application({ phase: "Running" });
const configured = [resourceResult("Deployment", "frontend", "deployment.apps/frontend configured"), resourceResult("Service", "frontend", "service/frontend unchanged")];
const unchanged = [resourceResult("Deployment", "frontend", "deployment.apps/frontend unchanged"), resourceResult("ConfigMap", "web-config", "configmap/web-config configured")];

describe("Argo CD sync-result triggers", () => {
  it("fires when a finished sync configured the named resource", () => {
    const ev = appUpdate(running, application({ results: configured }));
    check(trigger(), ev, true, /sync Succeeded at 2026-11-24T12:00:09Z: Deployment\/frontend configured/);
    const { identity, operation, resources } = decideArgoCD(trigger(), ev);
    expect(identity).toBe("9a8b7c6d-1111-2222-3333-444455556666/2026-11-24T12:00:00Z");
    expect(operation).toMatchObject({ phase: "Succeeded", revision: REVISION, initiatedBy: { automated: true }, finishedAt: "2026-11-24T12:00:09Z" });
    expect(resources?.map((r) => [r.kind, r.name, r.change])).toEqual([["Deployment", "frontend", "configured"]]);
  });

  it("does not fire when the named resource was unchanged, even if others changed", () => {
    check(trigger(), appUpdate(running, application({ results: unchanged })), false, /the sync changed none of Deployment\/frontend/);
    check(trigger({ changedOnly: false }), appUpdate(running, application({ results: unchanged })), true, /Deployment\/frontend unchanged/);
  });

  it("fires once per operation: later status updates of the same operation do not fire again", () => {
    const done = application({ results: configured });
    const healthy = application({ results: configured, health: "Healthy" });
    check(trigger(), appUpdate(done, healthy), false, /already seen: a later status update/);
  });

  it("does not fire while the operation runs", () => {
    check(trigger(), appUpdate(application({ phase: "Running", health: "Healthy" }), running), false, /operation is Running, not finished/);
  });

  it("fires a new operation after an earlier one", () => {
    const first = application({ results: configured, health: "Healthy" });
    const second = application({ results: configured, startedAt: "2026-11-24T13:00:00Z", finishedAt: "2026-11-24T13:00:07Z" });
    check(trigger(), appUpdate(first, second), true, /sync Succeeded at 2026-11-24T13:00:07Z/);
    expect(decideArgoCD(trigger(), appUpdate(first, second)).identity).toBe("9a8b7c6d-1111-2222-3333-444455556666/2026-11-24T13:00:00Z");
  });

  it("honours phases: a failed sync fires only hooks that ask for Failed, with per-resource SyncFailed", () => {
    const failed = application({ phase: "Failed", results: [resourceResult("Deployment", "frontend", "Deployment.apps \"frontend\" is invalid", { status: "SyncFailed", hookPhase: "Failed" })] });
    check(trigger(), appUpdate(running, failed), false, /operation phase Failed is not one of Succeeded/);
    check(trigger({ phases: ["Failed", "Error"] }), appUpdate(running, failed), true, /Deployment\/frontend failed/);
  });

  it("never counts Argo CD's own hooks as the resource changing", () => {
    const withHook = application({ results: [resourceResult("Deployment", "frontend", "deployment.apps/frontend unchanged"), resourceResult("Job", "frontend", "job.batch/frontend created", { hookType: "PostSync", syncPhase: "PostSync" })] });
    check(hookWith({ argocd: { application: "web", resources: [{ kind: "Job", name: "frontend" }, frontend] } }).trigger as ArgoCDTrigger, appUpdate(running, withHook), false, /changed none/);
  });

  it("handles multi-source Applications (revisions)", () => {
    const revisions = ["1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"];
    const ev = appUpdate(application({ phase: "Running", revisions }), application({ results: configured, revisions }));
    check(trigger(), ev, true, /configured/);
    expect(decideArgoCD(trigger(), ev).operation).toMatchObject({ revisions });
    expect(decideArgoCD(trigger(), ev).operation?.revision).toBeUndefined();
  });

  it("selects Applications by name or labels, resources by group, namespace and prefix", () => {
    const other = appUpdate(running, application({ name: "shop", results: configured }));
    check(trigger(), other, false, /Application shop is not web/);
    const byLabel = hookWith({ argocd: { labels: { team: "web" }, resources: [{ kind: "Deployment", namePrefix: "front", group: "apps", namespace: "web" }] } }).trigger as ArgoCDTrigger;
    check(byLabel, appUpdate(running, application({ labels: { team: "web" }, results: configured })), true, /configured/);
    check(byLabel, appUpdate(running, application({ labels: { team: "shop" }, results: configured })), false, /label team=web is not set/);
    const wrongGroup = hookWith({ argocd: { application: "web", resources: [{ kind: "Deployment", name: "frontend", group: "extensions" }] } }).trigger as ArgoCDTrigger;
    check(wrongGroup, appUpdate(running, application({ results: configured })), false, /changed none/);
  });

  it("evaluates when over the operation and matched resources", () => {
    const t = hookWith({ argocd: { application: "web", resources: [frontend] }, when: "operation.initiatedBy.automated && resources.exists(r, r.change == 'configured')" }).trigger as ArgoCDTrigger;
    check(t, appUpdate(running, application({ results: configured })), true, /configured/);
    const manual = application({ results: configured });
    manual.status!.operationState!.operation.initiatedBy = { username: "admin" };
    check(t, appUpdate(running, manual), false, /when could not be evaluated|when is false/, true);
  });

  it("reads kubectl's verdict from each result", () => {
    expect(resourceChange(resourceResult("Deployment", "x", "deployment.apps/x created"))).toBe("created");
    expect(resourceChange(resourceResult("Deployment", "x", "deployment.apps/x configured"))).toBe("configured");
    expect(resourceChange(resourceResult("Deployment", "x", "deployment.apps/x unchanged"))).toBe("unchanged");
    expect(resourceChange(resourceResult("Deployment", "x", "deployment.apps/x serverside-applied"))).toBe("applied");
    expect(resourceChange(resourceResult("Deployment", "x", "pruned", { status: "Pruned" }))).toBe("pruned");
  });

  it("simulate explains the decision for old/new Applications", () => {
    const hookSet = hookSetFrom([{ name: "purge", on: { argocd: { application: "web", resources: [frontend] } }, steps: [{ name: "say", log: { message: "{{ operation.revision }}: {{ resources.map(r, r.name + ' ' + r.change).join(', ') }}" } }] }]);
    const [result] = simulate(hookSet, { type: "UPDATE", object: application({ results: configured }) as unknown as KubeObject, oldObject: running as unknown as KubeObject });
    expect(result).toMatchObject({ hook: "purge", fires: true, steps: [{ name: "say", config: { message: `${REVISION}: frontend configured` } }] });
  });
});
