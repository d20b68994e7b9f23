// Whether an event of an Application fires an argocd hook, in three steps: the selection (is this
// an Application the hook names), a running attempt (remember what its result so far says was
// written), and a finished operation (once per operation: did it really change a named resource).
//
// Memory (the fingerprint the runner keeps per hook and Application):
//   "o:<key>"                       the finished operation <key> was handled; an operation is
//                                   handled once even when its finished state arrives again (a
//                                   replayed ADD after the event source restarted, a duplicate),
//                                   and one that finished while the event source was down is
//                                   caught up from the replayed ADD;
//   "a:<startedAt>|<json keys>"     while the operation started at <startedAt> ran, its result
//                                   said it wrote these resources (a wave, a failed attempt);
//                                   the final result alone may not say so any more.
// Identity: `<uid>/<startedAt>/<key>` for a finished operation, `<uid>/<startedAt>/running-<hash>`
// for what a running one wrote, else the event id.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import {
  describeValue,
  labelsOf,
  metadataOf,
  hookView,
  objectOf,
  optionalString,
  valueHash,
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
import type { EvaluateContext, Evaluation } from "../kind.js";
import { changeVerdict, operationKind, resourceChange, resourceKey, type ResourceChange } from "./model.js";
import {
  checkedState,
  matchedResources,
  namedResults,
  operationKey,
  operationOf,
  resultIsForOperation,
  syncResults,
  type MatchedResource,
} from "./operation.js";
import type { ArgoCDResourceMatch, ArgoCDTrigger } from "./types.js";

const ATTEMPT = "a:";
const WRITE_VERDICTS = new Set<ResourceChange>(["created", "configured", "replaced", "updated", "pruned", "applied"]);

function attemptMemory(memory: string | undefined, startedAt: string): Set<string> {
  if (!memory?.startsWith(ATTEMPT)) return new Set();
  const bar = memory.indexOf("|");
  if (bar < 0 || memory.slice(ATTEMPT.length, bar) !== startedAt) return new Set();
  try {
    const keys: unknown = JSON.parse(memory.slice(bar + 1));
    return new Set(Array.isArray(keys) ? keys.filter((k): k is string => typeof k === "string") : []);
  } catch {
    return new Set();
  }
}

/** "Deployment/frontend configured", or with the evidence when the message alone does not say it. */
function describeResult(m: MatchedResource): string {
  if (m.evidence.startsWith("kubectl: ") || m.change === "failed") return `${m.kind}/${m.name} ${m.change}`;
  return `${m.kind}/${m.name} ${m.changed ? "changed" : "unchanged"}: ${m.evidence}`;
}

function describeMatch(m: ArgoCDResourceMatch): string {
  return `${m.kind}/${m.name ?? (m.namePrefix !== undefined ? `${m.namePrefix}*` : "*")}`;
}

/** An ADD or UPDATE of an Application the hook selects. */
interface Selected {
  type: "ADD" | "UPDATE";
  app: IApplication;
  old: IApplication | undefined;
  metadata: Record<string, unknown>;
  name: string;
}

/** Why the Application is not one this hook selects, or undefined when it is. */
function selectionMismatch(trigger: ArgoCDTrigger, metadata: Record<string, unknown>): string | undefined {
  const name = optionalString(metadata.name, "metadata.name") ?? "";
  const namespace = optionalString(metadata.namespace, "metadata.namespace");
  if (trigger.watch.namespace && namespace !== trigger.watch.namespace)
    return `namespace ${namespace ?? "(none)"} is not ${trigger.watch.namespace}`;
  if (trigger.application !== undefined && name !== trigger.application)
    return `Application ${name} is not ${trigger.application}`;
  const labelEntries = Object.entries(trigger.watch.labels);
  if (labelEntries.length > 0) {
    const labels = labelsOf(metadata);
    for (const [key, value] of labelEntries)
      if (labels[key] !== value) return `label ${key}=${value} is not set on Application ${name}`;
  }
  return undefined;
}

/** What the event carries, read once. */
interface Read {
  data: Partial<ResourceEvent["data"]>;
  app: IApplication | undefined;
  old: IApplication | undefined;
}

