// evaluate() is the authority on whether a resource change fires a hook; the Sensor's Lua filter
// compiled from the same trigger must pass every event evaluate() fires (and, where Lua can
// decide, reject the same ones). Each case checks both.
import { describe, expect, it } from "vitest";
import { decide, evaluate, sensorFilterScript, watchFilter, type EvaluateContext } from "../../src/trigger/index.js";
import type { ResourceEvent } from "../../src/trigger/event.js";
import type { Hook } from "../../src/hookset/types.js";
import { runLuaFilter } from "../helpers/lua-filter.js";
import { CONFIGMAPS, configMap, deployment, DEPLOYMENTS, event, updateEvent } from "../helpers/objects.js";
import { hookWith } from "../helpers/spec.js";

const imageHook = hookWith({
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" },
  changed: ["spec.template.spec.containers[0].image"],
});
const defaultHook = hookWith({
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" },
});
const configHook = hookWith({
  resource: { version: "v1", resource: "configmaps", namespace: "web", name: "app-config" },
  changed: ['data["app.properties"]'],
});
const replicasHook = hookWith({
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
  changed: ["spec.replicas"],
});
const anyConfigChange = hookWith({ resource: { version: "v1", resource: "configmaps", namespace: "web" } });

/** Asserts decide() and the Lua filter; `luaPassesMore` marks cases Lua cannot decide (when, memory, ADDs and DELETEs). */
function check(
  hook: Hook,
  ev: ResourceEvent,
  fires: boolean,
  reason: RegExp,
  luaPassesMore = false,
  ctx: EvaluateContext = {},
) {
  const decision = decide(hook.trigger, ev, ctx);
  expect(decision.fires).toBe(fires);
  expect(decision.reason).toMatch(reason);
  const lua = runLuaFilter(sensorFilterScript(hook.trigger), JSON.parse(JSON.stringify(ev.data)));
  if (luaPassesMore) expect(lua).toBe(true);
  else expect(lua).toBe(fires);
}

describe("resource triggers: changed paths", () => {
  it("fires when the watched image changes", () => {
    const ev = updateEvent(
      deployment({ image: "registry.example/frontend:1.4.0" }),
      deployment({ image: "registry.example/frontend:1.5.0", generation: 4 }),
      DEPLOYMENTS,
    );
    check(imageHook, ev, true, /spec\.template\.spec\.containers\[0\]\.image changed/);
  });
  it("does not fire when only replicas change", () => {
    const ev = updateEvent(deployment({ replicas: 2 }), deployment({ replicas: 5, generation: 4 }), DEPLOYMENTS);
    check(imageHook, ev, false, /none of spec\.template\.spec\.containers\[0\]\.image changed/);
  });
  it("does not fire on a status-only update", () => {
    const ev = updateEvent(
      deployment(),
      deployment({ status: { observedGeneration: 3, replicas: 2, updatedReplicas: 1 }, resourceVersion: "1002" }),
      DEPLOYMENTS,
    );
    check(imageHook, ev, false, /none of/);
  });
  it("counts a path present on one side only as changed", () => {
    const before = configMap({ other: "x" });
    const after = configMap({ other: "x", "app.properties": "a=1" });
    check(configHook, updateEvent(before, after, CONFIGMAPS), true, /data\["app\.properties"\] changed/);
    check(configHook, updateEvent(after, before, CONFIGMAPS), true, /changed/);
  });
  it("reads keys with dots through the quoted form", () => {
    const ev = updateEvent(
      configMap({ "app.properties": "a=1", other: "1" }),
      configMap({ "app.properties": "a=1", other: "2" }),
      CONFIGMAPS,
    );
    check(configHook, ev, false, /none of data\["app\.properties"\] changed/);
  });
  it("treats null as absent, as Kubernetes does", () => {
    const before = deployment();
    const after = deployment();
    (after.spec as Record<string, unknown>).paused = null;
    const hook = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments" },
      changed: ["spec.paused"],
    });
    check(hook, updateEvent(before, after, DEPLOYMENTS), false, /none of spec\.paused changed/);
  });
  it("compares whole subtrees", () => {
    const hook = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments" },
      changed: ["spec.template.spec.containers"],
    });
    const before = deployment();
    const after = deployment();
    (after.spec as { template: { spec: { containers: { args?: string[] }[] } } }).template.spec.containers[1]!.args = [
      "--port",
      "9091",
    ];
    check(hook, updateEvent(before, after, DEPLOYMENTS), true, /spec\.template\.spec\.containers changed/);
    check(hook, updateEvent(before, deployment(), DEPLOYMENTS), false, /none of/);
  });
});

