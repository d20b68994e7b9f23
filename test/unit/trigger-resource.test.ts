// decide() is the authority on whether a resource change fires a hook; the Sensor's Lua filter
// compiled from the same trigger must pass every event decide() fires (and, where Lua can
// decide, reject the same ones). Each case checks both.
import { describe, expect, it } from "vitest";
import { decide, sensorFilterScript } from "../../src/trigger/index.js";
import type { ResourceEvent } from "../../src/trigger/event.js";
import type { Hook } from "../../src/spec/types.js";
import { runLuaFilter } from "../helpers/lua-filter.js";
import { CONFIGMAPS, configMap, deployment, DEPLOYMENTS, event, updateEvent } from "../helpers/objects.js";
import { hookWith } from "../helpers/spec.js";

const imageHook = hookWith({
  resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" },
  changed: ["spec.template.spec.containers[0].image"],
});
const defaultHook = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" } });
const configHook = hookWith({ resource: { version: "v1", resource: "configmaps", namespace: "web", name: "app-config" }, changed: ['data["app.properties"]'] });
const anyConfigChange = hookWith({ resource: { version: "v1", resource: "configmaps", namespace: "web" } });

/** Asserts decide() and the Lua filter; `luaPassesMore` marks cases Lua cannot decide (when, relist window). */
function check(hook: Hook, ev: ResourceEvent, fires: boolean, reason: RegExp, luaPassesMore = false) {
  const decision = decide(hook.trigger, ev);
  expect(decision.fires).toBe(fires);
  expect(decision.reason).toMatch(reason);
  const lua = runLuaFilter(sensorFilterScript(hook.trigger), JSON.parse(JSON.stringify(ev.data)));
  if (luaPassesMore) expect(lua).toBe(true);
  else expect(lua).toBe(fires);
}

describe("resource triggers: changed paths", () => {
  it("fires when the watched image changes", () => {
    const ev = updateEvent(deployment({ image: "registry.example/frontend:1.4.0" }), deployment({ image: "registry.example/frontend:1.5.0", generation: 4 }), DEPLOYMENTS);
    check(imageHook, ev, true, /spec\.template\.spec\.containers\[0\]\.image changed/);
  });
  it("does not fire when only replicas change", () => {
    const ev = updateEvent(deployment({ replicas: 2 }), deployment({ replicas: 5, generation: 4 }), DEPLOYMENTS);
    check(imageHook, ev, false, /none of spec\.template\.spec\.containers\[0\]\.image changed/);
  });
  it("does not fire on a status-only update", () => {
    const ev = updateEvent(deployment(), deployment({ status: { observedGeneration: 3, replicas: 2, updatedReplicas: 1 }, resourceVersion: "1002" }), DEPLOYMENTS);
    check(imageHook, ev, false, /none of/);
  });
  it("counts a path present on one side only as changed", () => {
    const before = configMap({ other: "x" });
    const after = configMap({ other: "x", "app.properties": "a=1" });
    check(configHook, updateEvent(before, after, CONFIGMAPS), true, /data\["app\.properties"\] changed/);
    check(configHook, updateEvent(after, before, CONFIGMAPS), true, /changed/);
  });
  it("reads keys with dots through the quoted form", () => {
    const ev = updateEvent(configMap({ "app.properties": "a=1", other: "1" }), configMap({ "app.properties": "a=1", other: "2" }), CONFIGMAPS);
    check(configHook, ev, false, /none of data\["app\.properties"\] changed/);
  });
  it("treats null as absent, as Kubernetes does", () => {
    const before = deployment();
    const after = deployment();
    (after.spec as Record<string, unknown>).paused = null;
    const hook = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments" }, changed: ["spec.paused"] });
    check(hook, updateEvent(before, after, DEPLOYMENTS), false, /none of spec\.paused changed/);
  });
  it("compares whole subtrees", () => {
    const hook = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments" }, changed: ["spec.template.spec.containers"] });
    const before = deployment();
    const after = deployment();
    ((after.spec as { template: { spec: { containers: { args?: string[] }[] } } }).template.spec.containers[1]!).args = ["--port", "9091"];
    check(hook, updateEvent(before, after, DEPLOYMENTS), true, /spec\.template\.spec\.containers changed/);
    check(hook, updateEvent(before, deployment(), DEPLOYMENTS), false, /none of/);
  });
});

