// One EventSource per hook set, with one `resource` watch per distinct selector that no broader
// one covers (trigger/watch.ts watchesOf): the number of watches grows with the selectors, never
// with the hooks.
//
// A watch that replays ADDs and also needs UPDATEs or DELETEs has a second entry, its changes
// stream (trigger/watch.ts streamsOf: which event types go where, and why).
import type { HookSet, WatchSelector } from "../hookset/types.js";
import { eventTypesOf, streamsOf, watchesOf, type EventType, type Stream } from "../trigger/index.js";
import type { EventSource, ResourceEventSourceEntry } from "./argo-types.js";
import { eventSourceName, eventSourceServiceAccount, hookSetLabels } from "../model/names.js";

/** The watch's EventSource entries: see streamsOf in trigger/watch.ts. */
export function watchStreams(watch: Watch): Stream[] {
  return streamsOf(watch.eventName, watch.eventTypes);
}

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
    const labels = Object.entries(selector.labels).sort(([a], [b]) => a.localeCompare(b));
    for (const stream of watchStreams(watch)) {
      const entry: ResourceEventSourceEntry = {
        namespace: selector.namespace,
        group: selector.group,
        version: selector.version,
        resource: selector.resource,
        eventTypes: stream.eventTypes,
      };
      if (labels.length > 0) entry.filter = { labels: labels.map(([key, value]) => ({ key, operation: "==", value })) };
      resource[stream.eventName] = entry;
    }
  }
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "EventSource",
    metadata: { name: eventSourceName(hookSet), namespace: hookSet.namespace, labels: hookSetLabels(hookSet) },
    spec: {
      ...(hookSet.eventBusName !== "default" ? { eventBusName: hookSet.eventBusName } : {}),
      template: { serviceAccountName: hookSet.serviceAccountName ?? eventSourceServiceAccount(hookSet) },
      resource,
    },
  };
}
