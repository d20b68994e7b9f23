// Whether an event of a watched object fires a resource hook: its creation, its deletion, or an
// update that changed the hook's `changed` paths (or, without `changed`, the spec).
//
// Catch-up (issue 8 §7): per (hook, object uid) the runner remembers the fingerprint of what the
// hook last handled, so an ADD replayed when the event source (re)starts can tell a change that
// happened while it was down from one already handled, without any time window.
import { formatPath, lookup, type PathSegment } from "../../hookset/paths.js";
import {
  describeValue,
  isMap,
  labelsOf,
  MalformedInput,
  metadataOf,
  hookView,
  objectOf,
  optionalString,
  sameValue,
  valueHash,
  type KubeObject,
  type ResourceEvent,
} from "../event.js";
import {
  eventData,
  eventId,
  eventScope,
  fires,
  malformed,
  objectRef,
  skips,
  withWhen,
  type Outcome,
} from "../evaluation.js";
import type { EvaluateContext, Evaluation, EventType } from "../kind.js";
import type { ResourceTrigger } from "./types.js";

export const EVENT_TYPES = { add: "ADD", update: "UPDATE", delete: "DELETE" } as const;

/** The fingerprint of add/delete-only hooks: they only need to know the object was handled. */
const SEEN = "seen";

function gvr(x: { group?: unknown; version?: unknown; resource?: unknown }): string {
  return `${x.group ? `${String(x.group)}/` : ""}${String(x.version)}/${String(x.resource)}`;
}

/** The identity of a resource change: uid@resourceVersion, or the event id when either is missing. */
function identityOf(event: ResourceEvent, object: KubeObject | undefined): string {
  const metadata = object && isMap(object.metadata) ? (object.metadata as Record<string, unknown>) : undefined;
  const uid = metadata?.uid;
  const rv = metadata?.resourceVersion;
  if (typeof uid === "string" && uid && typeof rv === "string" && rv) return `${uid}@${rv}`;
  return eventId(event);
}

/**
 * What matters to this hook in an object's state: the values of its `changed` paths; without
 * `changed`, the generation (objects without one: everything outside metadata and status);
 * add/delete-only hooks: SEEN.
 */
function resourceFingerprint(trigger: ResourceTrigger, object: KubeObject): string {
  if (!trigger.events.includes("update")) return SEEN;
  if (trigger.changed) {
    const values = trigger.changed.map((path) => {
      const found = lookup(object, path.segments);
      return found.present ? { v: found.value } : {};
    });
    return `p:${valueHash(values, trigger.changed.map((p) => p.source).join(", "))}`;
  }
  const generation = generationOf(object);
  if (generation !== undefined) return `g:${generation}`;
  // Hashed field by field so that a field nested too deep is named in the reason.
  const rest: Record<string, string> = {};
  for (const key of Object.keys(object)) {
    if (key !== "metadata" && key !== "status" && object[key] !== null && object[key] !== undefined)
      rest[key] = valueHash(object[key], key);
  }
  return `h:${valueHash(rest)}`;
}

function generationOf(object: KubeObject, where = ""): number | undefined {
  const generation = isMap(object.metadata) ? (object.metadata as Record<string, unknown>).generation : undefined;
  if (generation === undefined || generation === null) return undefined;
  if (typeof generation !== "number" || !Number.isFinite(generation))
    throw new MalformedInput(`${where}metadata.generation is ${describeValue(generation)}, expected an integer`);
  return generation;
}

function changedPaths(
  paths: (readonly PathSegment[])[],
  old: KubeObject,
  now: KubeObject,
): { changed: boolean; reason: string } {
  const changed = paths.filter((segments) => {
    const a = lookup(old, segments);
    const b = lookup(now, segments);
    if (a.present !== b.present) return true;
    return a.present && b.present && !sameValue(a.value, b.value, formatPath(segments));
  });
  if (changed.length === 0) return { changed: false, reason: `none of ${paths.map(formatPath).join(", ")} changed` };
  return { changed: true, reason: `${changed.map(formatPath).join(", ")} changed` };
}

