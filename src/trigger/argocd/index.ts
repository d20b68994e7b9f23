// Argo CD sync-result triggers: fire once per finished sync operation of an Application, when
// one of the named resources really changed (model.ts says how that is decided from what the
// controller writes). Like the resource kind, evaluate() is the authority and the Sensor's Lua
// filter (../lua.ts) passes a superset of what fires.
//
// Memory: after a finished operation the fingerprint is its key, so an operation is handled once
// even when its finished state arrives again (a replayed ADD after the event source restarted, a
// duplicate), and an operation that finished while the event source was down is caught up from
// the replayed ADD. While an operation runs, the fingerprint holds the named resources its
// result so far said were written (see ATTEMPT below).
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { ArgoCDResourceMatch, ArgoCDTrigger, HookDocument } from "../../hookset/types.js";
import {
  describeValue,
  isMap,
  labelsOf,
  MalformedInput,
  metadataOf,
  objectOf,
  optionalString,
  valueHash,
  type Decision,
  type ResourceEvent,
  type SkipReasonCode,
} from "../event.js";
import type { EvaluateContext, Evaluation, JsonSchema, Remember, TriggerBuildContext, TriggerKind } from "../kind.js";
import { eventScope, objectRef, withWhen } from "../resource/index.js";
import { waitForApplicationHealthy } from "./health.js";

import {
  changeVerdict,
  operationKind,
  resourceChange,
  resourceKey,
  type ChangeVerdict,
  type ResourceChange,
  type SyncResourceResult,
} from "./model.js";

export { resourceChange, type ResourceChange, type SyncResourceResult } from "./model.js";

export interface MatchedResource extends SyncResourceResult {
  /** kubectl's verdict as the message says it (created, configured, replaced, updated, pruned, unchanged, applied, failed, other). */
  change: ResourceChange;
  /** The operation really changed it (or failed to): see model.ts for the evidence. */
  changed: boolean;
  /** Why `changed` is what it is. */
  evidence: string;
}

export interface ArgoCDOperation {
  phase: string;
  message?: string;
  startedAt: string;
  finishedAt?: string;
  revision?: string;
  revisions?: string[];
  initiatedBy?: { username?: string; automated?: boolean };
  /** operation.sync.dryRun (or every message ends in " (dry run)"): such operations never fire. */
  dryRun: boolean;
  /** Auto-sync undoing drift (operation.sync.selfHealAttemptsCount > 0), not a deploy. */
  selfHeal: boolean;
  /** The partial resource list of the operation (self-heal, `argocd app sync --resource`), when it has one. */
  syncResources?: Array<Record<string, unknown>>;
  /** Failed attempts before this result (operationState.retryCount). */
  retryCount?: number;
}

export const ARGOCD_VARIABLES = ["object", "oldObject", "event", "application", "operation", "resources"] as const;

function matches(result: SyncResourceResult, match: ArgoCDResourceMatch): boolean {
  if (result.kind !== match.kind) return false;
  if (match.group !== undefined && (result.group ?? "") !== match.group) return false;
  if (match.namespace !== undefined && (result.namespace ?? "") !== match.namespace) return false;
  if (match.name !== undefined && result.name !== match.name) return false;
  if (match.namePrefix !== undefined && !result.name.startsWith(match.namePrefix)) return false;
  return true;
}

/** Entries of the sync result that the trigger names: Argo CD's own hooks (hookType set) never count. */
export function namedResults(trigger: ArgoCDTrigger, results: readonly SyncResourceResult[]): SyncResourceResult[] {
  return results.filter((r) => !r.hookType && trigger.resources.some((m) => matches(r, m)));
}

/**
 * Entries of the sync result that match the trigger, each with whether the operation really
 * changed it; with changedOnly, only those it changed (or failed to).
 */
