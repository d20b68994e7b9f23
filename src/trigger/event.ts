// The event a hook receives: the CloudEvent context the Sensor forwards, and the data as Argo
// Events' resource event source produces it ({type, body, oldBody, group, version, resource}).
// Everything here is total over malformed input: the event data comes from watched objects,
// which their owners (not the hook's author) control.
import type { KubeObject } from "../k8s/types.js";
import { shortHash } from "../model/hash.js";

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

/**
 * Why a hook does not fire, as a bounded code: the decision's reason is text for people (it names
 * objects, fields and values), the code is what metrics and tools may group by.
 */
export const SKIP_REASON_CODES = [
  "wrong_resource",
  "event_type",
  "no_object",
  "not_selected",
  "unchanged",
  "already_handled",
  "baseline",
  "when_false",
  "when_error",
  "not_finished",
  "dry_run",
  "phase",
  "deleted",
  "malformed",
] as const;

export type SkipReasonCode = (typeof SKIP_REASON_CODES)[number];

/** Whether a hook fires for an event, and why; a skip carries its code. */
export type Decision = { fires: true; reason: string } | { fires: false; reason: string; code: SkipReasonCode };

/**
 * How deep comparisons and fingerprints descend into object data. Real Kubernetes objects stay
 * far below it (the API server itself refuses JSON nested much deeper); a value nested deeper
 * "cannot be compared", and the hook skips the event with that reason instead of recursing
 * without bound over data an attacker controls.
 */
export const MAX_VALUE_DEPTH = 100;

/** A skip whose reason names what in the input was malformed or could not be compared. */
export class MalformedInput extends Error {
  override name = "MalformedInput";
}

/**
 * The object of an event body. A DELETE seen only after a relist arrives as client-go's
 * DeletedFinalStateUnknown, which marshals to {Key, Obj}: its Obj is the object.
 */
export function objectOf(body: unknown): KubeObject | undefined {
  if (!isMap(body)) return undefined;
  const candidate = body as KubeObject & { Obj?: unknown };
  if (candidate.metadata === undefined && isMap(candidate.Obj)) return candidate.Obj as KubeObject;
  return candidate;
}

/**
 * An object as hooks see it (`when`, the steps' variables, the HookRun's stored context): without
 * metadata.managedFields, as `kubectl get` shows it. The API server's field-ownership records are
 * often a third of an object; they would be stored twice in every run (object and oldObject) and
 * carried on every write and watch event of it, for no condition or template anyone writes.
 */
export function hookView(object: KubeObject | undefined): KubeObject | null {
  if (!object) return null;
  if (!isMap(object.metadata) || !("managedFields" in object.metadata)) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata } as KubeObject;
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "a map", "a list", "number 5" …: how a reason names a value of the wrong type. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string")
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** An optional string field: undefined when absent or null, MalformedInput when another type. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new MalformedInput(`${field} is ${describeValue(value)}, expected a string`);
  return value;
}

/** metadata as a map ({} when absent); MalformedInput when it is something else. */
export function metadataOf(object: KubeObject, where = ""): Record<string, unknown> {
  const metadata = object.metadata as unknown;
  if (metadata === undefined || metadata === null) return {};
  if (!isMap(metadata)) throw new MalformedInput(`${where}metadata is ${describeValue(metadata)}, expected a map`);
  return metadata;
}

/** metadata.labels as a map ({} when absent); MalformedInput when it is something else. */
export function labelsOf(metadata: Record<string, unknown>, where = ""): Record<string, unknown> {
  const labels = metadata.labels;
  if (labels === undefined || labels === null) return {};
  if (!isMap(labels)) throw new MalformedInput(`${where}metadata.labels is ${describeValue(labels)}, expected a map`);
  return labels;
}

class TooDeep extends Error {}

function compare(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (b === null || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (depth >= MAX_VALUE_DEPTH) throw new TooDeep();
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => compare(item, other[i], depth + 1));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const key of Object.keys(left)) if (!compare(left[key], right[key], depth + 1)) return false;
  for (const key of Object.keys(right))
    if (!Object.prototype.hasOwnProperty.call(left, key) && right[key] !== null && right[key] !== undefined)
      return false;
  return true;
}

/**
 * Deep equality in which a null map entry counts as absent: Kubernetes treats an unset field
 * and a null one alike, and the Sensor's Lua filter cannot tell them apart either. Values nested
 * deeper than MAX_VALUE_DEPTH cannot be compared: MalformedInput naming `field`.
 */
export function sameValue(a: unknown, b: unknown, field = "a value"): boolean {
  try {
    return compare(a, b, 0);
  } catch (err) {
    if (err instanceof TooDeep)
      throw new MalformedInput(`${field} is nested deeper than ${MAX_VALUE_DEPTH} levels: cannot compare`);
    throw err;
  }
}

/** Canonical JSON (sorted keys, null map entries dropped as absent), bounded in depth. */
function canonical(value: unknown, depth: number, out: string[]): void {
  if (value === null || value === undefined) {
    out.push("null");
  } else if (typeof value !== "object") {
    out.push(JSON.stringify(value) ?? "null");
  } else {
    if (depth >= MAX_VALUE_DEPTH) throw new TooDeep();
    if (Array.isArray(value)) {
      out.push("[");
      value.forEach((item, i) => {
        if (i > 0) out.push(",");
        canonical(item, depth + 1, out);
      });
      out.push("]");
    } else {
      out.push("{");
      let first = true;
      for (const key of Object.keys(value).sort()) {
        const item = (value as Record<string, unknown>)[key];
        if (item === null || item === undefined) continue;
        if (!first) out.push(",");
        first = false;
        out.push(JSON.stringify(key), ":");
        canonical(item, depth + 1, out);
      }
      out.push("}");
    }
  }
}

/** A short stable hash of a value (16 hex digits of sha256 over canonical JSON). */
export function valueHash(value: unknown, field = "a value"): string {
  const out: string[] = [];
  try {
    canonical(value, 0, out);
  } catch (err) {
    if (err instanceof TooDeep)
      throw new MalformedInput(`${field} is nested deeper than ${MAX_VALUE_DEPTH} levels: cannot compare`);
    throw err;
  }
  return shortHash(out.join(""), 16);
}
