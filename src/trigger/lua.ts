// The Sensor's filter for one watch, in Lua (Argo Events' `script` filter: gopher-lua 5.1, the
// event data as the global table `event`, JSON nulls arrive as nil, the script returns true to
// pass). It is data-driven: one table row per hook (what the hook selects and the paths it
// compares, from TriggerKind.filterEntry) evaluated by one function per trigger kind, so the
// script grows by a row per hook, not by a copy of the code. It passes what ANY hook of the watch
// could fire on or must remember: ADDs and DELETEs of objects some hook selects (catch-up and
// forgetting happen in the runner), UPDATEs only when some hook's rules fire. What Lua cannot
// decide (`when`, the remembered fingerprints) the runner decides: the filter may pass more than
// fires, never less.
import type { LuaFilterEntry } from "./kind.js";

export function luaString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\0/g, "\\0")}"`;
}

/** get(t, {"a", "b", 1}): the value at a path, nil when any step is missing. */
export const LUA_GET = `local function get(t, path)
  for _, k in ipairs(path) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end`;

const LUA_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LUA_KEYWORDS = new Set([
  "and",
  "break",
  "do",
  "else",
  "elseif",
  "end",
  "false",
  "for",
  "function",
  "if",
  "in",
  "local",
  "nil",
  "not",
  "or",
  "repeat",
  "return",
  "then",
  "true",
  "until",
  "while",
]);

/** A Lua literal for plain data (strings, finite numbers, booleans, lists, maps). */
export function luaValue(value: unknown): string {
  if (typeof value === "string") return luaString(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(luaValue).join(",")}}`;
  if (value && typeof value === "object") {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${LUA_IDENT.test(k) && !LUA_KEYWORDS.has(k) ? k : `[${luaString(k)}]`}=${luaValue(v)}`);
    return `{${fields.join(",")}}`;
  }
  throw new Error(`internal: cannot write ${typeof value} as Lua data`);
}

const PRELUDE = `${LUA_GET}
local function eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
local function object(o)
  if type(o) == "table" and o.metadata == nil and type(o.Obj) == "table" then return o.Obj end
  return o
end
local function prefixed(s, p) return type(s) == "string" and string.sub(s, 1, string.len(p)) == p end
local function ends(s, suffix) return type(s) == "string" and string.sub(s, -string.len(suffix)) == suffix end
local function selects(h, obj, nameKey)
  if h.ns and get(obj, {"metadata", "namespace"}) ~= h.ns then return false end
  local name = get(obj, {"metadata", "name"})
  if h[nameKey] and name ~= h[nameKey] then return false end
  if h.prefix and not prefixed(name, h.prefix) then return false end
  if h.labels then
    for k, v in pairs(h.labels) do if get(obj, {"metadata", "labels", k}) ~= v then return false end end
  end
  return true
end`;

const RESOURCE_FN = `local function resource(h, t, obj, old)
  if not selects(h, obj, "name") then return false end
  if t == "DELETE" then return true end
  if t == "ADD" then return h.add == true end
  if t ~= "UPDATE" or not h.upd or type(old) ~= "table" then return false end
  if h.paths then
    for _, p in ipairs(h.paths) do if not eq(get(old, p), get(obj, p)) then return true end end
    return false
  end
  local g0, g1 = get(old, {"metadata", "generation"}), get(obj, {"metadata", "generation"})
  if g0 ~= nil or g1 ~= nil then return g0 ~= g1 end
  for k, v in pairs(obj) do if k ~= "metadata" and k ~= "status" and not eq(v, old[k]) then return true end end
  for k in pairs(old) do if k ~= "metadata" and k ~= "status" and obj[k] == nil then return true end end
  return false
end`;

const ARGOCD_FN = `local function argocd(h, t, app, old)
  if not selects(h, app, "app") then return false end
  if t ~= "UPDATE" then return true end
  if type(old) ~= "table" then return false end
  local op = get(app, {"status", "operationState"})
  if type(op) ~= "table" then return false end
  -- a Running operation's result so far (a wave, a failed attempt before its retry) is what the
  -- runner remembers for the final result: it passes when it names a resource
  if op.phase ~= "Running" then
    if op.finishedAt == nil then return false end
    local before = get(old, {"status", "operationState"})
    if type(before) == "table" and before.finishedAt == op.finishedAt and before.startedAt == op.startedAt and before.phase == op.phase then return false end
    if not h.phases[op.phase] then return false end
  end
  local results = get(op, {"syncResult", "resources"})
  if type(results) ~= "table" then return false end
  -- whether a named resource really changed needs more than its message (server-side apply,
  -- retries, multi-step syncs): the runner decides; any named entry passes
  for _, r in ipairs(results) do
    if type(r) == "table" and (r.hookType == nil or r.hookType == "") then
      for _, m in ipairs(h.res) do
        if r.kind == m.kind and (m.group == nil or (r.group or "") == m.group) and (m.namespace == nil or (r.namespace or "") == m.namespace)
          and (m.name == nil or r.name == m.name) and (m.prefix == nil or prefixed(r.name, m.prefix)) then return true end
      end
    end
  end
  return false
end`;

const FUNCTIONS: Record<LuaFilterEntry["fn"], string> = { resource: RESOURCE_FN, argocd: ARGOCD_FN };

/**
 * The filter script for one watch. Identical rows (hooks that select and compare the same
 * things) are written once: what matters to the filter is whether any row passes.
 */
export function watchFilterScript(entries: readonly LuaFilterEntry[]): string {
  const rows = new Map<string, LuaFilterEntry>();
  for (const entry of entries) {
    const row = luaValue({ fn: entry.fn, ...entry.data });
    if (!rows.has(row)) rows.set(row, entry);
  }
  const fns = [...new Set(entries.map((e) => e.fn))].sort();
  const lines = [PRELUDE, ...fns.map((fn) => FUNCTIONS[fn])];
  // A row's `fn` names the function; gopher-lua resolves it through this table.
  lines.push(`local fns = {${fns.map((fn) => `${fn}=${fn}`).join(", ")}}`);
  lines.push(`local hooks = {\n${[...rows.keys()].join(",\n")}\n}`);
  lines.push(
    `local t = event.type`,
    `local obj = object(event.body)`,
    `if type(obj) ~= "table" then return false end`,
    `local old = object(event.oldBody)`,
    `for _, h in ipairs(hooks) do`,
    `  if fns[h.fn](h, t, obj, old) then return true end`,
    `end`,
    `return false`,
  );
  return lines.join("\n") + "\n";
}
