// Argo CD sync-result hooks: decide() against realistic Application status sequences, and the
// Sensor's Lua filter compiled from the same trigger agreeing with it.
import { describe, expect, it } from "vitest";
import { resourceChange, type ArgoCDOperation, type MatchedResource } from "../../src/trigger/argocd/index.js";
import { evaluate, sensorFilterScript, type EvaluateContext } from "../../src/trigger/index.js";
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";
import type { ArgoCDTrigger } from "../../src/trigger/argocd/index.js";
import { simulate } from "../../src/simulate.js";
import { application, appUpdate, resourceResult, REVISION } from "../helpers/applications.js";
import { runLuaFilter } from "../helpers/lua-filter.js";
import { hookSetFrom, hookWith } from "../helpers/spec.js";

const frontend = { kind: "Deployment", name: "frontend" };
const trigger = (extra: Record<string, unknown> = {}) =>
  hookWith({ argocd: { application: "web", resources: [frontend], ...extra } }).trigger as ArgoCDTrigger;

/** The evaluation with the Argo CD scope typed. */
function decideArgoCD(t: ArgoCDTrigger, ev: ResourceEvent) {
  const e = evaluate(t, ev, {});
  return {
    ...e,
    operation: e.scope.operation as ArgoCDOperation | null,
    resources: e.scope.resources as MatchedResource[],
  };
}

function check(
  t: ArgoCDTrigger,
  ev: ResourceEvent,
  fires: boolean,
  reason: RegExp,
  luaPassesMore = false,
  ctx: EvaluateContext = {},
) {
  const { decision } = evaluate(t, ev, ctx);
  expect(decision.fires).toBe(fires);
  expect(decision.reason).toMatch(reason);
  const lua = runLuaFilter(sensorFilterScript(t), JSON.parse(JSON.stringify(ev.data)));
  expect(lua).toBe(luaPassesMore ? true : fires);
}

const running = application({ phase: "Running" });
const configured = [
  resourceResult("Deployment", "frontend", "deployment.apps/frontend configured"),
  resourceResult("Service", "frontend", "service/frontend unchanged"),
];
const unchanged = [
  resourceResult("Deployment", "frontend", "deployment.apps/frontend unchanged"),
  resourceResult("ConfigMap", "web-config", "configmap/web-config configured"),
];

