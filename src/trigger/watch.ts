// Watches: hooks that watch the same (group, version, resource, namespace, labels) share one
// EventSource entry, one Sensor dependency and one runner endpoint, named by watchEventName().
import { shortHash } from "../model/hash.js";
import { changesStreamName } from "../model/names.js";
import type { Hook, HookSet, WatchSelector } from "../hookset/types.js";
import type { EventType } from "./kind.js";

export function watchKey(watch: WatchSelector): string {
  const labels = Object.entries(watch.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return [watch.group, watch.version, watch.resource, watch.namespace, labels].join("|");
}

/** A readable, stable event name for a watch: `<resource>-<namespace|all>[-<group hash>][-<labels hash>]`. */
export function watchEventName(watch: WatchSelector): string {
  const base = `${watch.resource.replace(/\./g, "-")}-${watch.namespace || "all"}`;
  const groupPart =
    watch.group && !["apps", "batch", "networking.k8s.io"].includes(watch.group) ? `-${shortHash(watch.group, 8)}` : "";
  const labelPart = Object.keys(watch.labels).length > 0 ? `-${shortHash(watchKey(watch), 8)}` : "";
  return `${base}${groupPart}${labelPart}`;
}

export interface WatchPlan {
  selector: WatchSelector;
  hooks: Hook[];
}

/** The hook set's watches by name (the EventSource event name), in first-seen order. */
export function watchesOf(hookSet: HookSet): Map<string, WatchPlan> {
  const byKey = new Map<string, WatchPlan>();
  for (const hook of hookSet.hooks) {
    const key = watchKey(hook.trigger.watch);
    let plan = byKey.get(key);
    if (!plan) byKey.set(key, (plan = { selector: hook.trigger.watch, hooks: [] }));
    plan.hooks.push(hook);
  }
  const out = new Map<string, WatchPlan>();
  for (const plan of byKey.values()) out.set(watchEventName(plan.selector), plan);
  return out;
}

/** One entry of the EventSource: a watch's events of some types. */
export interface Stream {
  eventName: string;
  eventTypes: EventType[];
}

/**
 * The EventSource entries of a watch whose hooks need `eventTypes`. A watch that replays ADDs and
 * needs changes too has two: its own entry (the ADDs and DELETEs) and its changes stream (the
 * UPDATEs and DELETEs). The event source replays an ADD of every object whenever it (re)starts
 * and the Sensor posts one trigger's events one at a time, so a real change on the own entry would
 * wait behind a replay of thousands of objects; on the changes stream it waits for none. Each
 * UPDATE comes on one stream only: carried twice it cost a quarter to a half of a burst's rate.
 * The two entries are two informers that list at different moments when the event source starts;
 * a change made between their lists is on neither stream, and the runner's resync finds it
 * (runner/resync.ts, resyncs()). A DELETE comes on both: deletions are rare, and the own entry's
 * copy closes the same gap for them.
 */
export function streamsOf(eventName: string, eventTypes: readonly EventType[]): Stream[] {
  const changes = eventTypes.filter((t) => t !== "ADD");
  if (!eventTypes.includes("ADD") || changes.length === 0) return [{ eventName, eventTypes: [...eventTypes] }];
  return [
    { eventName, eventTypes: eventTypes.filter((t) => t !== "UPDATE") },
    { eventName: changesStreamName(eventName), eventTypes: changes },
  ];
}

/** Whether the watch's UPDATEs come on its changes stream alone, so the runner resyncs it after a replay. */
export function resyncs(eventTypes: readonly EventType[]): boolean {
  return eventTypes.includes("ADD") && eventTypes.includes("UPDATE");
}
