// Runs a Sensor `script` filter the way Argo Events v1.9 does, in fengari (Lua 5.3 in JS) for the
// fast tests: the event data becomes the global table `event` with the same lossy conversion as
// Argo Events' mapToTable (JSON null entries vanish, lists of lists are dropped), and the
// script passes when it returns true. The same scripts also run in the real engine in the
// end-to-end suite; this is a stand-in that keeps the fast tests fast.
import fengari from "fengari";

type LuaState = unknown;
const { lua, lauxlib, lualib, to_luastring } = fengari as unknown as {
  lua: Record<string, (...args: unknown[]) => unknown> & Record<string, number>;
  lauxlib: Record<string, (...args: unknown[]) => unknown>;
  lualib: Record<string, (...args: unknown[]) => unknown>;
  to_luastring: (s: string) => Uint8Array;
};

function push(L: LuaState, value: unknown): boolean {
  if (typeof value === "string") lua.lua_pushstring!(L, to_luastring(value));
  else if (typeof value === "number") lua.lua_pushnumber!(L, value);
  else if (typeof value === "boolean") lua.lua_pushboolean!(L, value);
  else if (Array.isArray(value)) {
    lua.lua_newtable!(L);
    let i = 1;
    for (const item of value) {
      // mapToTable keeps maps, numbers, strings and booleans in lists; anything else is dropped.
      if (item === null || Array.isArray(item)) continue;
      push(L, item);
      lua.lua_rawseti!(L, -2, i++);
    }
  } else if (value && typeof value === "object") {
    lua.lua_newtable!(L);
    for (const [k, v] of Object.entries(value)) {
      if (v === null || v === undefined) continue;
      push(L, v);
      lua.lua_setfield!(L, -2, to_luastring(k));
    }
  } else return false;
  return true;
}

export function runLuaFilter(script: string, data: unknown): boolean {
  const L = lauxlib.luaL_newstate!();
  lualib.luaL_openlibs!(L);
  push(L, data);
  lua.lua_setglobal!(L, to_luastring("event"));
  const status = lauxlib.luaL_dostring!(L, to_luastring(script));
  if (status !== lua.LUA_OK) {
    const message = lua.lua_tojsstring!(L, -1);
    throw new Error(`Lua error: ${String(message)}`);
  }
  const result = lua.lua_toboolean!(L, -1) && lua.lua_type!(L, -1) === lua.LUA_TBOOLEAN;
  return Boolean(result);
}
