// Pieces shared by the Lua filters compiled for Sensors (Argo Events' `script` filter runs
// gopher-lua 5.1 with the event data as the global table `event`).

export function luaString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

/** get(t, {"a", "b", 1}): the value at a path, nil when any step is missing. */
export const LUA_GET = `local function get(t, path)
  for _, k in ipairs(path) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end`;
