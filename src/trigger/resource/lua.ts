// The resource kind's function in the Sensor's Lua filter (../lua.ts): it passes ADDs and DELETEs
// of objects the hook selects (catch-up and forgetting happen in the runner) and UPDATEs whose
// `changed` paths (without them: the generation, or anything outside metadata and status) differ.
import type { LuaFilter } from "../kind.js";

const DECIDES_BY_EVENT = `local function resource(h, t, obj, old)
  if not selects(h, obj, "name") then return false end
  if t == "DELETE" then return true end
  if t == "ADD" then return h.add == true end
  if t ~= "UPDATE" or not h.upd or type(old) ~= "table" then return false end`;
const BY_PATHS = `  if h.paths then
    for _, p in ipairs(h.paths) do if not eq(get(old, p), get(obj, p)) then return true end end
    return false
  end`;
// A row without paths: the generation when the object has one, else anything but metadata and status.
const BY_OBJECT = `  local g0, g1 = get(old, {"metadata", "generation"}), get(obj, {"metadata", "generation"})
  if g0 ~= nil or g1 ~= nil then return g0 ~= g1 end
  for k, v in pairs(obj) do if k ~= "metadata" and k ~= "status" and not eq(v, old[k]) then return true end end
  for k in pairs(old) do if k ~= "metadata" and k ~= "status" and obj[k] == nil then return true end end
  return false
end`;

/** The function, comparing whole objects only when some row of the script has no paths. */
function resourceSource(byObject: boolean): string {
  return [DECIDES_BY_EVENT, BY_PATHS, byObject ? BY_OBJECT : "  return false\nend"].join("\n");
}

export const RESOURCE_LUA: LuaFilter = {
  name: "resource",
  source: resourceSource(true),
  // Most hooks name the fields that matter (`changed`): their watches compile less for every event.
  sourceFor: (rows) => resourceSource(rows.some((row) => row.upd === true && row.paths === undefined)),
};
