// Argo CD sync-result hooks: fire once per finished sync operation of an Application, when the
// operation's syncResult shows that one of the named resources really changed. Like
// resource.ts, the runner's decideArgoCD() and the Sensor's Lua (argocdSensorScript) live side
// by side and must agree.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { evaluateCondition, ExpressionError } from "../expr/cel.js";
import type { ArgoCDResourceMatch, ArgoCDTrigger } from "../spec/types.js";
import { objectOf, type Decision, type ResourceEvent } from "./event.js";
import { LUA_GET, luaString } from "./lua.js";
import { eventScope } from "./resource.js";

type OperationState = NonNullable<NonNullable<IApplication["status"]>["operationState"]>;
export type SyncResourceResult = NonNullable<NonNullable<OperationState["syncResult"]>["resources"]>[number];

export interface MatchedResource extends SyncResourceResult {
  /** created, configured, pruned, unchanged, failed or applied (server-side apply cannot tell). */
  change: ResourceChange;
}

export type ResourceChange = "created" | "configured" | "pruned" | "unchanged" | "failed" | "applied" | "other";

export interface ArgoCDOperation {
  phase: string;
  message?: string;
  startedAt: string;
  finishedAt?: string;
  revision?: string;
  revisions?: string[];
  initiatedBy?: { username?: string; automated?: boolean };
}

export interface ArgoCDDecision {
  decision: Decision;
  /** The operation's identity (Application uid and startedAt): one run per operation. */
  identity?: string;
  application?: IApplication;
  operation?: ArgoCDOperation;
  resources?: MatchedResource[];
}

/**
 * How a syncResult entry changed its resource. Argo CD records kubectl's verdict in the message
 * ("deployment.apps/frontend configured" / "… unchanged" / "… created"), "pruned" for deletions,
 * and "… serverside-applied" under server-side apply, which does not say whether anything changed
 * and so counts as a change.
 */
export function resourceChange(result: SyncResourceResult): ResourceChange {
  const message = result.message ?? "";
  if (result.status === "SyncFailed") return "failed";
  if (result.status === "Pruned" || message === "pruned") return "pruned";
  if (message.endsWith(" unchanged")) return "unchanged";
  if (message.endsWith(" created")) return "created";
  if (message.endsWith(" configured")) return "configured";
  if (message.endsWith(" serverside-applied")) return "applied";
  return "other";
}

const CHANGES = new Set<ResourceChange>(["created", "configured", "pruned", "applied"]);

function matches(result: SyncResourceResult, match: ArgoCDResourceMatch): boolean {
  if (result.kind !== match.kind) return false;
  if (match.group !== undefined && (result.group ?? "") !== match.group) return false;
  if (match.namespace !== undefined && (result.namespace ?? "") !== match.namespace) return false;
  if (match.name !== undefined && result.name !== match.name) return false;
  if (match.namePrefix !== undefined && !result.name.startsWith(match.namePrefix)) return false;
  return true;
}

/** Entries of the sync result that match the trigger: Argo CD's own hooks (hookType set) never count. */
export function matchedResources(trigger: ArgoCDTrigger, results: readonly SyncResourceResult[]): MatchedResource[] {
  const out: MatchedResource[] = [];
  for (const result of results) {
    if (result.hookType) continue;
    if (!trigger.resources.some((m) => matches(result, m))) continue;
    const change = resourceChange(result);
    if (trigger.changedOnly && !CHANGES.has(change) && change !== "failed") continue;
    out.push({ ...result, change });
  }
  return out;
}

export function operationOf(app: IApplication): ArgoCDOperation | undefined {
  const state = app.status?.operationState;
  if (!state) return undefined;
  const sync = state.syncResult;
  const op: ArgoCDOperation = { phase: state.phase, startedAt: state.startedAt };
  if (state.message !== undefined) op.message = state.message;
  if (state.finishedAt !== undefined) op.finishedAt = state.finishedAt;
  const revision = sync?.revision ?? state.operation?.sync?.revision;
  if (revision) op.revision = revision;
  const revisions = sync?.revisions ?? state.operation?.sync?.revisions;
  if (revisions && revisions.length > 0) op.revisions = revisions;
  const by = state.operation?.initiatedBy;
  if (by) op.initiatedBy = { ...(by.username !== undefined ? { username: by.username } : {}), ...(by.automated !== undefined ? { automated: by.automated } : {}) };
  return op;
}

