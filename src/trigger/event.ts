// The event a hook receives: the CloudEvent context the Sensor forwards, and the data as Argo
// Events' resource event source produces it ({type, body, oldBody, group, version, resource}).

import type { KubeObject } from "../k8s/types.js";

export type { KubeObject } from "../k8s/types.js";

export interface ResourceEventData {
  type: "ADD" | "UPDATE" | "DELETE";
  body: KubeObject | null;
  oldBody: KubeObject | null;
  group: string;
  version: string;
  resource: string;
  metadata?: Record<string, string>;
}

export interface EventContext {
  id: string;
  /** The EventSource name. */
  source: string;
  /** The event name inside the EventSource. */
  subject: string;
  /** The event source type ("resource"). */
  type: string;
  time?: string;
}

export interface ResourceEvent {
  context: EventContext;
  data: ResourceEventData;
}

export interface Decision {
  fires: boolean;
  reason: string;
}

/**
 * The object of an event body. A DELETE seen only after a relist arrives as client-go's
 * DeletedFinalStateUnknown, which marshals to {Key, Obj}: its Obj is the object.
 */
export function objectOf(body: unknown): KubeObject | undefined {
  if (!body || typeof body !== "object" || Array.isArray(body)) return undefined;
  const candidate = body as KubeObject & { Obj?: unknown };
  if (candidate.metadata === undefined && candidate.Obj && typeof candidate.Obj === "object") return candidate.Obj as KubeObject;
  return candidate;
}

/**
 * Deep equality in which a null map entry counts as absent: Kubernetes treats an unset field
 * and a null one alike, and the Sensor's Lua filter cannot tell them apart either.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (b === null || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameValue(item, other[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const key of Object.keys(left)) if (!sameValue(left[key], right[key])) return false;
  for (const key of Object.keys(right)) if (!(key in left) && right[key] !== null && right[key] !== undefined) return false;
  return true;
}
