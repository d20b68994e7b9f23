// The resource kind's function in the Sensor's Lua filter (../lua.ts): it passes ADDs and DELETEs
// of objects the hook selects (catch-up and forgetting happen in the runner) and UPDATEs whose
// `changed` paths (without them: the generation, or anything outside metadata and status) differ.
import type { LuaFilter } from "../kind.js";

export const RESOURCE_LUA: LuaFilter = {
  name: "resource",
  source: `local function resource(h, t, obj, old)
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
end`,
};