/** Without `changed`: a generation bump, or for objects without generation any change outside metadata and status. */
function specChange(old: KubeObject, now: KubeObject): { changed: boolean; reason: string } {
  const before = generationOf(old, "the old object's ");
  const after = generationOf(now);
  if (before !== undefined || after !== undefined) {
    return before === after
      ? { changed: false, reason: `generation ${String(after)} unchanged: a status or metadata update` }
      : { changed: true, reason: `generation changed from ${String(before)} to ${String(after)}` };
  }
  const keys = new Set([...Object.keys(old), ...Object.keys(now)]);
  const differing = [...keys].filter((k) => k !== "metadata" && k !== "status" && !sameValue(old[k], now[k], k));
  return differing.length === 0
    ? { changed: false, reason: "only metadata or status changed" }
    : { changed: true, reason: `${differing.join(", ")} changed` };
}

/** Why the object is not one this hook selects, or undefined when it is. */
function selectionMismatch(trigger: ResourceTrigger, metadata: Record<string, unknown>): string | undefined {
  const name = optionalString(metadata.name, "metadata.name") ?? "";
  const namespace = optionalString(metadata.namespace, "metadata.namespace") ?? "";
  const watch = trigger.watch;
  if (watch.namespace && namespace !== watch.namespace)
    return `namespace ${namespace || "(none)"} is not ${watch.namespace}`;
  if (trigger.name !== undefined && name !== trigger.name) return `name ${name} is not ${trigger.name}`;
  if (trigger.namePrefix !== undefined && !name.startsWith(trigger.namePrefix))
    return `name ${name} does not start with ${trigger.namePrefix}`;
  const entries = Object.entries(watch.labels);
  if (entries.length > 0) {
    const labels = labelsOf(metadata);
    for (const [key, value] of entries) if (labels[key] !== value) return `label ${key}=${value} is not set`;
  }
  return undefined;
}

/** One event of an object the hook selects, with what the hook remembers about it. */
interface Change {
  trigger: ResourceTrigger;
  outcome: Outcome;
  ctx: EvaluateContext;
  object: KubeObject;
  oldObject: KubeObject | undefined;
  metadata: Record<string, unknown>;
  name: string;
  fingerprint: string;
}

function wants(trigger: ResourceTrigger, type: EventType): boolean {
  return trigger.events.some((e) => EVENT_TYPES[e] === type);
}

function wanted(trigger: ResourceTrigger): string {
  return trigger.events.map((e) => EVENT_TYPES[e]).join(", ");
}

/** The object is gone: whatever this hook remembered about it goes too. */
function deleted(trigger: ResourceTrigger, outcome: Outcome, name: string): Evaluation {
  if (!wants(trigger, "DELETE"))
    return skips(
      outcome,
      "event_type",
      `event type DELETE is not one of ${wanted(trigger)}: forgetting ${name}`,
      "forget",
    );
  return withWhen(trigger, fires(outcome, `${name} was deleted`, "forget"), "forget");
}

/** An ADD of an object the hook has handled before: a replay, or the catch-up of a change missed. */
function replayed(c: Change, memory: string): Evaluation {
  if (memory === c.fingerprint)
    return skips(
      c.outcome,
      "already_handled",
      `${c.name} was already handled in this state (fingerprint ${c.fingerprint}): a replayed ADD`,
    );
  if (!wants(c.trigger, "UPDATE"))
    return skips(c.outcome, "already_handled", `${c.name} was already handled: a replayed ADD`);
  // The event source was down (or restarted) while the object changed: catch up now.
  const reason = `${c.name} changed while the event source was away (fingerprint ${memory} → ${c.fingerprint})`;
  return withWhen(c.trigger, fires(c.outcome, reason, "set", c.fingerprint), "set");
}

/**
 * The object's creation against when the hook was first served (known only to the runner):
 * undefined without that time; "malformed" without a usable creationTimestamp.
 */
function creationVsServed(c: Change): "since" | "before" | "malformed" | undefined {
  const firstServed = c.ctx.hookFirstServedAt;
  if (firstServed === undefined) return undefined;
  const createdAt = Date.parse(optionalString(c.metadata.creationTimestamp, "metadata.creationTimestamp") ?? "");
  if (!Number.isFinite(createdAt)) return "malformed";
  const served = Date.parse(firstServed);
  return Number.isFinite(served) && createdAt < served ? "before" : "since";
}

