// One EventSource per hook set, with one `resource` watch per distinct selector: hooks that
// watch the same (group, version, resource, namespace, labels) share a watch, so the number of
// watches grows with the selectors, never with the hooks.
import type { HookSet, WatchSelector } from "../spec/types.js";
import type { EventSource, ResourceEventSourceEntry } from "./argo-types.js";
import { eventSourceName, eventSourceServiceAccount, hookSetLabels, watchEventName, watchKey } from "./names.js";

const EVENT_TYPES = { add: "ADD", update: "UPDATE", delete: "DELETE" } as const;
const TYPE_ORDER = ["ADD", "UPDATE", "DELETE"] as const;

export interface Watch {
  eventName: string;
  selector: WatchSelector;
  eventTypes: Set<"ADD" | "UPDATE" | "DELETE">;
  hooks: string[];
}

/** Groups the hooks by watch selector; the map preserves first-seen order for stable output. */
export function planWatches(hookSet: HookSet): Map<string, Watch> {
  const watches = new Map<string, Watch>();
  for (const hook of hookSet.hooks) {
    const selector = hook.trigger.watch;
    const key = watchKey(selector);
    let watch = watches.get(key);
    if (!watch) {
      watch = { eventName: watchEventName(selector), selector, eventTypes: new Set(), hooks: [] };
      watches.set(key, watch);
    }
    watch.hooks.push(hook.name);
    if (hook.trigger.kind === "resource") for (const e of hook.trigger.events) watch.eventTypes.add(EVENT_TYPES[e]);
    else watch.eventTypes.add("UPDATE");
  }
  return watches;
}

export function buildEventSource(hookSet: HookSet, watches: Map<string, Watch>): EventSource {
  const resource: Record<string, ResourceEventSourceEntry> = {};
  for (const watch of watches.values()) {
    const { selector } = watch;
    const entry: ResourceEventSourceEntry = {
      namespace: selector.namespace,
      group: selector.group,
      version: selector.version,
      resource: selector.resource,
      eventTypes: TYPE_ORDER.filter((t) => watch.eventTypes.has(t)),
    };
    const labels = Object.entries(selector.labels).sort(([a], [b]) => a.localeCompare(b));
    if (labels.length > 0) entry.filter = { labels: labels.map(([key, value]) => ({ key, operation: "==", value })) };
    resource[watch.eventName] = entry;
  }
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "EventSource",
    metadata: { name: eventSourceName(hookSet), namespace: hookSet.namespace, labels: hookSetLabels(hookSet) },
    spec: {
      ...(hookSet.eventBusName !== "default" ? { eventBusName: hookSet.eventBusName } : {}),
      template: { serviceAccountName: eventSourceServiceAccount(hookSet) },
      resource,
    },
  };
}
