// One EventSource per hook set, with one `resource` watch per distinct selector: hooks that
// watch the same (group, version, resource, namespace, labels) share a watch, so the number of
// watches grows with the selectors, never with the hooks.
import type { HookSet, WatchSelector } from "../hookset/types.js";
import { eventTypesOf, watchesOf, type EventType } from "../trigger/index.js";
import type { EventSource, ResourceEventSourceEntry } from "./argo-types.js";
import { eventSourceName, eventSourceServiceAccount, hookSetLabels } from "../model/names.js";

export interface Watch {
  eventName: string;
  selector: WatchSelector;
  /** What the EventSource delivers for this watch: the union of its hooks' needs. */
  eventTypes: EventType[];
  hooks: HookSet["hooks"];
}

/** The hook set's watches by event name, in first-seen order. */
export function planWatches(hookSet: HookSet): Map<string, Watch> {
  const out = new Map<string, Watch>();
  for (const [eventName, plan] of watchesOf(hookSet)) {
    out.set(eventName, { eventName, selector: plan.selector, eventTypes: eventTypesOf(plan), hooks: plan.hooks });
  }
  return out;
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
      eventTypes: watch.eventTypes,
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