/** An ADD the hook has not seen, for a hook on add: a creation, unless before the hook was first served. */
function created(c: Change): Evaluation {
  const creation = creationVsServed(c);
  // read only when the runner gave a first-served time, as creationVsServed did
  const createdText = () => optionalString(c.metadata.creationTimestamp, "metadata.creationTimestamp");
  if (creation === "malformed")
    return skips(
      c.outcome,
      "malformed",
      `metadata.creationTimestamp is ${describeValue(createdText())}, expected an RFC3339 time`,
    );
  if (creation === "before") {
    const reason =
      `${c.name} was created at ${createdText()}, before the hook was first served at ` +
      `${String(c.ctx.hookFirstServedAt)}: baseline recorded`;
    return skips(c.outcome, "baseline", reason, "set", c.fingerprint);
  }
  return withWhen(c.trigger, fires(c.outcome, `${c.name} was created`, "set", c.fingerprint), "set");
}

function added(c: Change): Evaluation {
  if (!wants(c.trigger, "ADD") && !wants(c.trigger, "UPDATE"))
    return skips(c.outcome, "event_type", `event type ADD is not one of ${wanted(c.trigger)}`);
  const memory = c.ctx.memory;
  if (memory) return replayed(c, memory.fingerprint);
  if (wants(c.trigger, "ADD")) return created(c);
  const reason =
    `first sight of ${c.name} (an ADD, e.g. after the event source started): ` + "baseline recorded, nothing fires";
  return skips(c.outcome, "baseline", reason, "set", c.fingerprint);
}

function updated(c: Change): Evaluation {
  if (!wants(c.trigger, "UPDATE"))
    return skips(c.outcome, "event_type", `event type UPDATE is not one of ${wanted(c.trigger)}`);
  if (!c.oldObject) return skips(c.outcome, "no_object", "the UPDATE event carries no old object");
  const change = c.trigger.changed
    ? changedPaths(
        c.trigger.changed.map((p) => p.segments),
        c.oldObject,
        c.object,
      )
    : specChange(c.oldObject, c.object);
  if (!change.changed) return skips(c.outcome, "unchanged", change.reason);
  if (!c.ctx.memory && wants(c.trigger, "ADD") && creationVsServed(c) === "since") {
    // The UPDATE came on the watch's changes stream, past its ADD still queued behind a replay:
    // this run stands for the creation and the change, and that ADD, older, fires nothing.
    const reason = `${c.name} was created and then changed before its ADD was handled: ${change.reason}`;
    return withWhen(c.trigger, fires(c.outcome, reason, "set", c.fingerprint), "set");
  }
  if (c.ctx.memory?.fingerprint === c.fingerprint) {
    return skips(
      c.outcome,
      "already_handled",
      `${change.reason}, but ${c.name} was already handled in this state (fingerprint ${c.fingerprint}): ` +
        "a duplicate or a watch reconnect",
    );
  }
  return withWhen(c.trigger, fires(c.outcome, change.reason, "set", c.fingerprint), "set");
}

export function evaluateResource(trigger: ResourceTrigger, event: ResourceEvent, ctx: EvaluateContext): Evaluation {
  const data = eventData(event);
  const object = objectOf(data.body);
  const oldObject = objectOf(data.oldBody);
  const subject = objectRef(object, data);
  const outcome: Outcome = {
    identity: identityOf(event, object),
    ...(subject ? { subject } : {}),
    scope: { object: hookView(object), oldObject: hookView(oldObject), event: eventScope(event) },
  };
  const watch = trigger.watch;
  try {
    if (data.group !== watch.group || data.version !== watch.version || data.resource !== watch.resource) {
      return skips(outcome, "wrong_resource", `the event is for ${gvr(data)}, the hook watches ${gvr(watch)}`);
    }
    const type = data.type;
    if (type !== "ADD" && type !== "UPDATE" && type !== "DELETE")
      return skips(outcome, "event_type", `event type ${describeValue(type)} is not ADD, UPDATE or DELETE`);
    if (!object) return skips(outcome, "no_object", "the event carries no object");
    const metadata = metadataOf(object);
    const mismatch = selectionMismatch(trigger, metadata);
    if (mismatch) return skips(outcome, "not_selected", mismatch);
    const name = (metadata.name as string | undefined) ?? "";
    if (type === "DELETE") return deleted(trigger, outcome, name);
    const fingerprint = resourceFingerprint(trigger, object);
    const change: Change = { trigger, outcome, ctx, object, oldObject, metadata, name, fingerprint };
    return type === "ADD" ? added(change) : updated(change);
  } catch (err) {
    return malformed(outcome, err);
  }
}