describe("resource triggers: default change detection", () => {
  it("fires on a generation change", () => {
    check(defaultHook, updateEvent(deployment(), deployment({ replicas: 3, generation: 4 }), DEPLOYMENTS), true, /generation changed from 3 to 4/);
  });
  it("ignores status-only updates (same generation)", () => {
    const ev = updateEvent(deployment(), deployment({ status: { observedGeneration: 3, replicas: 3 }, resourceVersion: "1005" }), DEPLOYMENTS);
    check(defaultHook, ev, false, /generation 3 unchanged/);
  });
  it("ignores label-only updates (same generation)", () => {
    const ev = updateEvent(deployment(), deployment({ labels: { app: "frontend", team: "web", tier: "edge" }, resourceVersion: "1006" }), DEPLOYMENTS);
    check(defaultHook, ev, false, /generation 3 unchanged/);
  });
  it("fires on a data change of an object without generation", () => {
    check(anyConfigChange, updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS), true, /data changed/);
  });
  it("ignores a metadata-only change of an object without generation", () => {
    check(anyConfigChange, updateEvent(configMap({ a: "1" }), configMap({ a: "1" }, { labels: { x: "y" }, resourceVersion: "2002" }), CONFIGMAPS), false, /only metadata or status changed/);
  });
});

describe("resource triggers: object selection", () => {
  it("skips other names, namespaces and resources", () => {
    check(defaultHook, updateEvent(deployment({ name: "backend" }), deployment({ name: "backend", generation: 4 }), DEPLOYMENTS), false, /name backend is not frontend/);
    const other = updateEvent(deployment({ namespace: "shop" }), deployment({ namespace: "shop", generation: 4 }), DEPLOYMENTS);
    expect(decide(defaultHook.trigger, other)).toEqual({ fires: false, reason: "namespace shop is not web" });
    const wrongResource = { ...updateEvent(configMap({ a: "1" }), configMap({ a: "2" }), CONFIGMAPS) };
    expect(decide(defaultHook.trigger, wrongResource).reason).toBe("the event is for v1/configmaps, the hook watches apps/v1/deployments");
  });
  it("selects by name prefix and labels", () => {
    const prefix = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments", namePrefix: "front" } });
    check(prefix, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS), true, /generation changed/);
    check(prefix, updateEvent(deployment({ name: "backend" }), deployment({ name: "backend", generation: 4 }), DEPLOYMENTS), false, /does not start with front/);
    const labelled = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } } });
    check(labelled, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS), true, /generation changed/);
    check(labelled, updateEvent(deployment({ labels: { team: "shop" } }), deployment({ labels: { team: "shop" }, generation: 4 }), DEPLOYMENTS), false, /label team=web is not set/);
  });
  it("filters event types", () => {
    check(defaultHook, event("ADD", deployment(), DEPLOYMENTS, "2026-11-01T10:00:05Z"), false, /event type ADD is not one of UPDATE/);
    const adds = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add", "delete"] });
    check(adds, event("ADD", configMap({ a: "1" }), CONFIGMAPS, "2026-11-01T10:00:05Z"), true, /app-config was created/);
    check(adds, event("DELETE", configMap({ a: "1" }), CONFIGMAPS), true, /app-config was deleted/);
  });
  it("treats an ADD of an old object as an event-source relist, not a creation", () => {
    const adds = hookWith({ resource: { version: "v1", resource: "configmaps" }, events: ["add"] });
    check(adds, event("ADD", configMap({ a: "1" }), CONFIGMAPS, "2026-11-24T12:00:00Z"), false, /relist/, true);
  });
  it("unwraps a DELETE seen only after a relist (DeletedFinalStateUnknown)", () => {
    const deletes = hookWith({ resource: { version: "v1", resource: "configmaps", name: "app-config" }, events: ["delete"] });
    check(deletes, event("DELETE", { Key: "web/app-config", Obj: configMap({ a: "1" }) }, CONFIGMAPS), true, /app-config was deleted/);
  });
});

describe("resource triggers: when", () => {
  const scaledUp = hookWith({
    resource: { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
    changed: ["spec.replicas"],
    when: "object.spec.replicas > oldObject.spec.replicas && event.kind == 'UPDATE'",
  });
  it("fires when the condition holds", () => {
    check(scaledUp, updateEvent(deployment({ replicas: 2 }), deployment({ replicas: 4, generation: 4 }), DEPLOYMENTS), true, /spec\.replicas changed, and when holds/);
  });
  it("skips when it does not; the Sensor cannot evaluate CEL and passes it on", () => {
    check(scaledUp, updateEvent(deployment({ replicas: 4 }), deployment({ replicas: 2, generation: 4 }), DEPLOYMENTS), false, /when is false/, true);
  });
  it("skips with the reason when the condition cannot be evaluated", () => {
    const broken = hookWith({ resource: { group: "apps", version: "v1", resource: "deployments" }, when: "object.spec.missing.field == 1" });
    const decision = decide(broken.trigger, updateEvent(deployment(), deployment({ generation: 4 }), DEPLOYMENTS));
    expect(decision).toEqual({ fires: false, reason: "when could not be evaluated: field not found: missing" });
  });
});
