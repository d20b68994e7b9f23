// Resource triggers: a hook on the objects of one watched resource, firing on their creation,
// deletion, or an update that changed the hook's `changed` paths (or, without `changed`, the
// spec). evaluate() (evaluate.ts) is the authority; the Sensor's Lua filter (lua.ts) is compiled
// from the same trigger data and passes a superset of what fires.
import type { EventType, SelectorPart, TriggerKind } from "../kind.js";
import { buildResource, RESOURCE_SCHEMA } from "./build.js";
import { checkResource } from "./checks.js";
import { evaluateResource, EVENT_TYPES } from "./evaluate.js";
import { RESOURCE_LUA } from "./lua.js";
import type { ResourceDocument, ResourceTrigger } from "./types.js";

export type { ResourceDocument, ResourceTrigger } from "./types.js";

function nameParts(trigger: ResourceTrigger, metadata: Record<string, unknown>): SelectorPart[] {
  const name = typeof metadata.name === "string" ? metadata.name : "";
  const parts: SelectorPart[] = [];
  if (trigger.name !== undefined)
    parts.push({ part: "name", wants: trigger.name, actual: name, matches: name === trigger.name });
  if (trigger.namePrefix !== undefined)
    parts.push({
      part: "namePrefix",
      wants: trigger.namePrefix,
      actual: name,
      matches: name.startsWith(trigger.namePrefix),
    });
  return parts;
}

const resourceKind: TriggerKind<ResourceTrigger, ResourceDocument> = {
  kind: "resource",
  variables: ["object", "oldObject", "event"],
  schema: RESOURCE_SCHEMA,
  check: checkResource,
  build: buildResource,
  evaluate: evaluateResource,
  eventTypes(trigger) {
    const types = new Set<EventType>();
    for (const e of trigger.events) types.add(EVENT_TYPES[e]);
    // Catch-up reads replayed ADDs, and every hook that remembers forgets on DELETE.
    if (trigger.events.includes("update")) types.add("ADD");
    types.add("DELETE");
    return (["ADD", "UPDATE", "DELETE"] as const).filter((t) => types.has(t));
  },
  permissions(trigger) {
    // HookSucceeded/HookFailed Events go on the object that triggered the hook.
    return [
      {
        group: "",
        resource: "events",
        ...(trigger.watch.namespace ? { namespace: trigger.watch.namespace } : {}),
        verbs: ["create", "patch"],
      },
    ];
  },
  luaFilter: RESOURCE_LUA,
  filterRow(trigger) {
    const data: Record<string, unknown> = {};
    if (trigger.watch.namespace) data.ns = trigger.watch.namespace;
    if (trigger.name !== undefined) data.name = trigger.name;
    if (trigger.namePrefix !== undefined) data.prefix = trigger.namePrefix;
    if (Object.keys(trigger.watch.labels).length > 0) data.labels = trigger.watch.labels;
    if (trigger.events.includes("add") || trigger.events.includes("update")) data.add = true;
    if (trigger.events.includes("update")) {
      data.upd = true;
      // Lua lists are 1-based.
      if (trigger.changed)
        data.paths = trigger.changed.map((p) => p.segments.map((s) => (typeof s === "number" ? s + 1 : s)));
    }
    return data;
  },
  selectorParts: nameParts,
  describe(trigger) {
    const changed = trigger.changed ? `, changed ${trigger.changed.map((p) => p.source).join(", ")}` : "";
    return `events ${trigger.events.join(", ")}${changed}`;
  },
};

export default resourceKind;
