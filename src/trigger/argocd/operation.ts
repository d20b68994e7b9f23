// An Application's sync operation as evaluate() reads it from status.operationState: checked for
// the types it relies on (total over malformed input), the resources its result names, the key
// of one finished operation, and the operation as templates see it.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { describeValue, isMap, MalformedInput, optionalString, valueHash } from "../event.js";
import {
  operationKind,
  resourceChange,
  type ChangeVerdict,
  type ResourceChange,
  type SyncResourceResult,
} from "./model.js";
import type { ArgoCDResourceMatch, ArgoCDTrigger } from "./types.js";

export interface MatchedResource extends SyncResourceResult {
  /**
   * kubectl's verdict as the message says it (created, configured, replaced, updated, pruned,
   * unchanged, applied, failed, other).
   */
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
export function syncResults(state: Record<string, unknown>, where: string): SyncResourceResult[] {
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

/** The revision(s) the operation synced: from its result, else from the operation as requested. */
function syncedRevisions(state: Record<string, unknown>): Pick<ArgoCDOperation, "revision" | "revisions"> {
  const sync = isMap(state.syncResult) ? state.syncResult : undefined;
  const opSync = isMap(state.operation) && isMap(state.operation.sync) ? state.operation.sync : undefined;
  const out: Pick<ArgoCDOperation, "revision" | "revisions"> = {};
  const revision = sync?.revision || opSync?.revision;
  if (typeof revision === "string" && revision) out.revision = revision;
  const revisions = sync?.revisions ?? opSync?.revisions;
  if (Array.isArray(revisions) && revisions.length > 0 && revisions.every((r) => typeof r === "string"))
    out.revisions = revisions;
  return out;
}

function initiatedBy(state: Record<string, unknown>): ArgoCDOperation["initiatedBy"] {
  const by = isMap(state.operation) ? state.operation.initiatedBy : undefined;
  if (!isMap(by)) return undefined;
  return {
    ...(typeof by.username === "string" ? { username: by.username } : {}),
    ...(typeof by.automated === "boolean" ? { automated: by.automated } : {}),
  };
}

/** The operation as templates see it; `state` has been checked by checkedState(). */
export function operationOf(app: IApplication): ArgoCDOperation | undefined {
  const state = app.status?.operationState;
  if (!state) return undefined;
  const raw = state as unknown as Record<string, unknown>;
  const kind = operationKind(raw);
  const op: ArgoCDOperation = {
    phase: state.phase,
    startedAt: state.startedAt,
    dryRun: kind.dryRun,
    selfHeal: kind.selfHeal,
  };
  if (typeof state.message === "string") op.message = state.message;
  if (typeof state.finishedAt === "string") op.finishedAt = state.finishedAt;
  Object.assign(op, syncedRevisions(raw));
  const by = initiatedBy(raw);
  if (by) op.initiatedBy = by;
  if (kind.resources) op.syncResources = kind.resources;
  if (typeof raw.retryCount === "number") op.retryCount = raw.retryCount;
  return op;
}

/** status.operationState, with the fields evaluate() compares checked; undefined when there is none. */
export function checkedState(app: IApplication, where: string): Record<string, unknown> | undefined {
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
export function operationKey(uid: string, app: IApplication, state: Record<string, unknown>): string {
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

const SHA = /^[0-9a-f]{40}$/;

/**
 * Whether the result in a running operation's state is this operation's: Argo CD clears the
 * result when an operation starts (recorded), so a result for another revision than the one this
 * operation syncs is an earlier operation's.
 */
export function resultIsForOperation(state: Record<string, unknown>): boolean {
  const sync = isMap(state.syncResult) ? state.syncResult : undefined;
  if (!sync) return true;
  const opSync = isMap(state.operation) && isMap(state.operation.sync) ? state.operation.sync : {};
  const wanted = opSync.revision;
  if (typeof wanted === "string" && wanted !== "" && typeof sync.revision === "string" && sync.revision !== "") {
    // a branch name ("main") is resolved to a SHA in the result: only SHAs compare
    return !SHA.test(wanted) || wanted === sync.revision;
  }
  if (Array.isArray(opSync.revisions) && Array.isArray(sync.revisions)) {
    const synced = sync.revisions as unknown[];
    return opSync.revisions.every((r, i) => typeof r !== "string" || !SHA.test(r) || r === synced[i]);
  }
  return true;
}
