// Resource triggers: a hook on the objects of one watched resource, firing on their creation,
// deletion, or an update that changed the hook's `changed` paths (or, without `changed`, the
// spec). evaluate() is the authority; the Sensor's Lua filter (../lua.ts) is compiled from the
// same trigger data and passes a superset of what fires.
//
// Catch-up (issue 8 §7): per (hook, object uid) the runner remembers the fingerprint of what the
// hook last handled, so an ADD replayed when the event source (re)starts can tell a change that
// happened while it was down from one already handled, without any time window.
import { evaluateCondition } from "../../expr/cel.js";
import {
  formatPath,
  lookup,
  parseFieldPath,
  PathSyntaxError,
  type FieldPath,
  type PathSegment,
} from "../../hookset/paths.js";
import type { HookDocument, ResourceTrigger } from "../../hookset/types.js";
import {
  describeValue,
  isMap,
  labelsOf,
  MalformedInput,
  metadataOf,
  objectOf,
  optionalString,
  sameValue,
  valueHash,
  type Decision,
  type KubeObject,
  type ResourceEvent,
  type SkipReasonCode,
} from "../event.js";
import type {
  EvaluateContext,
  Evaluation,
  EventType,
  JsonSchema,
  ObjectRef,
  Remember,
  TriggerBuildContext,
  TriggerKind,
} from "../kind.js";

const EVENT_TYPES = { add: "ADD", update: "UPDATE", delete: "DELETE" } as const;

/** The fingerprint of add/delete-only hooks: they only need to know the object was handled. */
export const SEEN = "seen";

export const RESOURCE_VARIABLES = ["object", "oldObject", "event"] as const;

/** What templates and conditions see as `event`. */
export function eventScope(event: ResourceEvent): Record<string, unknown> {
  const context = isMap(event.context) ? event.context : {};
  const data = isMap(event.data) ? event.data : ({} as Partial<ResourceEvent["data"]>);
  return { ...context, kind: data.type, group: data.group, version: data.version, resource: data.resource };
}

export function gvr(x: { group?: unknown; version?: unknown; resource?: unknown }): string {
  return `${x.group ? `${String(x.group)}/` : ""}${String(x.version)}/${String(x.resource)}`;
}

/** The identity of a resource change: uid@resourceVersion, or the event id when either is missing. */
function identityOf(event: ResourceEvent, metadata: Record<string, unknown> | undefined): string {
  const uid = metadata?.uid;
  const rv = metadata?.resourceVersion;
  if (typeof uid === "string" && uid && typeof rv === "string" && rv) return `${uid}@${rv}`;
  return String(isMap(event.context) ? event.context.id : "");
}

