// Watches: hooks that watch the same (group, version, resource, namespace, labels) share one
// EventSource entry, its Sensor dependencies and one runner endpoint, named by watchEventName(); so
// do hooks whose objects a broader selector of the same resource and namespace sees (watchesOf).
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

/** Whether every label `broad` selects on, `narrow` selects on with the same value. */
export function labelsWithin(broad: Record<string, string>, narrow: Record<string, string>): boolean {
  return Object.entries(broad).every(([key, value]) => narrow[key] === value);
}

/**
 * The hook set's watches by name (the EventSource event name), in first-seen order. Hooks with the
 * same selector share a watch. A selector whose objects another watch of the same resource and
 * namespace already sees (its labels are a subset) joins that watch instead of opening its own:
 * every change of such an object would otherwise cost the event source, the event bus, the Sensor
 * and the runner twice, once per watch. Its hooks then select by their labels themselves, and an
 * object that gains or loses them is an ADD or a DELETE to them (selection.ts). Selectors that
 * no other covers keep their own watch: merging them would make the event source list and replay
 * objects no hook selects.
 */
export function watchesOf(hookSet: HookSet): Map<string, WatchPlan> {
  const selectors = new Map<string, WatchSelector>();
  for (const hook of hookSet.hooks) selectors.set(watchKey(hook.trigger.watch), hook.trigger.watch);
  const scope = (s: WatchSelector) => [s.group, s.version, s.resource, s.namespace].join("|");
  const size = (s: WatchSelector) => Object.keys(s.labels).length;
  const merged = new Map<WatchSelector, Hook[]>();
  for (const hook of hookSet.hooks) {
    const own = hook.trigger.watch;
    // The selector with the fewest labels among those that see every object `own` selects.
    const home = [...selectors.values()]
      .filter((s) => scope(s) === scope(own) && labelsWithin(s.labels, own.labels))
      .reduce((a, b) => (size(b) < size(a) ? b : a));
    const hooks = merged.get(home) ?? [];
    if (hooks.push(hook) === 1) merged.set(home, hooks);
  }
  const out = new Map<string, WatchPlan>();
  for (const [selector, hooks] of merged) out.set(watchEventName(selector), { selector, hooks });
  return out;
}

/** More triggers than the runner's answers need in parallel (the uid's last two hex digits pick one: lua.ts). */
const MAX_SHARDS = 16;

/**
 * How many Sensor dependencies and triggers share the watch's changes stream, by the object's uid.
 * Argo Events runs each trigger's events one at a time and waits for the runner's answer, so a
 * trigger's throughput is one answer at a time. Hooks of several selectors that share a watch
 * (watchesOf) keep the parallelism their own watches had: one trigger per selector. Each shard's
 * filter is evaluated for every event, as each watch's own filter was.
 */
export function changesShards(plan: WatchPlan): number {
  return Math.min(MAX_SHARDS, new Set(plan.hooks.map((hook) => watchKey(hook.trigger.watch))).size);
}

/** The name of the watch the hook's events come on (watchesOf). */
export function watchNameOf(hookSet: HookSet, hook: Hook): string {
  for (const [name, plan] of watchesOf(hookSet)) if (plan.hooks.includes(hook)) return name;
  return watchEventName(hook.trigger.watch);
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