/** The selection: the skip for an event the hook does not act on, or the Application it does. */
function selection(trigger: ArgoCDTrigger, { data, app, old }: Read, outcome: Outcome): Evaluation | Selected {
  if (data.group !== "argoproj.io" || data.resource !== "applications")
    return skips(
      outcome,
      "wrong_resource",
      `the event is for ${String(data.group)}/${String(data.resource)}, not an Argo CD Application`,
    );
  const type = data.type;
  if (type !== "ADD" && type !== "UPDATE" && type !== "DELETE")
    return skips(outcome, "event_type", `event type ${describeValue(type)} is not ADD, UPDATE or DELETE`);
  if (!app) return skips(outcome, "no_object", "the event carries no Application");
  const metadata = metadataOf(app as never);
  const mismatch = selectionMismatch(trigger, metadata);
  if (mismatch) return skips(outcome, "not_selected", mismatch);
  const name = (metadata.name as string | undefined) ?? "";
  if (type === "DELETE")
    return skips(outcome, "deleted", `Application ${name} was deleted: forgetting its operations`, "forget");
  if (type === "UPDATE" && !old) return skips(outcome, "no_object", "the UPDATE event carries no old Application");
  return { type, app, old, metadata, name };
}

/** A selected Application with an operation in its status. */
interface OperationEvent extends Selected {
  trigger: ArgoCDTrigger;
  outcome: Outcome;
  ctx: EvaluateContext;
  /** status.operationState, checked. */
  state: Record<string, unknown>;
  uid: string;
  startedAt: string;
}

/**
 * The operation runs (or an attempt failed and will be retried: finishedAt and retryCount set,
 * phase still Running). The result so far is replaced later (by the next wave's health message,
 * by the retry's result), so what it says was written is remembered.
 */
function runningAttempt(op: OperationEvent): Evaluation {
  const { outcome, state, startedAt } = op;
  if (operationKind(state).dryRun) return skips(outcome, "dry_run", "a dry run changes nothing");
  if (!resultIsForOperation(state))
    return skips(
      outcome,
      "not_finished",
      "operation is Running, not finished (its result so far is for another revision)",
    );
  const written = namedResults(op.trigger, syncResults(state, "status.operationState")).filter((r) =>
    WRITE_VERDICTS.has(resourceChange(r)),
  );
  const known = attemptMemory(op.ctx.memory?.fingerprint, startedAt);
  const keys = new Set([...known, ...written.map(resourceKey)]);
  if (keys.size === known.size) {
    const remembered = written.length > 0 ? " (what it wrote so far is remembered)" : "";
    return skips(outcome, "not_finished", `operation is Running, not finished${remembered}`);
  }
  const remembered = `${ATTEMPT}${startedAt}|${JSON.stringify([...keys].sort())}`;
  const identity = `${op.uid}/${startedAt}/running-${valueHash(remembered).slice(0, 12)}`;
  const retry =
    typeof state.finishedAt === "string" ? ` (attempt ${String(state.retryCount ?? "?")} failed, a retry follows)` : "";
  const what = written.map((r) => `${r.kind}/${r.name}`).join(", ");
  return skips(
    { ...outcome, identity },
    "not_finished",
    `operation started at ${startedAt} is Running${retry} and wrote ${what}: remembered for its result`,
    "set",
    remembered,
  );
}

/** Whether the old Application already carried this finished operation: a later status update. */
function seenBefore(op: OperationEvent): boolean {
  if (op.type !== "UPDATE") return false;
  const before = checkedState(op.old!, "the old Application's ");
  return (
    before?.finishedAt === op.state.finishedAt &&
    before?.startedAt === op.state.startedAt &&
    before?.phase === op.state.phase
  );
}

/** The skip for a finished operation this hook has handled or seen before, or for its first sight. */
function handledBefore(
  op: OperationEvent,
  seen: boolean,
  outcome: Outcome,
  fingerprint: string,
): Evaluation | undefined {
  const finishedAt = op.state.finishedAt as string;
  if (op.ctx.memory?.fingerprint === fingerprint)
    return skips(outcome, "already_handled", `the operation that finished at ${finishedAt} was already handled`);
  if (op.type === "UPDATE") {
    if (seen)
      return skips(
        outcome,
        "already_handled",
        `the operation that finished at ${finishedAt} was already seen: a later status update`,
      );
  } else if (!op.ctx.memory) {
    return skips(
      outcome,
      "baseline",
      `first sight of Application ${op.name} (an ADD, e.g. after the event source started): ` +
        `baseline recorded for the operation that finished at ${finishedAt}`,
      "set",
      fingerprint,
    );
  }
  return undefined;
}

