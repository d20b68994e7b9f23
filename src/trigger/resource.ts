// The one definition of "does this resource event fire this hook". The runner calls decide()
// (the authority), `simulate` calls it to explain itself, and the generator compiles the same
// rules into the Sensor's Lua filter (sensorScript) so irrelevant updates stop in the Sensor.
// The two are kept side by side on purpose: a change to one rule must change both, and
// test/unit/trigger-agreement.test.ts runs the Lua against decide() over a corpus.
import { evaluateCondition, ExpressionError } from "../expr/cel.js";
import { formatPath, lookup, type PathSegment } from "../spec/paths.js";
import type { ResourceTrigger } from "../spec/types.js";
import { objectOf, sameValue, type Decision, type KubeObject, type ResourceEvent } from "./event.js";
import { LUA_GET, luaString } from "./lua.js";

/** An ADD for an object older than this is an informer (re)list after the event source started, not a creation. */
export const ADD_REPLAY_WINDOW_MS = 5 * 60_000;

const EVENT_TYPES = { add: "ADD", update: "UPDATE", delete: "DELETE" } as const;

export function decideResource(trigger: ResourceTrigger, event: ResourceEvent): Decision {
  const { data } = event;
  const watch = trigger.watch;
  if (data.group !== watch.group || data.version !== watch.version || data.resource !== watch.resource) {
    return skip(`the event is for ${gvr(data)}, the hook watches ${gvr(watch)}`);
  }
  const wanted = trigger.events.map((e) => EVENT_TYPES[e]);
  if (!wanted.includes(data.type)) return skip(`event type ${data.type} is not one of ${wanted.join(", ")}`);
  const object = objectOf(data.body);
  if (!object) return skip("the event carries no object");
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace ?? "";
  if (watch.namespace && namespace !== watch.namespace) return skip(`namespace ${namespace || "(none)"} is not ${watch.namespace}`);
  if (trigger.name !== undefined && name !== trigger.name) return skip(`name ${name} is not ${trigger.name}`);
  if (trigger.namePrefix !== undefined && !name.startsWith(trigger.namePrefix)) return skip(`name ${name} does not start with ${trigger.namePrefix}`);
  for (const [key, value] of Object.entries(watch.labels)) {
    if (object.metadata?.labels?.[key] !== value) return skip(`label ${key}=${value} is not set`);
  }
  let reason: string;
  if (data.type === "ADD") {
    const created = Date.parse(object.metadata?.creationTimestamp ?? "");
    const at = Date.parse(event.context.time ?? "");
    if (Number.isFinite(created) && Number.isFinite(at) && at - created > ADD_REPLAY_WINDOW_MS) {
      return skip(`ADD of an object created at ${object.metadata?.creationTimestamp}, long before the event: an event-source relist, not a creation`);
    }
    reason = `${name} was created`;
  } else if (data.type === "DELETE") {
    reason = `${name} was deleted`;
  } else {
    const old = objectOf(data.oldBody);
    if (!old) return skip("the UPDATE event carries no old object");
    const change = trigger.changed ? changedPaths(trigger.changed.map((p) => p.segments), old, object) : specChange(old, object);
    if (!change.changed) return skip(change.reason);
    reason = change.reason;
  }
  if (trigger.when) {
    const scope = { object, oldObject: objectOf(data.oldBody) ?? null, event: eventScope(event) };
    try {
      if (!evaluateCondition(trigger.when, scope)) return skip(`when is false: ${trigger.when.source}`);
    } catch (err) {
      if (err instanceof ExpressionError) return skip(`when could not be evaluated: ${err.message}`);
      throw err;
    }
    reason += `, and when holds`;
  }
  return { fires: true, reason };
}

/** What templates and conditions see as `event`. */
export function eventScope(event: ResourceEvent): Record<string, unknown> {
  return { ...event.context, kind: event.data.type, group: event.data.group, version: event.data.version, resource: event.data.resource };
}

function changedPaths(paths: (readonly PathSegment[])[], old: KubeObject, now: KubeObject): { changed: boolean; reason: string } {
  const changed = paths.filter((segments) => {
    const a = lookup(old, segments);
    const b = lookup(now, segments);
    if (a.present !== b.present) return true;
    return a.present && b.present && !sameValue(a.value, b.value);
  });
  if (changed.length === 0) return { changed: false, reason: `none of ${paths.map(formatPath).join(", ")} changed` };
  return { changed: true, reason: `${changed.map(formatPath).join(", ")} changed` };
}

