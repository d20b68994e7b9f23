// The argocd kind's function in the Sensor's Lua filter (../lua.ts): it passes ADDs and DELETEs of
// Applications the hook selects, and UPDATEs that carry a finished operation not seen before in
// a phase the hook fires on (or a running one's result so far) whose result names one of the
// hook's resources. Whether such a resource really changed is the runner's to decide.
import type { LuaFilter } from "../kind.js";

// Lines of the Lua source that would not fit the TypeScript line width.
const SAME_OPERATION =
  "before.finishedAt == op.finishedAt and before.startedAt == op.startedAt and before.phase == op.phase";
const MATCHES_KIND_GROUP_NAMESPACE =
  'r.kind == m.kind and (m.group == nil or (r.group or "") == m.group) ' +
  'and (m.namespace == nil or (r.namespace or "") == m.namespace)';
const MATCHES_NAME = "(m.name == nil or r.name == m.name) and (m.prefix == nil or prefixed(r.name, m.prefix))";

export const ARGOCD_LUA: LuaFilter = {
  name: "argocd",
  source: `local function argocd(h, t, app, old)
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
    if type(before) == "table" and ${SAME_OPERATION} then return false end
    if not h.phases[op.phase] then return false end
  end
  local results = get(op, {"syncResult", "resources"})
  if type(results) ~= "table" then return false end
  -- whether a named resource really changed needs more than its message (server-side apply,
  -- retries, multi-step syncs): the runner decides; any named entry passes
  for _, r in ipairs(results) do
    if type(r) == "table" and (r.hookType == nil or r.hookType == "") then
      for _, m in ipairs(h.res) do
        if ${MATCHES_KIND_GROUP_NAMESPACE}
          and ${MATCHES_NAME} then return true end
      end
    end
  end
  return false
end`,
};
