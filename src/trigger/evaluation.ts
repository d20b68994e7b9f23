// What every kind's evaluate() builds from an event, whatever the kind: the data it reads, the
// `event` templates see, the object the run is about, the Evaluation of each outcome, and `when`.
import { evaluateCondition } from "../expr/cel.js";
import {
  isMap,
  MalformedInput,
  type Decision,
  type KubeObject,
  type ResourceEvent,
  type SkipReasonCode,
} from "./event.js";
import type { Evaluation, ObjectRef, Remember, TriggerBase } from "./kind.js";

/** The event's data as far as it is a map: every field may still be missing or of another type. */
export function eventData(event: ResourceEvent): Partial<ResourceEvent["data"]> {
  return (isMap(event.data) ? event.data : {}) as Partial<ResourceEvent["data"]>;
}

/** The CloudEvent id: the identity of a change when nothing better names it. */
export function eventId(event: ResourceEvent): string {
  return String(isMap(event.context) ? event.context.id : "");
}

/** What templates and conditions see as `event`. */
export function eventScope(event: ResourceEvent): Record<string, unknown> {
  const context = isMap(event.context) ? event.context : {};
  const data = eventData(event);
  return { ...context, kind: data.type, group: data.group, version: data.version, resource: data.resource };
}

function apiVersionOf(object: KubeObject, data: Partial<ResourceEvent["data"]>): string {
  if (typeof object.apiVersion === "string") return object.apiVersion;
  if (data.group) return `${String(data.group)}/${String(data.version)}`;
  return String(data.version ?? "");
}

/** The object's reference, when it has a name and a uid to remember it by. */
export function objectRef(object: KubeObject | undefined, data: Partial<ResourceEvent["data"]>): ObjectRef | undefined {
  if (!object || !isMap(object.metadata)) return undefined;
  const m = object.metadata as Record<string, unknown>;
  if (typeof m.name !== "string" || typeof m.uid !== "string" || !m.uid) return undefined;
  return {
    apiVersion: apiVersionOf(object, data),
    kind: typeof object.kind === "string" ? object.kind : String(data.resource ?? ""),
    ...(typeof m.namespace === "string" && m.namespace ? { namespace: m.namespace } : {}),
    name: m.name,
    uid: m.uid,
    ...(typeof m.resourceVersion === "string" ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/** What every outcome of one evaluation shares. */
export interface Outcome {
  identity: string;
  subject?: ObjectRef;
  scope: Record<string, unknown>;
}

function evaluation(outcome: Outcome, decision: Decision, remember: Remember, fingerprint?: string): Evaluation {
  return {
    decision,
    identity: outcome.identity,
    ...(outcome.subject ? { subject: outcome.subject } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    remember,
    scope: outcome.scope,
  };
}

/** The hook fires (before `when`, see withWhen). */
export function fires(outcome: Outcome, reason: string, remember: Remember, fingerprint?: string): Evaluation {
  return evaluation(outcome, { fires: true, reason }, remember, fingerprint);
}

export function skips(
  outcome: Outcome,
  code: SkipReasonCode,
  reason: string,
  remember: Remember = "keep",
  fingerprint?: string,
): Evaluation {
  return evaluation(outcome, { fires: false, reason, code }, remember, fingerprint);
}

/** The skip for input that could not be evaluated: a MalformedInput's message names the field. */
export function malformed(outcome: Outcome, err: unknown): Evaluation {
  if (err instanceof MalformedInput) return skips(outcome, "malformed", err.message);
  const why = err instanceof Error ? err.message : String(err);
  return skips(outcome, "malformed", `the event could not be evaluated: ${why}`);
}

/**
 * Applies `when` to a firing evaluation. A false `when` after a real change still remembers the
 * state (`ifFalse`): the change was evaluated, and a replay of it must not fire later.
 */
export function withWhen(trigger: Pick<TriggerBase, "when">, fired: Evaluation, ifFalse: Remember): Evaluation {
  if (!trigger.when || !fired.decision.fires) return fired;
  let holds: boolean;
  try {
    holds = evaluateCondition(trigger.when, fired.scope);
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
