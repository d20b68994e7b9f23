// Watches: hooks that watch the same (group, version, resource, namespace, labels) share one
// EventSource entry, one Sensor dependency and one runner endpoint, named by watchEventName().
import { shortHash } from "../model/hash.js";
import type { Hook, HookSet, WatchSelector } from "../hookset/types.js";

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