describe("resource triggers: the filter script holds only what its hooks need", () => {
  // gopher-lua compiles the whole script for every event: code no row uses costs each event.
  const objectComparison = /"generation"/;
  it("hooks that all name `changed` paths: no object comparison, no helper nothing calls", () => {
    const script = watchFilter({ selector: imageHook.trigger.watch, hooks: [imageHook, replicasHook] });
    expect(script).not.toMatch(objectComparison);
    expect(script).toContain("local function eq");
    // An Argo CD watch's code compares no values: its script has no eq.
    const argocd = hookWith({ argocd: { application: "web", resources: [{ kind: "Deployment", name: "web" }] } });
    const sync = sensorFilterScript(argocd.trigger);
    expect(sync).toContain("local function selects");
    expect(sync).not.toContain("local function eq");
  });
  it("a hook without `changed` (or mixed with one that has it) keeps the object comparison", () => {
    expect(sensorFilterScript(defaultHook.trigger)).toMatch(objectComparison);
    const mixed = watchFilter({ selector: imageHook.trigger.watch, hooks: [imageHook, defaultHook] });
    expect(mixed).toMatch(objectComparison);
  });
});

describe("resource triggers: default change detection", () => {
  it("fires on a generation change", () => {
    check(
      defaultHook,
      updateEvent(deployment(), deployment({ replicas: 3, generation: 4 }), DEPLOYMENTS),
      true,
      /generation changed from 3 to 4/,
    );
  });
  it("ignores status-only updates (same generation)", () => {
    const ev = updateEvent(
      deployment(),
      deployment({ status: { observedGeneration: 3, replicas: 3 }, resourceVersion: "1005" }),
      DEPLOYMENTS,
    );
    check(defaultHook, ev, false, /generation 3 unchanged/);
  });
  it("ignores label-only updates (same generation)", () => {
    const ev = updateEvent(
      deployment(),
      deployment({ labels: { app: "frontend", team: "web", tier: "edge" }, resourceVersion: "1006" }),
      DEPLOYMENTS,
    );
    check(defaultHook, ev, false, /generation 3 unchanged/);
  });
  it("fires on a data change of an object without generation", () => {
    check(anyConfigChange, updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS), true, /data changed/);
  });
  it("ignores a metadata-only change of an object without generation", () => {
    check(
      anyConfigChange,
      updateEvent(
        configMap({ a: "1" }),
        configMap({ a: "1" }, { labels: { x: "y" }, resourceVersion: "2002" }),
        CONFIGMAPS,
      ),
      false,
      /only metadata or status changed/,
    );
  });
});