describe("Argo CD sync-result triggers", () => {
  it("fires when a finished sync configured the named resource", () => {
    const ev = appUpdate(running, application({ results: configured }));
    check(trigger(), ev, true, /sync Succeeded at 2026-11-24T12:00:09Z: Deployment\/frontend configured/);
    const { identity, operation, resources } = decideArgoCD(trigger(), ev);
    expect(identity).toMatch(/^9a8b7c6d-1111-2222-3333-444455556666\/2026-11-24T12:00:00Z\/[0-9a-f]{12}$/);
    expect(operation).toMatchObject({
      phase: "Succeeded",
      revision: REVISION,
      initiatedBy: { automated: true },
      finishedAt: "2026-11-24T12:00:09Z",
    });
    expect(resources?.map((r) => [r.kind, r.name, r.change])).toEqual([["Deployment", "frontend", "configured"]]);
  });

  it("does not fire when the named resource was unchanged, even if others changed", () => {
    // the Lua filter passes every finished operation that names the resource: whether it really
    // changed needs the runner's evidence (comparison, memory)
    check(
      trigger(),
      appUpdate(running, application({ results: unchanged })),
      false,
      /the sync changed none of Deployment\/frontend/,
      true,
    );
    check(
      trigger({ changedOnly: false }),
      appUpdate(running, application({ results: unchanged })),
      true,
      /Deployment\/frontend unchanged/,
    );
  });

  it("fires once per operation: later status updates of the same operation do not fire again", () => {
    const done = application({ results: configured });
    const healthy = application({ results: configured, health: "Healthy" });
    check(trigger(), appUpdate(done, healthy), false, /already seen: a later status update/);
  });

  it("does not fire while the operation runs", () => {
    check(
      trigger(),
      appUpdate(application({ phase: "Running", health: "Healthy" }), running),
      false,
      /operation is Running, not finished/,
    );
  });

  it("fires a new operation after an earlier one", () => {
    const first = application({ results: configured, health: "Healthy" });
    const second = application({
      results: configured,
      startedAt: "2026-11-24T13:00:00Z",
      finishedAt: "2026-11-24T13:00:07Z",
    });
    check(trigger(), appUpdate(first, second), true, /sync Succeeded at 2026-11-24T13:00:07Z/);
    expect(decideArgoCD(trigger(), appUpdate(first, second)).identity).toMatch(
      /^9a8b7c6d-1111-2222-3333-444455556666\/2026-11-24T13:00:00Z\//,
    );
  });

  it("honours phases: a failed sync fires only hooks that ask for Failed, with per-resource SyncFailed", () => {
    const failed = application({
      phase: "Failed",
      results: [
        resourceResult("Deployment", "frontend", 'Deployment.apps "frontend" is invalid', {
          status: "SyncFailed",
          hookPhase: "Failed",
        }),
      ],
    });
    check(trigger(), appUpdate(running, failed), false, /operation phase Failed is not one of Succeeded/);
    check(trigger({ phases: ["Failed", "Error"] }), appUpdate(running, failed), true, /Deployment\/frontend failed/);
  });

  it("never counts Argo CD's own hooks as the resource changing", () => {
    const withHook = application({
      results: [
        resourceResult("Deployment", "frontend", "deployment.apps/frontend unchanged"),
        resourceResult("Job", "frontend", "job.batch/frontend created", {
          hookType: "PostSync",
          syncPhase: "PostSync",
        }),
      ],
    });
    check(
      hookWith({ argocd: { application: "web", resources: [{ kind: "Job", name: "frontend" }, frontend] } })
        .trigger as ArgoCDTrigger,
      appUpdate(running, withHook),
      false,
      /changed none/,
      true,
    );
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
    const byLabel = hookWith({
      argocd: {
        labels: { team: "web" },
        resources: [{ kind: "Deployment", namePrefix: "front", group: "apps", namespace: "web" }],
      },
    }).trigger as ArgoCDTrigger;
    const runningWeb = application({ phase: "Running", labels: { team: "web" } });
    check(
      byLabel,
      appUpdate(runningWeb, application({ labels: { team: "web" }, results: configured })),
      true,
      /configured/,
    );
    check(
      byLabel,
      appUpdate(running, application({ labels: { team: "shop" }, results: configured })),
      false,
      /label team=web is not set/,
    );
    const wrongGroup = hookWith({
      argocd: { application: "web", resources: [{ kind: "Deployment", name: "frontend", group: "extensions" }] },
    }).trigger as ArgoCDTrigger;
    check(wrongGroup, appUpdate(running, application({ results: configured })), false, /changed none/);
  });

  it("evaluates when over the operation and matched resources", () => {
    const t = hookWith({
      argocd: { application: "web", resources: [frontend] },
      when: "operation.initiatedBy.automated && resources.exists(r, r.change == 'configured')",
    }).trigger as ArgoCDTrigger;
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
    const hookSet = hookSetFrom([
      {
        name: "purge",
        on: { argocd: { application: "web", resources: [frontend] } },
        steps: [
          {
            name: "say",
            log: { message: "{{ operation.revision }}: {{ resources.map(r, r.name + ' ' + r.change).join(', ') }}" },
          },
        ],
      },
    ]);
    const [result] = simulate(hookSet, {
      type: "UPDATE",
      object: application({ results: configured }) as unknown as KubeObject,
      oldObject: running as unknown as KubeObject,
    });
    expect(result).toMatchObject({
      hook: "purge",
      fires: true,
      steps: [{ name: "say", config: { message: `${REVISION}: frontend configured` } }],
    });
  });
});