/** A finished operation the hook has not handled: whatever the outcome, it has been evaluated. */
function newOperation(op: OperationEvent, outcome: Outcome, fingerprint: string): Evaluation {
  const { trigger, state, app } = op;
  const finishedAt = state.finishedAt as string;
  if (!(trigger.phases as string[]).includes(state.phase as string)) {
    const reason = `operation phase ${String(state.phase)} is not one of ${trigger.phases.join(", ")}`;
    return skips(outcome, "phase", reason, "set", fingerprint);
  }
  if (operationKind(state).dryRun) {
    const reason = `the operation that finished at ${finishedAt} was a dry run: nothing was applied`;
    return skips(outcome, "dry_run", reason, "set", fingerprint);
  }
  const operation = operationOf(app)!;
  const evidence = {
    app,
    ...(op.old ? { old: op.old } : {}),
    startedAt: op.startedAt,
    ...(operation.revision ? { revision: operation.revision } : {}),
    ...(operation.revisions ? { revisions: operation.revisions } : {}),
    earlierAttempts: attemptMemory(op.ctx.memory?.fingerprint, op.startedAt),
  };
  const matched = matchedResources(trigger, syncResults(state, "status.operationState"), (r) =>
    changeVerdict(r, evidence),
  );
  if (matched.length === 0) {
    const what = trigger.resources.map(describeMatch).join(", ");
    const reason = trigger.changedOnly ? `the sync changed none of ${what}` : `the sync result has none of ${what}`;
    return skips(outcome, "unchanged", reason, "set", fingerprint);
  }
  // The same variables as every outcome's, in the same order, now with the operation.
  const scope = { ...outcome.scope, operation, resources: matched };
  const how = operation.selfHeal ? " (self-heal)" : "";
  const caughtUp = op.type === "ADD" ? " (finished while the event source was away)" : "";
  const results = matched.map(describeResult).join(", ");
  const reason = `sync ${String(state.phase)}${how} at ${finishedAt}${caughtUp}: ${results}`;
  return withWhen(trigger, fires({ ...outcome, scope }, reason, "set", fingerprint), "set");
}

/** A finished operation: handled once, whatever its outcome. */
function finishedOperation(op: OperationEvent): Evaluation {
  const { state, startedAt } = op;
  if (typeof state.finishedAt !== "string")
    return skips(op.outcome, "not_finished", `operation is ${String(state.phase ?? "unknown")}, not finished`);
  const seen = seenBefore(op);
  const key = operationKey(op.uid, op.app, state);
  const fingerprint = `o:${key}`;
  // From here on, even a malformed result is reported under the operation's identity.
  const outcome = { ...op.outcome, identity: `${op.uid}/${startedAt}/${key.slice(0, 12)}` };
  try {
    return handledBefore(op, seen, outcome, fingerprint) ?? newOperation(op, outcome, fingerprint);
  } catch (err) {
    return malformed(outcome, err);
  }
}

export function evaluateArgoCD(trigger: ArgoCDTrigger, event: ResourceEvent, ctx: EvaluateContext): Evaluation {
  const data = eventData(event);
  const app = objectOf(data.body) as IApplication | undefined;
  const old = objectOf(data.oldBody) as IApplication | undefined;
  const subject = objectRef(app as never, data);
  const view = hookView(app as never);
  const outcome: Outcome = {
    identity: eventId(event),
    ...(subject ? { subject } : {}),
    scope: {
      application: view,
      operation: null,
      resources: [],
      object: view,
      oldObject: hookView(old as never),
      event: eventScope(event),
    },
  };
  try {
    const selected = selection(trigger, { data, app, old }, outcome);
    if (!("app" in selected)) return selected;
    const state = checkedState(selected.app, "");
    if (!state) return skips(outcome, "not_finished", "no sync operation");
    const metadata = selected.metadata;
    const uid = typeof metadata.uid === "string" && metadata.uid ? metadata.uid : selected.name;
    const op: OperationEvent = { ...selected, trigger, outcome, ctx, state, uid, startedAt: String(state.startedAt) };
    return state.phase === "Running" ? runningAttempt(op) : finishedOperation(op);
  } catch (err) {
    return malformed(outcome, err);
  }
}