describe("resource triggers: object selection", () => {
  it("skips other names, namespaces and resources", () => {
    check(
      defaultHook,
      updateEvent(deployment({ name: "backend" }), deployment({ name: "backend", generation: 4 }), DEPLOYMENTS),
      false,
      /name backend is not frontend/,
    );
    const other = updateEvent(
      deployment({ namespace: "shop" }),
      deployment({ namespace: "shop", generation: 4 }),
      DEPLOYMENTS,
    );
    expect(decide(defaultHook.trigger, other)).toEqual({
      fires: false,
      code: "not_selected",
      reason: "namespace shop is not web",
    });
    const wrongResource = { ...updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS) };
    expect(decide(defaultHook.trigger, wrongResource).reason).toBe(
      "the event is for v1/configmaps, the hook watches apps/v1/deployments",
    );
  });
  it("selects by name prefix and labels", () => {
    const prefix = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments", namePrefix: "front" },
    });
    check(prefix, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS), true, /generation changed/);
    check(
      prefix,
      updateEvent(deployment({ name: "backend" }), deployment({ name: "backend", generation: 4 }), DEPLOYMENTS),
      false,
      /does not start with front/,
    );
    const labelled = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
    });
    check(labelled, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS), true, /generation changed/);
    check(
      labelled,
      updateEvent(
        deployment({ labels: { team: "shop" } }),
        deployment({ labels: { team: "shop" }, generation: 4 }),
        DEPLOYMENTS,
      ),
      false,
      /label team=web is not set/,
    );
  });
  it("filters event types", () => {
    const adds = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add", "delete"] });
    check(
      adds,
      event("ADD", configMap({ a: "1" }), CONFIGMAPS, "2026-11-01T10:00:05Z"),
      true,
      /app-config was created/,
    );
    check(adds, event("DELETE", configMap({ a: "1" }), CONFIGMAPS), true, /app-config was deleted/);
    check(
      adds,
      updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS),
      false,
      /event type UPDATE is not one of ADD, DELETE/,
    );
    const deletes = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["delete"] });
    check(deletes, event("ADD", configMap({ a: "1" }), CONFIGMAPS), false, /event type ADD is not one of DELETE/);
  });
  it("unwraps a DELETE seen only after a relist (DeletedFinalStateUnknown)", () => {
    const deletes = hookWith({
      resource: { version: "v1", resource: "configmaps", name: "app-config" },
      events: ["delete"],
    });
    check(
      deletes,
      event("DELETE", { Key: "web/app-config", Obj: configMap({ a: "1" }) }, CONFIGMAPS),
      true,
      /app-config was deleted/,
    );
  });
});

describe("resource triggers: when", () => {
  const scaledUp = hookWith({
    resource: { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
    changed: ["spec.replicas"],
    when: "object.spec.replicas > oldObject.spec.replicas && event.kind == 'UPDATE'",
  });
  it("fires when the condition holds", () => {
    check(
      scaledUp,
      updateEvent(deployment({ replicas: 2 }), deployment({ replicas: 4, generation: 4 }), DEPLOYMENTS),
      true,
      /spec\.replicas changed, and when holds/,
    );
  });
  it("skips when it does not; the Sensor cannot evaluate CEL and passes it on", () => {
    check(
      scaledUp,
      updateEvent(deployment({ replicas: 4 }), deployment({ replicas: 2, generation: 4 }), DEPLOYMENTS),
      false,
      /when is false/,
      true,
    );
  });
  it("skips with the reason when the condition cannot be evaluated", () => {
    const broken = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments" },
      when: "object.spec.missing.field == 1",
    });
    const decision = decide(broken.trigger, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS));
    expect(decision).toEqual({
      fires: false,
      code: "when_error",
      reason: "when could not be evaluated: field not found: missing",
    });
  });
});

