// The Sensor's filter for one watch, in Lua (Argo Events' `script` filter: gopher-lua 5.1, the
// event data as the global table `event`, JSON nulls arrive as nil, the script returns true to
// pass). It is data-driven: one table row per hook (what the hook selects and the paths it
// compares, from TriggerKind.filterRow) evaluated by one function per trigger kind (its
// luaFilter, written over the prelude here), so the script grows by a row per hook, not by a copy
// of the code. It passes what ANY hook of the watch could fire on or must remember: ADDs and
// DELETEs of objects some hook selects (catch-up and forgetting happen in the runner), UPDATEs
// only when some hook's rules fire. What Lua cannot decide (`when`, the remembered fingerprints)
// the runner decides: the filter may pass more than fires, never less.
import type { LuaFilter } from "./kind.js";

export function luaString(s: string): string {
  const escaped = s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\0/g, "\\0");
  return `"${escaped}"`;
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

/**
 * The helpers a kind's function may call, each after those it calls itself (a Lua local is seen
 * only after its definition). A script holds the ones its code calls: gopher-lua compiles the
 * whole script again for every event, and the compile is most of a filter's cost.
 */
const HELPERS: ReadonlyArray<readonly [name: string, source: string]> = [
  ["get", LUA_GET],
  [
    "eq",
    `local function eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end`,
  ],
  [
    "object",
    `local function object(o)
  if type(o) == "table" and o.metadata == nil and type(o.Obj) == "table" then return o.Obj end
  return o
end`,
  ],
  [
    "labelled",
    `local function labelled(h, o)
  for k, v in pairs(h.labels) do if get(o, {"metadata", "labels", k}) ~= v then return false end end
  return true
end`,
  ],
  ["prefixed", `local function prefixed(s, p) return type(s) == "string" and string.sub(s, 1, string.len(p)) == p end`],
  [
    "selects",
    `local function selects(h, obj, nameKey)
  if h.ns and get(obj, {"metadata", "namespace"}) ~= h.ns then return false end
  local name = get(obj, {"metadata", "name"})
  if h[nameKey] and name ~= h[nameKey] then return false end
  if h.prefix and not prefixed(name, h.prefix) then return false end
  return not h.labels or labelled(h, obj)
end`,
  ],
];

/** The helpers `code` calls, directly or through each other, in definition order. */
function helpersFor(code: string): string[] {
  const needed = new Set<string>();
  let calling = code;
  // From the last: a helper is called only by code or by helpers defined after it.
  for (const [name, source] of [...HELPERS].reverse()) {
    if (!new RegExp(`\\b${name}\\(`).test(calling)) continue;
    needed.add(name);
    calling += `\n${source}`;
  }
  return HELPERS.filter(([name]) => needed.has(name)).map(([, source]) => source);
}

/** One hook's row in its watch's filter: the kind's function (see TriggerKind.luaFilter) and the row's data. */
export interface LuaFilterEntry {
  filter: LuaFilter;
  /** Plain data: strings, booleans, numbers, lists and maps of them. */
  data: Record<string, unknown>;
}

/**
 * The loop over the rows. With transitions (trigger/selection.ts), a row whose labels the object
 * gained is asked about an ADD, one whose labels it lost about a DELETE of the old object.
 */
function rowLoop(transitions: boolean): string[] {
  if (!transitions)
    return [`for _, h in ipairs(hooks) do`, `  if fns[h.fn](h, t, obj, old) then return true end`, `end`];
  return [
    `for _, h in ipairs(hooks) do`,
    `  local ht, hobj, hold = t, obj, old`,
    `  if h.labels and t == "UPDATE" and type(old) == "table" then`,
    `    local now, was = labelled(h, obj), labelled(h, old)`,
    `    if now and not was then ht, hold = "ADD", nil`,
    `    elseif was and not now then ht, hobj, hold = "DELETE", old, nil end`,
    `  end`,
    `  if fns[h.fn](h, ht, hobj, hold) then return true end`,
    `end`,
  ];
}

/** One of `of` Sensor dependencies that share a stream by the object's uid (watch.ts, changesShards). */
export interface FilterShard {
  index: number;
  of: number;
}

/**
 * Passes only the events of this shard: the uid's last two hex digits modulo the shard count, so
 * each object's events stay on one trigger, in order; an event without a uid goes to shard 0.
 */
function shardTest({ index, of }: FilterShard): string[] {
  return [
    `local uid = get(obj, {"metadata", "uid"})`,
    `local key = type(uid) == "string" and tonumber(string.sub(uid, -2), 16) or 0`,
    `if key % ${of} ~= ${index} then return false end`,
  ];
}

export interface FilterOptions {
  /** Some hook selects by labels its watch does not (trigger/watch.ts, watchesOf). */
  transitions?: boolean;
  shard?: FilterShard;
}

/**
 * The filter script for one watch. Identical rows (hooks that select and compare the same
 * things) are written once: what matters to the filter is whether any row passes.
 */
export function watchFilterScript(
  entries: readonly LuaFilterEntry[],
  { transitions = false, shard }: FilterOptions = {},
): string {
  const rows = new Set<string>();
  const kinds = new Map<string, { filter: LuaFilter; rows: Array<Record<string, unknown>> }>();
  for (const entry of entries) {
    rows.add(luaValue({ fn: entry.filter.name, ...entry.data }));
    const kind = kinds.get(entry.filter.name) ?? { filter: entry.filter, rows: [] };
    kind.rows.push(entry.data);
    kinds.set(entry.filter.name, kind);
  }
  const fns = [...kinds.keys()].sort();
  const functions = fns.map((fn) => {
    const { filter, rows: kindRows } = kinds.get(fn)!;
    return filter.sourceFor?.(kindRows) ?? filter.source;
  });
  const main = [
    // A row's `fn` names the function; gopher-lua resolves it through this table.
    `local fns = {${fns.map((fn) => `${fn}=${fn}`).join(", ")}}`,
    `local hooks = {\n${[...rows].join(",\n")}\n}`,
    `local t = event.type`,
    `local obj = object(event.body)`,
    `if type(obj) ~= "table" then return false end`,
    ...(shard && shard.of > 1 ? shardTest(shard) : []),
    `local old = object(event.oldBody)`,
    ...rowLoop(transitions),
    `return false`,
  ];
  const code = [...functions, ...main];
  return [...helpersFor(code.join("\n")), ...code].join("\n") + "\n";
}