export function matchedResources(
  trigger: ArgoCDTrigger,
  results: readonly SyncResourceResult[],
  verdict: (r: SyncResourceResult) => ChangeVerdict = defaultVerdict,
): MatchedResource[] {
  const out: MatchedResource[] = [];
  for (const result of namedResults(trigger, results)) {
    const v = verdict(result);
    if (trigger.changedOnly && !v.changed) continue;
    out.push({ ...result, change: v.change, changed: v.changed, evidence: v.evidence });
  }
  return out;
}

/** Without the Application at hand: the message alone. */
function defaultVerdict(result: SyncResourceResult): ChangeVerdict {
  const change = resourceChange(result);
  const changed = ["created", "configured", "replaced", "updated", "pruned", "failed"].includes(change);
  return { change, changed, evidence: `kubectl: ${change}` };
}

const RESULT_STRINGS = [
  "group",
  "version",
  "namespace",
  "message",
  "status",
  "hookType",
  "hookPhase",
  "syncPhase",
] as const;

/** The syncResult entries, each checked for the types evaluate() relies on. */
function syncResults(state: Record<string, unknown>, where: string): SyncResourceResult[] {
  const sync = state.syncResult;
  if (sync === undefined || sync === null) return [];
  if (!isMap(sync)) throw new MalformedInput(`${where}.syncResult is ${describeValue(sync)}, expected a map`);
  const resources = sync.resources;
  if (resources === undefined || resources === null) return [];
  if (!Array.isArray(resources))
    throw new MalformedInput(`${where}.syncResult.resources is ${describeValue(resources)}, expected a list`);
  // An index loop, not forEach: a sparse list's holes must be reported, not skipped.
  for (let i = 0; i < resources.length; i++) {
    const entry: unknown = resources[i];
    const at = `${where}.syncResult.resources[${i}]`;
    if (!isMap(entry)) throw new MalformedInput(`${at} is ${describeValue(entry)}, expected a map`);
    for (const field of ["kind", "name"] as const) {
      if (typeof entry[field] !== "string")
        throw new MalformedInput(`${at}.${field} is ${describeValue(entry[field])}, expected a string`);
    }
    for (const field of RESULT_STRINGS) optionalString(entry[field], `${at}.${field}`);
  }
  return resources as SyncResourceResult[];
}

/** The operation as templates see it; `state` has been checked by checkedState(). */
export function operationOf(app: IApplication): ArgoCDOperation | undefined {
  const state = app.status?.operationState;
  if (!state) return undefined;
  const sync = isMap(state.syncResult) ? state.syncResult : undefined;
  const opSync = isMap(state.operation) && isMap(state.operation.sync) ? state.operation.sync : undefined;
  const kind = operationKind(state as unknown as Record<string, unknown>);
  const op: ArgoCDOperation = {
    phase: state.phase,
    startedAt: state.startedAt,
    dryRun: kind.dryRun,
    selfHeal: kind.selfHeal,
  };
  if (typeof state.message === "string") op.message = state.message;
  if (typeof state.finishedAt === "string") op.finishedAt = state.finishedAt;
  const revision = sync?.revision || opSync?.revision;
  if (typeof revision === "string" && revision) op.revision = revision;
  const revisions = sync?.revisions ?? opSync?.revisions;
  if (Array.isArray(revisions) && revisions.length > 0 && revisions.every((r) => typeof r === "string"))
    op.revisions = revisions;
  const by = isMap(state.operation) ? state.operation.initiatedBy : undefined;
  if (isMap(by)) {
    op.initiatedBy = {
      ...(typeof by.username === "string" ? { username: by.username } : {}),
      ...(typeof by.automated === "boolean" ? { automated: by.automated } : {}),
    };
  }
  if (kind.resources) op.syncResources = kind.resources;
  const retryCount = (state as { retryCount?: unknown }).retryCount;
  if (typeof retryCount === "number") op.retryCount = retryCount;
  return op;
}