// Issue 8 §7: per (hook, object) the runner remembers the fingerprint of what the hook handled.
describe("resource triggers: memory and catch-up", () => {
  const frontend = deployment();
  const uid = frontend.metadata!.uid!;

  it("an UPDATE that fires remembers its fingerprint, identity and subject", () => {
    const ev = updateEvent(
      deployment(),
      deployment({ image: "registry.example/frontend:1.5.0", generation: 4, resourceVersion: "1010" }),
      DEPLOYMENTS,
    );
    const e = evaluate(imageHook.trigger, ev, {});
    expect(e).toMatchObject({ decision: { fires: true }, remember: "set", identity: `${uid}@1010` });
    expect(e.fingerprint).toMatch(/^p:[0-9a-f]{16}$/);
    expect(e.subject).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "web",
      name: "frontend",
      uid,
      resourceVersion: "1010",
    });
    expect(Object.keys(e.scope)).toEqual(["object", "oldObject", "event"]);
    // The same change delivered again (a duplicate, a watch reconnect) fires nothing.
    check(imageHook, ev, false, /already handled in this state/, true, { memory: { fingerprint: e.fingerprint! } });
    expect(evaluate(imageHook.trigger, ev, { memory: { fingerprint: e.fingerprint! } }).remember).toBe("keep");
  });

  it("fingerprints: changed paths, else generation, else everything outside metadata and status; add/delete-only hooks: seen", () => {
    const fp = (hook: Hook, ev: ResourceEvent) => evaluate(hook.trigger, ev, {}).fingerprint;
    const gen = updateEvent(deployment(), deployment({ generation: 4, replicas: 3 }), DEPLOYMENTS);
    expect(fp(defaultHook, gen)).toBe("g:4");
    const cm = fp(anyConfigChange, updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS));
    expect(cm).toMatch(/^h:/);
    // Labels and resourceVersion are outside what the hook compares: the same fingerprint.
    expect(
      fp(
        anyConfigChange,
        updateEvent(
          configMap({ a: "1" }),
          configMap({ a: "2" }, { labels: { x: "y" }, resourceVersion: "9" }),
          CONFIGMAPS,
        ),
      ),
    ).toBe(cm);
    const adds = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add"] });
    expect(fp(adds, event("ADD", configMap({ a: "1" }), CONFIGMAPS))).toBe("seen");
    // A null entry counts as absent, as in the comparison.
    const withNull = configMap({ a: "2" });
    (withNull.data as Record<string, unknown>).b = null;
    expect(fp(anyConfigChange, updateEvent(configMap({ a: "1" }), withNull, CONFIGMAPS))).toBe(cm);
  });

  it("an update hook seeing an object first through an ADD records a baseline and fires nothing", () => {
    const ev = event("ADD", frontend, DEPLOYMENTS);
    const e = evaluate(imageHook.trigger, ev, {});
    expect(e).toMatchObject({ decision: { fires: false }, remember: "set" });
    expect(e.decision.reason).toMatch(/baseline recorded/);
    expect(runLuaFilter(sensorFilterScript(imageHook.trigger), JSON.parse(JSON.stringify(ev.data)))).toBe(true);
  });

  it("a replayed ADD fires an update hook when the object changed while the event source was away, once", () => {
    const before = evaluate(imageHook.trigger, event("ADD", frontend, DEPLOYMENTS), {}).fingerprint!;
    const changed = event(
      "ADD",
      deployment({ image: "registry.example/frontend:1.6.0", generation: 5, resourceVersion: "1200" }),
      DEPLOYMENTS,
    );
    const caught = evaluate(imageHook.trigger, changed, { memory: { fingerprint: before } });
    expect(caught).toMatchObject({ decision: { fires: true }, remember: "set", identity: `${uid}@1200` });
    expect(caught.decision.reason).toMatch(/changed while the event source was away/);
    // The next replay of the same state: nothing.
    check(imageHook, changed, false, /already handled in this state/, true, {
      memory: { fingerprint: caught.fingerprint! },
    });
    // Unchanged since the last handled state: nothing.
    check(imageHook, event("ADD", frontend, DEPLOYMENTS), false, /already handled/, true, {
      memory: { fingerprint: before },
    });
  });

  it("an add hook fires once for objects created after it was first served, never for older ones or replays", () => {
    const adds = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add"] });
    const served = "2026-11-01T09:00:00Z";
    const fresh = event("ADD", configMap({ a: "1" }), CONFIGMAPS);
    const first = evaluate(adds.trigger, fresh, { hookFirstServedAt: served });
    expect(first).toMatchObject({
      decision: { fires: true, reason: "app-config was created" },
      remember: "set",
      fingerprint: "seen",
    });
    check(adds, fresh, false, /already handled/, true, { memory: { fingerprint: "seen" }, hookFirstServedAt: served });
    const older = evaluate(adds.trigger, fresh, { hookFirstServedAt: "2026-11-02T00:00:00Z" });
    expect(older).toMatchObject({ decision: { fires: false }, remember: "set" });
    expect(older.decision.reason).toMatch(
      /created at 2026-11-01T10:00:00Z, before the hook was first served at 2026-11-02T00:00:00Z/,
    );
    // Created while the event source was down (after the hook was served): still fires, on the replayed ADD.
    expect(decide(adds.trigger, fresh, { hookFirstServedAt: served }).fires).toBe(true);
  });

  it("an ADD or UPDATE older than the state already handled fires nothing (the two streams of a watch)", () => {
    // The ADD stream replays while the UPDATE stream goes on: 1200 was handled from an UPDATE, then
    // the ADD the replay took at 1100 arrives. Its fingerprint differs from the memory, which alone
    // would look like a change missed while the event source was away.
    const handled = evaluate(
      imageHook.trigger,
      event("ADD", deployment({ image: "registry.example/frontend:1.6.0", resourceVersion: "1200" }), DEPLOYMENTS),
      {},
    ).fingerprint!;
    const memory = { fingerprint: handled, resourceVersion: "1200" };
    const lateAdd = event("ADD", deployment({ resourceVersion: "1100" }), DEPLOYMENTS);
    const late = evaluate(imageHook.trigger, lateAdd, { memory });
    expect(late).toMatchObject({ decision: { fires: false, code: "already_handled" }, remember: "keep" });
    expect(late.decision.reason).toMatch(
      /resourceVersion 1100 is older than the state the hook already handled \(resourceVersion 1200\)/,
    );
    expect(late.fingerprint).toBeUndefined();
    const lateUpdate = updateEvent(
      deployment({ resourceVersion: "1000" }),
      deployment({ image: "registry.example/frontend:1.5.0", resourceVersion: "1150" }),
      DEPLOYMENTS,
    );
    expect(decide(imageHook.trigger, lateUpdate, { memory })).toMatchObject({ fires: false, code: "already_handled" });
    // Newer than the memory, or a memory without a resourceVersion: decided as before.
    expect(
      decide(imageHook.trigger, lateAdd, { memory: { fingerprint: handled, resourceVersion: "1099" } }).fires,
    ).toBe(true);
    expect(decide(imageHook.trigger, lateAdd, { memory: { fingerprint: handled } }).fires).toBe(true);
    // A DELETE is never too old: it forgets.
    expect(
      evaluate(imageHook.trigger, event("DELETE", deployment({ resourceVersion: "1" }), DEPLOYMENTS), { memory }),
    ).toMatchObject({ remember: "forget" });
  });

  it("an UPDATE of an object created since the hook was served, before its ADD was handled, fires once for both", () => {
    const both = hookWith({
      resource: { version: "v1", resource: "configmaps", namespace: "web" },
      events: ["add", "update"],
    });
    const served = "2026-11-01T09:00:00Z";
    const created = configMap({ a: "1" }, { resourceVersion: "2001" });
    const update = updateEvent(created, configMap({ a: "2" }, { resourceVersion: "2002" }), CONFIGMAPS);
    const first = evaluate(both.trigger, update, { hookFirstServedAt: served });
    expect(first).toMatchObject({ decision: { fires: true }, remember: "set" });
    expect(first.decision.reason).toMatch(/app-config was created and then changed before its ADD was handled: data/);
    // its ADD, from the slower stream, is older than what was handled
    const memory = { fingerprint: first.fingerprint!, resourceVersion: "2002" };
    expect(
      decide(both.trigger, event("ADD", created, CONFIGMAPS), { memory, hookFirstServedAt: served }),
    ).toMatchObject({
      fires: false,
      code: "already_handled",
    });
    // Created before the hook was served (its ADD is a replay's baseline): an ordinary update.
    const ordinary = evaluate(both.trigger, update, { hookFirstServedAt: "2026-11-02T00:00:00Z" });
    expect(ordinary.decision).toMatchObject({ fires: true, reason: "data changed" });
  });

  it("a DELETE forgets what every hook remembered about the object", () => {
    const ev = event("DELETE", frontend, DEPLOYMENTS);
    expect(evaluate(imageHook.trigger, ev, { memory: { fingerprint: "p:x" } })).toMatchObject({
      decision: { fires: false },
      remember: "forget",
    });
    const deletes = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments" },
      events: ["delete"],
    });
    expect(evaluate(deletes.trigger, ev, {})).toMatchObject({
      decision: { fires: true, reason: "frontend was deleted" },
      remember: "forget",
    });
    expect(runLuaFilter(sensorFilterScript(imageHook.trigger), JSON.parse(JSON.stringify(ev.data)))).toBe(true);
  });

  it("a false when after a real change remembers the state: a replay must not fire it later", () => {
    const scaledUp = hookWith({
      resource: { group: "apps", version: "v1", resource: "deployments" },
      changed: ["spec.replicas"],
      when: "object.spec.replicas > oldObject.spec.replicas",
    });
    const e = evaluate(
      scaledUp.trigger,
      updateEvent(deployment({ replicas: 4 }), deployment({ replicas: 2, generation: 4 }), DEPLOYMENTS),
      {},
    );
    expect(e).toMatchObject({
      decision: { fires: false, reason: "when is false: object.spec.replicas > oldObject.spec.replicas" },
      remember: "set",
    });
    expect(e.fingerprint).toBeDefined();
  });

  it("uses the event id as identity when uid or resourceVersion is missing", () => {
    const bare = configMap({ a: "2" });
    delete bare.metadata!.uid;
    const ev = updateEvent(configMap({ a: "1" }), bare, CONFIGMAPS);
    const e = evaluate(anyConfigChange.trigger, ev, {});
    expect(e.identity).toBe(ev.context.id);
    expect(e.subject).toBeUndefined();
  });
});

