// One EventSource per hook set, with one `resource` watch per distinct selector: hooks that
// watch the same (group, version, resource, namespace, labels) share a watch, so the number of
// watches grows with the selectors, never with the hooks.
//
// A watch that replays ADDs and also needs UPDATEs or DELETEs has a second entry, its changes
// stream, carrying its UPDATEs and DELETEs only. The event source replays an ADD of every object
// whenever it (re)starts, and the Sensor posts one trigger's events one at a time: on the watch's
// own entry a real change made during the replay of thousands of objects waits behind all of
// them; on the changes stream it waits for none. The watch's own entry still carries every event
// type in the order the informer saw them, so no change falls between two informers' lists when
// the event source starts; the runner finds an UPDATE or DELETE it gets twice already handled
// (same run name, same fingerprint), and an ADD older than a state it handled from the changes
// stream older (trigger/index.ts). The price: a second informer per such watch in the event
// source, and each UPDATE and DELETE filtered and posted twice; a replay is carried once.
import type { HookSet, WatchSelector } from "../hookset/types.js";
import { eventTypesOf, watchesOf, type EventType } from "../trigger/index.js";
import type { EventSource, ResourceEventSourceEntry } from "./argo-types.js";
import { changesStreamName, eventSourceName, eventSourceServiceAccount, hookSetLabels } from "../model/names.js";

/** One entry of the EventSource: a watch's events of some types. */
export interface Stream {
  eventName: string;
  eventTypes: EventType[];
}

/** The watch's entry (every event type it needs) and, when it replays ADDs, its changes stream. */
export function streamsOf(watch: Watch): Stream[] {
  const changes = watch.eventTypes.filter((t) => t !== "ADD");
  const replays = watch.eventTypes.includes("ADD");
  return [
    { eventName: watch.eventName, eventTypes: watch.eventTypes },
    ...(replays && changes.length > 0 ? [{ eventName: changesStreamName(watch.eventName), eventTypes: changes }] : []),
  ];
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
    for (const stream of streamsOf(watch)) {
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