/** Without `changed`: a generation bump, or for objects without generation any change outside metadata and status. */
function specChange(old: KubeObject, now: KubeObject): { changed: boolean; reason: string } {
  const before = old.metadata?.generation;
  const after = now.metadata?.generation;
  if (before != null || after != null) {
    return before === after
      ? { changed: false, reason: `generation ${String(after)} unchanged: a status or metadata update` }
      : { changed: true, reason: `generation changed from ${String(before)} to ${String(after)}` };
  }
  const keys = new Set([...Object.keys(old), ...Object.keys(now)]);
  const differing = [...keys].filter((k) => k !== "metadata" && k !== "status" && !sameValue(old[k], now[k]));
  return differing.length === 0
    ? { changed: false, reason: "only metadata or status changed" }
    : { changed: true, reason: `${differing.join(", ")} changed` };
}

function skip(reason: string): Decision {
  return { fires: false, reason };
}

function gvr(x: { group: string; version: string; resource: string }): string {
  return `${x.group ? `${x.group}/` : ""}${x.version}/${x.resource}`;
}

// ---- The same rules for the Sensor, in Lua (Argo Events' `script` filter, gopher-lua 5.1).
// Argo Events hands the script the event data as the global `event`; JSON nulls arrive as nil
// and numbers as Lua numbers, which is why sameValue() treats null as absent. The script must
// return true to pass. What Lua cannot decide (the `when` condition, the ADD relist window) it
// passes on: the Sensor may let through more than fires, never less.

const LUA_PRELUDE = `local function eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
${LUA_GET}
local function object(o)
  if type(o) == "table" and o.metadata == nil and type(o.Obj) == "table" then return o.Obj end
  return o
end`;

function luaPath(segments: readonly PathSegment[]): string {
  return `{${segments.map((s) => (typeof s === "number" ? String(s + 1) : luaString(s))).join(", ")}}`;
}

export function sensorScript(trigger: ResourceTrigger): string {
  const lines = [LUA_PRELUDE];
  const types = trigger.events.map((e) => `event.type == ${luaString(EVENT_TYPES[e])}`).join(" or ");
  lines.push(`if not (${types}) then return false end`);
  lines.push(`local obj = object(event.body)`);
  lines.push(`if type(obj) ~= "table" then return false end`);
  // The watch already limits namespace and labels; checking them again keeps the Sensor right
  // even when it shares an event source with a wider watch.
  if (trigger.watch.namespace) lines.push(`if get(obj, {"metadata", "namespace"}) ~= ${luaString(trigger.watch.namespace)} then return false end`);
  if (trigger.name !== undefined) lines.push(`if get(obj, {"metadata", "name"}) ~= ${luaString(trigger.name)} then return false end`);
  if (trigger.namePrefix !== undefined) {
    lines.push(`if string.sub(get(obj, {"metadata", "name"}) or "", 1, ${Buffer.byteLength(trigger.namePrefix)}) ~= ${luaString(trigger.namePrefix)} then return false end`);
  }
  for (const [key, value] of Object.entries(trigger.watch.labels)) {
    lines.push(`if get(obj, {"metadata", "labels", ${luaString(key)}}) ~= ${luaString(value)} then return false end`);
  }
  if (trigger.events.includes("update")) {
    if (trigger.events.length > 1) lines.push(`if event.type ~= "UPDATE" then return true end`);
    lines.push(`local old = object(event.oldBody)`);
    lines.push(`if type(old) ~= "table" then return false end`);
    if (trigger.changed) {
      for (const path of trigger.changed) {
        lines.push(`if not eq(get(old, ${luaPath(path.segments)}), get(obj, ${luaPath(path.segments)})) then return true end`);
      }
      lines.push(`return false`);
    } else {
      lines.push(`local g0, g1 = get(old, {"metadata", "generation"}), get(obj, {"metadata", "generation"})`);
      lines.push(`if g0 ~= nil or g1 ~= nil then return g0 ~= g1 end`);
      lines.push(`for k, v in pairs(obj) do if k ~= "metadata" and k ~= "status" and not eq(v, old[k]) then return true end end`);
      lines.push(`for k in pairs(old) do if k ~= "metadata" and k ~= "status" and obj[k] == nil then return true end end`);
      lines.push(`return false`);
    }
  } else {
    lines.push(`return true`);
  }
  return lines.join("\n") + "\n";
}