/** status.operationState, with the fields evaluate() compares checked; undefined when there is none. */
function checkedState(app: IApplication, where: string): Record<string, unknown> | undefined {
  const status = app.status as unknown;
  if (status === undefined || status === null) return undefined;
  if (!isMap(status)) throw new MalformedInput(`${where}status is ${describeValue(status)}, expected a map`);
  for (const field of ["reconciledAt"] as const) optionalString(status[field], `${where}status.${field}`);
  const state = status.operationState;
  if (state === undefined || state === null) return undefined;
  if (!isMap(state))
    throw new MalformedInput(`${where}status.operationState is ${describeValue(state)}, expected a map`);
  for (const field of ["phase", "startedAt", "finishedAt", "message"] as const)
    optionalString(state[field], `${where}status.operationState.${field}`);
  return state;
}

/**
 * The id of one history entry this operation deployed (status.history[].deployStartedAt ==
 * startedAt): it tells apart two operations that started in the same second.
 */
function historyId(app: IApplication, startedAt: unknown): number | undefined {
  const history = app.status?.history;
  if (!Array.isArray(history)) return undefined;
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i] as unknown;
    if (isMap(h) && h.deployStartedAt === startedAt && typeof h.id === "number") return h.id;
  }
  return undefined;
}

/**
 * The key of one finished operation. startedAt and finishedAt have one-second precision, so it
 * also covers the phase, the operation as requested, the synced revision(s), the retry count and
 * the history entry the operation wrote (ids only grow): operations started in the same second
 * differ in at least one of them.
 */
function operationKey(uid: string, app: IApplication, state: Record<string, unknown>): string {
  const sync = isMap(state.syncResult) ? state.syncResult : {};
  return valueHash(
    {
      uid,
      startedAt: state.startedAt,
      finishedAt: state.finishedAt,
      phase: state.phase,
      operation: state.operation,
      revision: sync.revision,
      revisions: sync.revisions,
      retryCount: state.retryCount,
      history: historyId(app, state.startedAt),
      message: state.message,
    },
    "status.operationState",
  );
}

/** "Deployment/frontend configured", or with the evidence when the message alone does not say it. */
function describeResult(m: MatchedResource): string {
  if (m.evidence.startsWith("kubectl: ") || m.change === "failed") return `${m.kind}/${m.name} ${m.change}`;
  return `${m.kind}/${m.name} ${m.changed ? "changed" : "unchanged"}: ${m.evidence}`;
}

function describeMatch(m: ArgoCDResourceMatch): string {
  return `${m.kind}/${m.name ?? (m.namePrefix !== undefined ? `${m.namePrefix}*` : "*")}`;
}

function resultIsForOperation(state: Record<string, unknown>): boolean {
  const sync = isMap(state.syncResult) ? state.syncResult : undefined;
  if (!sync) return true;
  const opSync = isMap(state.operation) && isMap(state.operation.sync) ? state.operation.sync : {};
  if (
    typeof opSync.revision === "string" &&
    opSync.revision !== "" &&
    typeof sync.revision === "string" &&
    sync.revision !== ""
  ) {
    // a branch name ("main") is resolved to a SHA in the result: only SHAs compare
    return !/^[0-9a-f]{40}$/.test(opSync.revision) || opSync.revision === sync.revision;
  }
  if (Array.isArray(opSync.revisions) && Array.isArray(sync.revisions)) {
    return opSync.revisions.every(
      (r, i) => typeof r !== "string" || !/^[0-9a-f]{40}$/.test(r) || r === (sync.revisions as unknown[])[i],
    );
  }
  return true;
}

// Memory (the fingerprint the runner keeps per hook and Application):
//   "o:<key>"                       the finished operation <key> was handled;
//   "a:<startedAt>|<json keys>"     while the operation started at <startedAt> ran, its result
//                                   said it wrote these resources (a wave, a failed attempt);
//                                   the final result alone may not say so any more.
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