export function decideArgoCD(trigger: ArgoCDTrigger, event: ResourceEvent): ArgoCDDecision {
  const skip = (reason: string): ArgoCDDecision => ({ decision: { fires: false, reason } });
  const { data } = event;
  if (data.group !== "argoproj.io" || data.resource !== "applications") return skip(`the event is for ${data.group}/${data.resource}, not an Argo CD Application`);
  if (data.type !== "UPDATE") return skip(`event type ${data.type}: only updates finish sync operations`);
  const app = objectOf(data.body) as IApplication | undefined;
  const old = objectOf(data.oldBody) as IApplication | undefined;
  if (!app || !old) return skip("the event carries no Application");
  const name = app.metadata?.name ?? "";
  if (trigger.watch.namespace && app.metadata?.namespace !== trigger.watch.namespace) return skip(`namespace ${app.metadata?.namespace ?? "(none)"} is not ${trigger.watch.namespace}`);
  if (trigger.application !== undefined && name !== trigger.application) return skip(`Application ${name} is not ${trigger.application}`);
  for (const [key, value] of Object.entries(trigger.watch.labels)) {
    if (app.metadata?.labels?.[key] !== value) return skip(`label ${key}=${value} is not set on Application ${name}`);
  }
  const state = app.status?.operationState;
  if (!state?.finishedAt) return skip(state ? `operation is ${state.phase}, not finished` : "no sync operation");
  const before = old.status?.operationState;
  if (before?.finishedAt === state.finishedAt && before?.startedAt === state.startedAt) {
    return skip(`the operation that finished at ${state.finishedAt} was already seen: a later status update`);
  }
  if (!(trigger.phases as string[]).includes(state.phase)) return skip(`operation phase ${state.phase} is not one of ${trigger.phases.join(", ")}`);
  const matched = matchedResources(trigger, state.syncResult?.resources ?? []);
  if (matched.length === 0) {
    const what = trigger.resources.map(describeMatch).join(", ");
    return skip(trigger.changedOnly ? `the sync changed none of ${what}` : `the sync result has none of ${what}`);
  }
  const operation = operationOf(app)!;
  const result: ArgoCDDecision = {
    decision: { fires: true, reason: `sync ${state.phase} at ${state.finishedAt}: ${matched.map((m) => `${m.kind}/${m.name} ${m.change}`).join(", ")}` },
    identity: `${app.metadata?.uid ?? name}/${state.startedAt}`,
    application: app,
    operation,
    resources: matched,
  };
  if (trigger.when) {
    const scope = { ...argocdScope(result), object: app, oldObject: old, event: eventScope(event) };
    try {
      if (!evaluateCondition(trigger.when, scope)) return skip(`when is false: ${trigger.when.source}`);
    } catch (err) {
      if (err instanceof ExpressionError) return skip(`when could not be evaluated: ${err.message}`);
      throw err;
    }
  }
  return result;
}

/** What templates and conditions of an Argo CD hook see besides object/oldObject/event. */
export function argocdScope(decision: ArgoCDDecision): Record<string, unknown> {
  return { application: decision.application ?? null, operation: decision.operation ?? null, resources: decision.resources ?? [] };
}

function describeMatch(m: ArgoCDResourceMatch): string {
  return `${m.kind}/${m.name ?? (m.namePrefix !== undefined ? `${m.namePrefix}*` : "*")}`;
}

// ---- Lua for the Sensor (see resource.ts for the conventions).

export function argocdSensorScript(trigger: ArgoCDTrigger): string {
  const lines = [
    `${LUA_GET}
local function ends(s, suffix) return type(s) == "string" and string.sub(s, -string.len(suffix)) == suffix end`,
    `if event.type ~= "UPDATE" then return false end`,
    `local app, old = event.body, event.oldBody`,
    `if type(app) ~= "table" or type(old) ~= "table" then return false end`,
  ];
  if (trigger.watch.namespace) lines.push(`if get(app, {"metadata", "namespace"}) ~= ${luaString(trigger.watch.namespace)} then return false end`);
  if (trigger.application !== undefined) lines.push(`if get(app, {"metadata", "name"}) ~= ${luaString(trigger.application)} then return false end`);
  for (const [key, value] of Object.entries(trigger.watch.labels)) {
    lines.push(`if get(app, {"metadata", "labels", ${luaString(key)}}) ~= ${luaString(value)} then return false end`);
  }
  lines.push(
    `local op = get(app, {"status", "operationState"})`,
    `if type(op) ~= "table" or op.finishedAt == nil then return false end`,
    `local before = get(old, {"status", "operationState"})`,
    `if type(before) == "table" and before.finishedAt == op.finishedAt and before.startedAt == op.startedAt then return false end`,
    `if not (${trigger.phases.map((p) => `op.phase == ${luaString(p)}`).join(" or ")}) then return false end`,
    `local results = get(op, {"syncResult", "resources"})`,
    `if type(results) ~= "table" then return false end`,
    `for _, r in ipairs(results) do`,
    `  local hook = r.hookType ~= nil and r.hookType ~= ""`,
    `  local msg = r.message or ""`,
    `  local changed = r.status == "SyncFailed" or r.status == "Pruned" or msg == "pruned" or ((not ends(msg, " unchanged")) and (ends(msg, " created") or ends(msg, " configured") or ends(msg, " serverside-applied")))`,
  );
  const conditions = trigger.resources.map((m) => {
    const parts = [`r.kind == ${luaString(m.kind)}`];
    if (m.group !== undefined) parts.push(`(r.group or "") == ${luaString(m.group)}`);
    if (m.namespace !== undefined) parts.push(`(r.namespace or "") == ${luaString(m.namespace)}`);
    if (m.name !== undefined) parts.push(`r.name == ${luaString(m.name)}`);
    if (m.namePrefix !== undefined) parts.push(`string.sub(r.name or "", 1, ${Buffer.byteLength(m.namePrefix)}) == ${luaString(m.namePrefix)}`);
    return `(${parts.join(" and ")})`;
  });
  lines.push(`  if not hook and (${conditions.join(" or ")})${trigger.changedOnly ? " and changed" : ""} then return true end`, `end`, `return false`);
  return lines.join("\n") + "\n";
}
