// A hook's labels on a watch broader than them (watch.ts, watchesOf): the API server filters the
// watch's own labels, and the hook selects by the rest itself. A watch of exactly the hook's
// labels sends an ADD for an object that gains them and a DELETE for one that loses them (the old
// object at the new resourceVersion, as the API server's watch does); on the broader watch both
// are UPDATEs. The hook is evaluated on what a watch of its own labels would have sent, so its
// memory, catch-up and forgetting work alike on either. The Sensor's filter does the same
// (lua.ts, rowLoop), so that both agree on which events matter.
import { isMap, objectOf, type KubeObject, type ResourceEvent } from "./event.js";
import type { TriggerBase } from "./kind.js";

/** Whether the object carries the labels; undefined when its labels are malformed (the kind reports them). */
function carries(object: KubeObject, labels: ReadonlyArray<readonly [string, string]>): boolean | undefined {
  const metadata = object.metadata;
  if (metadata === undefined || metadata === null) return false;
  if (!isMap(metadata)) return undefined;
  const present = metadata.labels;
  if (present === undefined || present === null) return false;
  if (!isMap(present)) return undefined;
  return labels.every(([key, value]) => present[key] === value);
}

/** The event as a watch of the trigger's own labels would have sent it. */
export function asSelectedBy(trigger: TriggerBase, event: ResourceEvent): ResourceEvent {
  const labels = Object.entries(trigger.watch.labels);
  const data: unknown = event.data;
  if (labels.length === 0 || !isMap(data) || data.type !== "UPDATE") return event;
  const now = objectOf(data.body);
  const old = objectOf(data.oldBody);
  if (!now || !old) return event;
  const entered = carries(now, labels);
  const was = carries(old, labels);
  if (entered === undefined || was === undefined || entered === was) return event;
  if (entered) return { ...event, data: { ...event.data, type: "ADD", oldBody: null } };
  const resourceVersion = isMap(now.metadata) ? now.metadata.resourceVersion : undefined;
  const metadata = { ...(old.metadata as Record<string, unknown>), ...(resourceVersion ? { resourceVersion } : {}) };
  return { ...event, data: { ...event.data, type: "DELETE", body: { ...old, metadata }, oldBody: null } };
}