describe("Argo CD triggers: memory, catch-up and identity", () => {
  const APPS = { group: "argoproj.io", version: "v1alpha1", resource: "applications" };
  const add = (app: unknown): ResourceEvent => ({
    context: { id: "e-add", source: "web", subject: "s", type: "resource", time: "2026-11-24T12:30:00Z" },
    data: { type: "ADD", body: app as KubeObject, oldBody: null, ...APPS },
  });
  const done = application({ results: configured });

  it("fires once per operation: the same finished state again is already handled", () => {
    const ev = appUpdate(running, done);
    const e = evaluate(trigger(), ev, {});
    expect(e).toMatchObject({
      decision: { fires: true },
      remember: "set",
      subject: { kind: "Application", name: "web", namespace: "argocd", uid: "9a8b7c6d-1111-2222-3333-444455556666" },
    });
    expect(e.fingerprint).toMatch(/^o:[0-9a-f]{16}$/);
    expect(Object.keys(e.scope).sort()).toEqual([
      "application",
      "event",
      "object",
      "oldObject",
      "operation",
      "resources",
    ]);
    check(trigger(), ev, false, /already handled/, true, { memory: { fingerprint: e.fingerprint! } });
  });

  it("an ADD without memory records the finished operation as a baseline; with other memory it catches up", () => {
    const base = evaluate(trigger(), add(done), {});
    expect(base).toMatchObject({ decision: { fires: false }, remember: "set" });
    expect(base.decision.reason).toMatch(/baseline recorded/);
    check(trigger(), add(done), false, /already handled/, true, { memory: { fingerprint: base.fingerprint! } });
    const later = application({
      results: configured,
      startedAt: "2026-11-24T13:00:00Z",
      finishedAt: "2026-11-24T13:00:07Z",
    });
    check(trigger(), add(later), true, /finished while the event source was away/, false, {
      memory: { fingerprint: base.fingerprint! },
    });
  });

  it("a new operation that does not fire is still remembered as evaluated", () => {
    expect(evaluate(trigger(), appUpdate(running, application({ results: unchanged })), {})).toMatchObject({
      decision: { fires: false },
      remember: "set",
    });
  });

  it("a DELETE forgets", () => {
    const ev: ResourceEvent = { ...add(done), data: { ...add(done).data, type: "DELETE" } };
    expect(evaluate(trigger(), ev, { memory: { fingerprint: "o:1" } })).toMatchObject({
      decision: { fires: false },
      remember: "forget",
    });
  });

  it("two operations started in the same second have different identities", () => {
    const a = application({ results: configured, finishedAt: "2026-11-24T12:00:05Z" });
    const b = application({ results: configured, finishedAt: "2026-11-24T12:00:09Z" });
    const ia = evaluate(trigger(), appUpdate(running, a), {});
    const ib = evaluate(trigger(), appUpdate(a, b), {});
    expect(ia.decision.fires && ib.decision.fires).toBe(true);
    expect(ia.identity).not.toBe(ib.identity);
    expect(ia.fingerprint).not.toBe(ib.fingerprint);
  });
});

describe("Argo CD triggers: malformed input is a skip naming the field", () => {
  const withResources = (resources: unknown) => {
    const app = application({ results: configured });
    (app.status!.operationState!.syncResult as Record<string, unknown>).resources = resources;
    return appUpdate(running, app);
  };
  const cases: Array<[string, ResourceEvent, RegExp]> = [
    ["resources: 5", withResources(5), /status\.operationState\.syncResult\.resources is number 5, expected a list/],
    ["resources: [null]", withResources([null]), /syncResult\.resources\[0\] is null, expected a map/],
    [
      "an entry without name",
      withResources([{ kind: "Deployment", message: "x configured" }]),
      /syncResult\.resources\[0\]\.name is missing, expected a string/,
    ],
    [
      "message: 5",
      withResources([{ kind: "Deployment", name: "frontend", message: 5 }]),
      /syncResult\.resources\[0\]\.message is number 5, expected a string/,
    ],
    [
      "operationState as a list",
      (() => {
        const app = application({ results: configured });
        (app.status as Record<string, unknown>).operationState = [1];
        return appUpdate(running, app);
      })(),
      /status\.operationState is a list, expected a map/,
    ],
    [
      "metadata.name: 5",
      (() => {
        const app = application({ results: configured });
        (app.metadata as Record<string, unknown>).name = 5;
        return appUpdate(running, app);
      })(),
      /metadata\.name is number 5, expected a string/,
    ],
  ];
  for (const [name, ev, reason] of cases) {
    it(name, () => {
      const e = evaluate(trigger(), ev, {});
      expect(e.decision).toMatchObject({ fires: false });
      expect(e.decision.reason).toMatch(reason);
      // The Sensor's filter must not crash on it either.
      expect(() => runLuaFilter(sensorFilterScript(trigger()), JSON.parse(JSON.stringify(ev.data)))).not.toThrow();
    });
  }
});