function evaluateArgoCD(trigger: ArgoCDTrigger, event: ResourceEvent, ctx: EvaluateContext): Evaluation {
  const data = (isMap(event.data) ? event.data : {}) as Partial<ResourceEvent["data"]>;
  const app = objectOf(data.body) as IApplication | undefined;
  const old = objectOf(data.oldBody) as IApplication | undefined;
  const subject = objectRef(app as never, data);
  const base: Record<string, unknown> = { object: app ?? null, oldObject: old ?? null, event: eventScope(event) };
  let scope: Record<string, unknown> = { application: app ?? null, operation: null, resources: [], ...base };
  let identity = String(isMap(event.context) ? event.context.id : "");
  const result = (decision: Decision, remember: Remember, fingerprint?: string): Evaluation => ({
    decision,
    identity,
    ...(subject ? { subject } : {}),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
    remember,
    scope,
  });
  const skip = (code: SkipReasonCode, reason: string, remember: Remember = "keep", fingerprint?: string) =>
    result({ fires: false, reason, code }, remember, fingerprint);
  try {
    if (data.group !== "argoproj.io" || data.resource !== "applications")
      return skip(
        "wrong_resource",
        `the event is for ${String(data.group)}/${String(data.resource)}, not an Argo CD Application`,
      );
    const type = data.type;
    if (type !== "ADD" && type !== "UPDATE" && type !== "DELETE")
      return skip("event_type", `event type ${describeValue(type)} is not ADD, UPDATE or DELETE`);
    if (!app) return skip("no_object", "the event carries no Application");
    const metadata = metadataOf(app as never);
    const name = optionalString(metadata.name, "metadata.name") ?? "";
    const namespace = optionalString(metadata.namespace, "metadata.namespace");
    if (trigger.watch.namespace && namespace !== trigger.watch.namespace)
      return skip("not_selected", `namespace ${namespace ?? "(none)"} is not ${trigger.watch.namespace}`);
    if (trigger.application !== undefined && name !== trigger.application)
      return skip("not_selected", `Application ${name} is not ${trigger.application}`);
    const labelEntries = Object.entries(trigger.watch.labels);
    if (labelEntries.length > 0) {
      const labels = labelsOf(metadata);
      for (const [key, value] of labelEntries)
        if (labels[key] !== value)
          return skip("not_selected", `label ${key}=${value} is not set on Application ${name}`);
    }
    if (type === "DELETE")
      return skip("deleted", `Application ${name} was deleted: forgetting its operations`, "forget");
    if (type === "UPDATE" && !old) return skip("no_object", "the UPDATE event carries no old Application");

    const state = checkedState(app, "");
    if (!state) return skip("not_finished", "no sync operation");
    const uid = typeof metadata.uid === "string" && metadata.uid ? metadata.uid : name;
    const startedAt = String(state.startedAt);
    const kind = operationKind(state);

    // The operation runs (or an attempt failed and will be retried: finishedAt and retryCount
    // set, phase still Running). The result so far is replaced later (by the next wave's health
    // message, by the retry's result), so what it says was written is remembered.
    if (state.phase === "Running") {
      if (kind.dryRun) return skip("dry_run", "a dry run changes nothing");
      // Argo CD clears the result when an operation starts (recorded); a result for another
      // revision than the one this operation syncs is an earlier operation's, never this one's
      if (!resultIsForOperation(state))
        return skip("not_finished", `operation is Running, not finished (its result so far is for another revision)`);
      const written = namedResults(trigger, syncResults(state, "status.operationState")).filter((r) =>
        WRITE_VERDICTS.has(resourceChange(r)),
      );
      const known = attemptMemory(ctx.memory?.fingerprint, startedAt);
      const keys = new Set([...known, ...written.map(resourceKey)]);
      if (keys.size === known.size)
        return skip(
          "not_finished",
          `operation is Running, not finished${written.length > 0 ? " (what it wrote so far is remembered)" : ""}`,
        );
      const remembered = `${ATTEMPT}${startedAt}|${JSON.stringify([...keys].sort())}`;
      identity = `${uid}/${startedAt}/running-${valueHash(remembered).slice(0, 12)}`;
      return skip(
        "not_finished",
        `operation started at ${startedAt} is Running${typeof state.finishedAt === "string" ? ` (attempt ${String(state.retryCount ?? "?")} failed, a retry follows)` : ""} and wrote ${written.map((r) => `${r.kind}/${r.name}`).join(", ")}: remembered for its result`,
        "set",
        remembered,
      );
    }
    if (typeof state.finishedAt !== "string")
      return skip("not_finished", `operation is ${String(state.phase ?? "unknown")}, not finished`);
    const before = type === "UPDATE" ? checkedState(old!, "the old Application's ") : undefined;
    const seenBefore =
      before?.finishedAt === state.finishedAt && before?.startedAt === state.startedAt && before?.phase === state.phase;

    const key = operationKey(uid, app, state);
    const fingerprint = `o:${key}`;
    identity = `${uid}/${startedAt}/${key.slice(0, 12)}`;
    if (ctx.memory?.fingerprint === fingerprint)
      return skip("already_handled", `the operation that finished at ${state.finishedAt} was already handled`);
    if (type === "UPDATE") {
      if (seenBefore)
        return skip(
          "already_handled",
          `the operation that finished at ${state.finishedAt} was already seen: a later status update`,
        );
    } else if (!ctx.memory) {
      return skip(
        "baseline",
        `first sight of Application ${name} (an ADD, e.g. after the event source started): baseline recorded for the operation that finished at ${state.finishedAt}`,
        "set",
        fingerprint,
      );
    }
    const caughtUp = type === "ADD" ? " (finished while the event source was away)" : "";
    // From here on the operation is new: whatever the outcome, it has been evaluated.
    if (!(trigger.phases as string[]).includes(state.phase as string)) {
      return skip(
        "phase",
        `operation phase ${String(state.phase)} is not one of ${trigger.phases.join(", ")}`,
        "set",
        fingerprint,
      );
    }
    if (kind.dryRun)
      return skip(
        "dry_run",
        `the operation that finished at ${state.finishedAt} was a dry run: nothing was applied`,
        "set",
        fingerprint,
      );
    const operation = operationOf(app)!;
    const evidence = {
      app,
      ...(old ? { old } : {}),
      startedAt,
      ...(operation.revision ? { revision: operation.revision } : {}),
      ...(operation.revisions ? { revisions: operation.revisions } : {}),
      earlierAttempts: attemptMemory(ctx.memory?.fingerprint, startedAt),
    };
    const matched = matchedResources(trigger, syncResults(state, "status.operationState"), (r) =>
      changeVerdict(r, evidence),
    );
    if (matched.length === 0) {
      const what = trigger.resources.map(describeMatch).join(", ");
      return skip(
        "unchanged",
        trigger.changedOnly ? `the sync changed none of ${what}` : `the sync result has none of ${what}`,
        "set",
        fingerprint,
      );
    }
    scope = { application: app, operation, resources: matched, ...base };
    const how = operation.selfHeal ? " (self-heal)" : "";
    const fired = result(
      {
        fires: true,
        reason: `sync ${String(state.phase)}${how} at ${state.finishedAt}${caughtUp}: ${matched.map(describeResult).join(", ")}`,
      },
      "set",
      fingerprint,
    );
    return withWhen(trigger, scope, fired, "set");
  } catch (err) {
    if (err instanceof MalformedInput) return skip("malformed", err.message);
    return skip("malformed", `the event could not be evaluated: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Where Application objects live when the hook does not say. */
export const DEFAULT_ARGOCD_NAMESPACE = "argocd";

const stringMap: JsonSchema = { type: "object", additionalProperties: { type: "string" } };

const ARGOCD_SCHEMA: Record<string, JsonSchema> = {
  argocd: {
    type: "object",
    additionalProperties: false,
    required: ["resources"],
    description: "Fire when an Argo CD sync operation finished and really changed the named resources.",
    properties: {
      application: { type: "string", minLength: 1, description: "Application name." },
      labels: { ...stringMap, description: "Select Applications by labels instead of name." },
      namespace: {
        type: "string",
        minLength: 1,
        description: "Namespace of the Application objects (default argocd).",
      },
      resources: {
        type: "array",
        minItems: 1,
        description: "Synced resources that matter; one match is enough.",
        items: {
          type: "object",
          additionalProperties: false,
          required: ["kind"],
          properties: {
            group: { type: "string" },
            kind: { type: "string", minLength: 1 },
            namespace: { type: "string" },
            name: { type: "string", minLength: 1 },
            namePrefix: { type: "string", minLength: 1 },
          },
        },
      },
      changedOnly: {
        type: "boolean",
        description: "Only resources the sync created, changed or pruned (default true).",
      },
      phases: {
        type: "array",
        minItems: 1,
        uniqueItems: true,
        items: { enum: ["Succeeded", "Failed", "Error"] },
        description: "Operation phases that fire the hook (default [Succeeded]).",
      },
      healthy: { type: "boolean", description: "Wait until the Application is Healthy before running the steps." },
    },
  },
};

function buildArgoCD(on: HookDocument["on"], ctx: TriggerBuildContext): ArgoCDTrigger {
  const argo = on.argocd!;
  const argoAt = [...ctx.at, "argocd"];
  if (argo.application !== undefined && argo.labels !== undefined)
    ctx.report(argoAt, "give one of application or labels, not both");
  if (argo.application === undefined && argo.labels === undefined)
    ctx.report(argoAt, "missing the Application: give application or labels");
  argo.resources.forEach((match, i) => {
    if (match.name !== undefined && match.namePrefix !== undefined)
      ctx.report([...argoAt, "resources", i], "give one of name or namePrefix, not both");
  });
  const when = ctx.when();
  return {
    kind: "argocd",
    watch: {
      group: "argoproj.io",
      version: "v1alpha1",
      resource: "applications",
      namespace: argo.namespace ?? DEFAULT_ARGOCD_NAMESPACE,
      labels: argo.labels ?? {},
    },
    ...(argo.application !== undefined ? { application: argo.application } : {}),
    resources: argo.resources,
    changedOnly: argo.changedOnly ?? true,
    phases: argo.phases ?? ["Succeeded"],
    healthy: argo.healthy ?? false,
    ...(when ? { when } : {}),
  };
}

export const argocdKind: TriggerKind<ArgoCDTrigger> = {
  kind: "argocd",
  variables: ARGOCD_VARIABLES,
  schema: ARGOCD_SCHEMA,
  build: buildArgoCD,
  evaluate: evaluateArgoCD,
  eventTypes: () => ["ADD", "UPDATE", "DELETE"],
  permissions(trigger) {
    const { watch } = trigger;
    return [
      {
        group: "",
        resource: "events",
        ...(watch.namespace ? { namespace: watch.namespace } : {}),
        verbs: ["create", "patch"],
      },
      ...(trigger.healthy
        ? [{ group: watch.group, resource: watch.resource, namespace: watch.namespace, verbs: ["get"] }]
        : []),
    ];
  },
  filterEntry(trigger) {
    const data: Record<string, unknown> = {};
    if (trigger.watch.namespace) data.ns = trigger.watch.namespace;
    if (trigger.application !== undefined) data.app = trigger.application;
    if (Object.keys(trigger.watch.labels).length > 0) data.labels = trigger.watch.labels;
    data.phases = Object.fromEntries(trigger.phases.map((p) => [p, true]));
    if (trigger.changedOnly) data.changedOnly = true;
    data.res = trigger.resources.map((m) => ({
      kind: m.kind,
      ...(m.group !== undefined ? { group: m.group } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namePrefix !== undefined ? { prefix: m.namePrefix } : {}),
    }));
    return { fn: "argocd", data };
  },
  async beforeSteps(trigger, scope, ctx) {
    if (!trigger.healthy) return;
    const app = scope.application as IApplication | null;
    const operation = scope.operation as ArgoCDOperation | null;
    if (!app || !operation)
      throw new Error("healthy: true needs the Application and its operation, and the run has neither");
    await waitForApplicationHealthy(ctx.kubeConfig, app, operation, {
      signal: ctx.signal,
      logger: ctx.logger,
      timeoutMs: ctx.timeoutMs,
    });
  },
};