/** The object's reference, when it has a name and a uid to remember it by. */
export function objectRef(object: KubeObject | undefined, data: Partial<ResourceEvent["data"]>): ObjectRef | undefined {
  if (!object || !isMap(object.metadata)) return undefined;
  const m = object.metadata as Record<string, unknown>;
  if (typeof m.name !== "string" || typeof m.uid !== "string" || !m.uid) return undefined;
  const apiVersion =
    typeof object.apiVersion === "string"
      ? object.apiVersion
      : data.group
        ? `${String(data.group)}/${String(data.version)}`
        : String(data.version ?? "");
  return {
    apiVersion,
    kind: typeof object.kind === "string" ? object.kind : String(data.resource ?? ""),
    ...(typeof m.namespace === "string" && m.namespace ? { namespace: m.namespace } : {}),
    name: m.name,
    uid: m.uid,
    ...(typeof m.resourceVersion === "string" ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/**
 * What matters to this hook in an object's state: the values of its `changed` paths; without
 * `changed`, the generation (objects without one: everything outside metadata and status);
 * add/delete-only hooks: SEEN.
 */
export function resourceFingerprint(trigger: ResourceTrigger, object: KubeObject): string {
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

function evaluateResource(trigger: ResourceTrigger, event: ResourceEvent, ctx: EvaluateContext): Evaluation {
  const data = (isMap(event.data) ? event.data : {}) as Partial<ResourceEvent["data"]>;
  const object = objectOf(data.body);
  const oldObject = objectOf(data.oldBody);
  const scope = { object: object ?? null, oldObject: oldObject ?? null, event: eventScope(event) };
  const subject = objectRef(object, data);
  const result = (decision: Decision, remember: Remember, extra: Partial<Evaluation> = {}): Evaluation => ({
    decision,
    identity: identityOf(
      event,
      object && isMap(object.metadata) ? (object.metadata as Record<string, unknown>) : undefined,
    ),
    ...(subject ? { subject } : {}),
    remember,
    scope,
    ...extra,
  });
  const skip = (code: SkipReasonCode, reason: string, remember: Remember = "keep") =>
    result({ fires: false, reason, code }, remember);
  const watch = trigger.watch;
  try {
    if (data.group !== watch.group || data.version !== watch.version || data.resource !== watch.resource) {
      return skip("wrong_resource", `the event is for ${gvr(data)}, the hook watches ${gvr(watch)}`);
    }
    const type = data.type;
    if (type !== "ADD" && type !== "UPDATE" && type !== "DELETE")
      return skip("event_type", `event type ${describeValue(type)} is not ADD, UPDATE or DELETE`);
    if (!object) return skip("no_object", "the event carries no object");
    const metadata = metadataOf(object);
    const mismatch = selectionMismatch(trigger, metadata);
    if (mismatch) return skip("not_selected", mismatch);
    const name = (metadata.name as string | undefined) ?? "";
    const wants = (t: EventType) => trigger.events.some((e) => EVENT_TYPES[e] === t);
    const wanted = trigger.events.map((e) => EVENT_TYPES[e]).join(", ");

    if (type === "DELETE") {
      // The object is gone: whatever this hook remembered about it goes too.
      if (!wants("DELETE"))
        return skip("event_type", `event type DELETE is not one of ${wanted}: forgetting ${name}`, "forget");
      return withWhen(trigger, scope, result({ fires: true, reason: `${name} was deleted` }, "forget"), "forget");
    }

    const fingerprint = resourceFingerprint(trigger, object);
    const memory = ctx.memory;
    if (type === "ADD") {
      if (!wants("ADD") && !wants("UPDATE")) return skip("event_type", `event type ADD is not one of ${wanted}`);
      if (memory) {
        if (memory.fingerprint === fingerprint)
          return skip(
            "already_handled",
            `${name} was already handled in this state (fingerprint ${fingerprint}): a replayed ADD`,
            "keep",
          );
        if (!wants("UPDATE")) return skip("already_handled", `${name} was already handled: a replayed ADD`, "keep");
        // The event source was down (or restarted) while the object changed: catch up now.
        const fired = result(
          {
            fires: true,
            reason: `${name} changed while the event source was away (fingerprint ${memory.fingerprint} → ${fingerprint})`,
          },
          "set",
          { fingerprint },
        );
        return withWhen(trigger, scope, fired, "set");
      }
      if (wants("ADD")) {
        const firstServed = ctx.hookFirstServedAt;
        if (firstServed !== undefined) {
          const createdText = optionalString(metadata.creationTimestamp, "metadata.creationTimestamp");
          const created = Date.parse(createdText ?? "");
          if (!Number.isFinite(created))
            return skip(
              "malformed",
              `metadata.creationTimestamp is ${describeValue(createdText)}, expected an RFC3339 time`,
            );
          const served = Date.parse(firstServed);
          if (Number.isFinite(served) && created < served) {
            return result(
              {
                fires: false,
                code: "baseline",
                reason: `${name} was created at ${createdText}, before the hook was first served at ${firstServed}: baseline recorded`,
              },
              "set",
              { fingerprint },
            );
          }
        }
        const fired = result({ fires: true, reason: `${name} was created` }, "set", { fingerprint });
        return withWhen(trigger, scope, fired, "set");
      }
      return result(
        {
          fires: false,
          code: "baseline",
          reason: `first sight of ${name} (an ADD, e.g. after the event source started): baseline recorded, nothing fires`,
        },
        "set",
        { fingerprint },
      );
    }

    // UPDATE
    if (!wants("UPDATE")) return skip("event_type", `event type UPDATE is not one of ${wanted}`);
    if (!oldObject) return skip("no_object", "the UPDATE event carries no old object");
    const change = trigger.changed
      ? changedPaths(
          trigger.changed.map((p) => p.segments),
          oldObject,
          object,
        )
      : specChange(oldObject, object);
    if (!change.changed) return skip("unchanged", change.reason);
    if (memory && memory.fingerprint === fingerprint) {
      return skip(
        "already_handled",
        `${change.reason}, but ${name} was already handled in this state (fingerprint ${fingerprint}): a duplicate or a watch reconnect`,
      );
    }
    return withWhen(trigger, scope, result({ fires: true, reason: change.reason }, "set", { fingerprint }), "set");
  } catch (err) {
    if (err instanceof MalformedInput) return skip("malformed", err.message);
    return skip("malformed", `the event could not be evaluated: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Applies `when` to a firing evaluation. A false `when` after a real change still remembers the
 * state (`ifFalse`): the change was evaluated, and a replay of it must not fire later.
 */
export function withWhen(
  trigger: { when?: ResourceTrigger["when"] },
  scope: Record<string, unknown>,
  fired: Evaluation,
  ifFalse: Remember,
): Evaluation {
  if (!trigger.when || !fired.decision.fires) return fired;
  let holds: boolean;
  try {
    holds = evaluateCondition(trigger.when, scope);
  } catch (err) {
    // Not only ExpressionError: a RangeError from data nested too deep is a skip as well.
    return {
      ...fired,
      decision: {
        fires: false,
        code: "when_error",
        reason: `when could not be evaluated: ${err instanceof Error ? err.message : String(err)}`,
      },
      remember: "keep",
    };
  }
  if (!holds)
    return {
      ...fired,
      decision: { fires: false, code: "when_false", reason: `when is false: ${trigger.when.source}` },
      remember: ifFalse,
    };
  return { ...fired, decision: { fires: true, reason: `${fired.decision.reason}, and when holds` } };
}

const stringMap: JsonSchema = { type: "object", additionalProperties: { type: "string" } };

const RESOURCE_SCHEMA: Record<string, JsonSchema> = {
  resource: {
    type: "object",
    additionalProperties: false,
    required: ["version", "resource"],
    description: "The Kubernetes resource to watch, and which of its objects the hook is about.",
    properties: {
      group: { type: "string", description: 'API group, "" or absent for the core group (ConfigMap, Service …).' },
      version: { type: "string", minLength: 1, description: "API version, e.g. v1." },
      resource: {
        type: "string",
        minLength: 1,
        pattern: "^[a-z0-9.-]+$",
        description: "Plural resource name, e.g. deployments.",
        patternErrorMessage: "a plural lowercase resource name such as deployments",
      },
      namespace: { type: "string", description: "Namespace to watch; absent for all namespaces." },
      name: { type: "string", minLength: 1, description: "Only the object with this name." },
      namePrefix: { type: "string", minLength: 1, description: "Only objects whose name starts with this." },
      labels: { ...stringMap, description: "Only objects carrying all these labels (matchLabels)." },
    },
  },
  events: {
    type: "array",
    minItems: 1,
    uniqueItems: true,
    items: { enum: ["add", "update", "delete"] },
    description: "Event types (default [update]).",
  },
  changed: {
    type: "array",
    minItems: 1,
    items: { type: "string", minLength: 1 },
    description:
      'Field paths whose change fires the hook, e.g. spec.template.spec.containers[0].image or data["app.properties"].',
  },
};

function buildResource(on: HookDocument["on"], ctx: TriggerBuildContext): ResourceTrigger {
  const resource = on.resource!;
  const at = ctx.at;
  const resourceAt = [...at, "resource"];
  const selectors = (["name", "namePrefix", "labels"] as const).filter((k) => resource[k] !== undefined);
  if (selectors.length > 1) {
    ctx.report(resourceAt, `give one of name, namePrefix or labels, not ${selectors.length === 2 ? "two" : "three"}`);
  }
  const events = on.events ?? ["update"];
  const changed: FieldPath[] = [];
  on.changed?.forEach((source, i) => {
    try {
      changed.push(parseFieldPath(source));
    } catch (err) {
      if (err instanceof PathSyntaxError) ctx.report([...at, "changed", i], err.message);
      else throw err;
    }
  });
  if (on.changed && !events.includes("update")) {
    ctx.report([...at, "changed"], 'changed applies to update events, and events has no "update"');
  }
  const when = ctx.when();
  return {
    kind: "resource",
    watch: {
      group: resource.group ?? "",
      version: resource.version,
      resource: resource.resource,
      namespace: resource.namespace ?? "",
      labels: resource.labels ?? {},
    },
    ...(resource.name !== undefined ? { name: resource.name } : {}),
    ...(resource.namePrefix !== undefined ? { namePrefix: resource.namePrefix } : {}),
    events,
    ...(on.changed ? { changed } : {}),
    ...(when ? { when } : {}),
  };
}

export const resourceKind: TriggerKind<ResourceTrigger> = {
  kind: "resource",
  variables: RESOURCE_VARIABLES,
  schema: RESOURCE_SCHEMA,
  build: buildResource,
  evaluate: evaluateResource,
  eventTypes(trigger) {
    const types = new Set<EventType>();
    for (const e of trigger.events) types.add(EVENT_TYPES[e]);
    // Catch-up reads replayed ADDs, and every hook that remembers forgets on DELETE.
    if (trigger.events.includes("update")) types.add("ADD");
    types.add("DELETE");
    return (["ADD", "UPDATE", "DELETE"] as const).filter((t) => types.has(t));
  },
  permissions(trigger) {
    // HookSucceeded/HookFailed Events go on the object that triggered the hook.
    return [
      {
        group: "",
        resource: "events",
        ...(trigger.watch.namespace ? { namespace: trigger.watch.namespace } : {}),
        verbs: ["create", "patch"],
      },
    ];
  },
  filterEntry(trigger) {
    const data: Record<string, unknown> = {};
    if (trigger.watch.namespace) data.ns = trigger.watch.namespace;
    if (trigger.name !== undefined) data.name = trigger.name;
    if (trigger.namePrefix !== undefined) data.prefix = trigger.namePrefix;
    if (Object.keys(trigger.watch.labels).length > 0) data.labels = trigger.watch.labels;
    if (trigger.events.includes("add") || trigger.events.includes("update")) data.add = true;
    if (trigger.events.includes("update")) {
      data.upd = true;
      // Lua lists are 1-based.
      if (trigger.changed)
        data.paths = trigger.changed.map((p) => p.segments.map((s) => (typeof s === "number" ? s + 1 : s)));
    }
    return { fn: "resource", data };
  },
};