describe("resource triggers: malformed input is a skip naming the field", () => {
  const nest = (depth: number): unknown => {
    let v: unknown = "x";
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };
  const cases: Array<[string, Hook, () => ResourceEvent, RegExp]> = [
    [
      "metadata.name: 5 on a namePrefix hook",
      hookWith({ resource: { group: "apps", version: "v1", resource: "deployments", namePrefix: "front" } }),
      () => {
        const o = deployment({ generation: 4 });
        (o.metadata as Record<string, unknown>).name = 5;
        return updateEvent(deployment(), o, DEPLOYMENTS);
      },
      /metadata\.name is number 5, expected a string/,
    ],
    [
      "generation as a map",
      defaultHook,
      () => {
        const o = deployment();
        (o.metadata as Record<string, unknown>).generation = { x: 1 };
        return updateEvent(deployment(), o, DEPLOYMENTS);
      },
      /metadata\.generation is a map, expected an integer/,
    ],
    [
      "labels as a list",
      hookWith({ resource: { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } } }),
      () => {
        const o = deployment({ generation: 4 });
        (o.metadata as Record<string, unknown>).labels = ["team=web"];
        return updateEvent(deployment(), o, DEPLOYMENTS);
      },
      /metadata\.labels is a list, expected a map/,
    ],
    [
      "metadata as a string",
      defaultHook,
      () => {
        const o = deployment();
        (o as Record<string, unknown>).metadata = "frontend";
        return updateEvent(deployment(), o, DEPLOYMENTS);
      },
      /metadata is string "frontend", expected a map/,
    ],
    [
      "data nested 10,000 deep",
      configHook,
      () => {
        const before = configMap({});
        const after = configMap({});
        (before.data as Record<string, unknown>)["app.properties"] = nest(10_000);
        (after.data as Record<string, unknown>)["app.properties"] = nest(10_000);
        return updateEvent(before, after, CONFIGMAPS);
      },
      /data\["app\.properties"\] is nested deeper than 100 levels: cannot compare/,
    ],
    [
      "an object without generation nested 10,000 deep",
      anyConfigChange,
      () => {
        const before = configMap({});
        const after = configMap({});
        (before as Record<string, unknown>).binaryData = nest(10_000);
        (after as Record<string, unknown>).binaryData = nest(10_000);
        return updateEvent(before, after, CONFIGMAPS);
      },
      /binaryData is nested deeper than 100 levels/,
    ],
    [
      "creationTimestamp as a map on an add hook",
      hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add"] }),
      () => {
        const o = configMap({ a: "1" });
        (o.metadata as Record<string, unknown>).creationTimestamp = { seconds: 1 };
        return event("ADD", o, CONFIGMAPS);
      },
      /metadata\.creationTimestamp is a map, expected a string/,
    ],
    [
      "a body that is a list",
      defaultHook,
      () => ({ ...event("ADD", [1, 2], DEPLOYMENTS) }),
      /the event carries no object/,
    ],
    [
      "an unknown event type",
      defaultHook,
      () => ({
        ...event("ADD", deployment(), DEPLOYMENTS),
        data: { ...event("ADD", deployment(), DEPLOYMENTS).data, type: 7 as never },
      }),
      /event type number 7 is not ADD, UPDATE or DELETE/,
    ],
  ];
  for (const [name, hook, make, reason] of cases) {
    it(name, () => {
      const ctx = name.includes("add hook") ? { hookFirstServedAt: "2026-01-01T00:00:00Z" } : {};
      const e = evaluate(hook.trigger, make(), ctx);
      expect(e.decision.fires).toBe(false);
      expect(e.decision.reason).toMatch(reason);
      expect(e.remember).toBe("keep");
    });
  }
});
