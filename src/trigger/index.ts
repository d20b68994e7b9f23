// Trigger semantics for every trigger kind behind one interface (kind.ts) and a registry: the
// runner calls evaluate() and beforeSteps(), simulate calls evaluate()/decide(), the generator
// reads watchesOf(), eventTypesOf() and watchFilterScript().
import type { Trigger } from "../spec/types.js";
import type { Decision, ResourceEvent } from "./event.js";
import type { BeforeStepsContext, EvaluateContext, Evaluation, EventType } from "./kind.js";
import { watchFilterScript } from "./lua.js";
import { triggerKind, triggerKinds } from "./registry.js";
import type { WatchPlan } from "./watch.js";

export type { Decision, KubeObject, ResourceEvent, ResourceEventData, EventContext } from "./event.js";
export { MAX_VALUE_DEPTH, objectOf } from "./event.js";
export type { BeforeStepsContext, EvaluateContext, Evaluation, EventType, HookMemory, LuaFilterEntry, ObjectRef, Remember, TriggerKind } from "./kind.js";
export { triggerKind, triggerKinds } from "./registry.js";
export { shortHash, watchEventName, watchKey, watchesOf, type WatchPlan } from "./watch.js";
export { SEEN } from "./resource/index.js";

/** Evaluates one hook's trigger for one event. Never throws. */
export function evaluate(trigger: Trigger, event: ResourceEvent, ctx: EvaluateContext = {}): Evaluation {
  return triggerKind(trigger).evaluate(trigger, event, ctx);
}

/** evaluate(...).decision, for simulate and tests. */
export function decide(trigger: Trigger, event: ResourceEvent, ctx: EvaluateContext = {}): Decision {
  return evaluate(trigger, event, ctx).decision;
}

/** Runs the kind's work before the steps (argocd `healthy: true`); a no-op for kinds without. */
export async function beforeSteps(trigger: Trigger, scope: Record<string, unknown>, ctx: BeforeStepsContext): Promise<void> {
  const kind = triggerKind(trigger);
  if (kind.beforeSteps) await kind.beforeSteps(trigger, scope, ctx);
}

/** Whether the trigger has work before its steps (for budgets and docs). */
export function hasBeforeSteps(trigger: Trigger): boolean {
  return trigger.kind === "argocd" && trigger.healthy;
}

/** Variables `when`, `if` and templates may read for this kind. */
export function triggerVariables(kind: Trigger["kind"]): readonly string[] {
  return triggerKinds[kind].variables;
}

/** The event types a watch must deliver: the union over its hooks. */
export function eventTypesOf(watch: WatchPlan): EventType[] {
  const types = new Set<EventType>();
  for (const hook of watch.hooks) for (const t of triggerKind(hook.trigger).eventTypes(hook.trigger)) types.add(t);
  return (["ADD", "UPDATE", "DELETE"] as const).filter((t) => types.has(t));
}

/** The Sensor dependency's Lua filter for a watch: a table of its hooks and one function per kind. */
export function watchFilter(watch: WatchPlan): string {
  return watchFilterScript(watch.hooks.map((hook) => triggerKind(hook.trigger).filterEntry(hook.trigger)));
}

/** The filter for a single trigger, as if its hook were alone on its watch (tests, simulate). */
export function sensorFilterScript(trigger: Trigger): string {
  return watchFilterScript([triggerKind(trigger).filterEntry(trigger)]);
}

// ---- TEMPORARY shim of the TriggerKind contract (helper T replaces this file) ----
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Hook, HookSet, WatchSelector } from "../spec/types.js";
import { objectOf } from "./event.js";
import { eventScope } from "./resource.js";
import { argocdScope } from "./argocd.js";
import { planWatches } from "../generate/eventsource.js";
import { waitForApplicationHealthy } from "../runner/argocd-health.js";

export interface ObjectRef { apiVersion: string; kind: string; namespace?: string; name: string; uid: string; resourceVersion?: string }
export interface HookMemory { fingerprint: string }
export interface EvaluateContext { memory?: HookMemory; hookFirstServedAt?: string }
export interface Evaluation {
  decision: Decision;
  identity: string;
  subject?: ObjectRef;
  fingerprint?: string;
  remember: "set" | "forget" | "keep";
  scope: Record<string, unknown>;
}

export function evaluate(trigger: Trigger, event: ResourceEvent, ctx: EvaluateContext): Evaluation {
  const object = objectOf(event.data.body);
  const oldObject = objectOf(event.data.oldBody) ?? null;
  const meta = object?.metadata;
  const subject: ObjectRef | undefined = meta?.uid && meta.name ? { apiVersion: String(object?.apiVersion ?? ""), kind: String(object?.kind ?? ""), ...(meta.namespace ? { namespace: meta.namespace } : {}), name: meta.name, uid: meta.uid, ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}) } : undefined;
  const identity = meta?.uid && meta.resourceVersion ? `${meta.uid}@${meta.resourceVersion}` : event.context.id;
  if (trigger.kind === "argocd") {
    const argo = decideArgoCD(trigger, event);
    return { decision: argo.decision, identity: argo.identity ?? identity, ...(subject ? { subject } : {}), fingerprint: argo.identity ?? identity, remember: argo.decision.fires ? "set" : "keep", scope: { ...argocdScope(argo), object: object ?? null, oldObject, event: eventScope(event) } };
  }
  const scope = { object: object ?? null, oldObject, event: eventScope(event) };
  const fingerprint = createHash("sha256").update(JSON.stringify(trigger.changed ? trigger.changed.map((p) => JSON.stringify(p.segments)) : [meta?.generation ?? null, object?.spec ?? null, object?.data ?? null])).update(JSON.stringify(trigger.changed ? trigger.changed.map((p) => lookupValue(object, p.segments)) : [])).digest("hex").slice(0, 16);
  if (event.data.type === "DELETE") return { decision: decideResource(trigger, event), identity, ...(subject ? { subject } : {}), remember: "forget", scope };
  if (event.data.type === "ADD") {
    if (ctx.memory) {
      if (ctx.memory.fingerprint === fingerprint) return { decision: { fires: false, reason: "already handled" }, identity, ...(subject ? { subject } : {}), fingerprint, remember: "keep", scope };
      if (trigger.events.includes("update")) return { decision: { fires: true, reason: "changed while the event source was down" }, identity, ...(subject ? { subject } : {}), fingerprint, remember: "set", scope };
    }
    if (trigger.events.includes("add")) return { decision: decideResource(trigger, event), identity, ...(subject ? { subject } : {}), fingerprint, remember: "set", scope };
    return { decision: { fires: false, reason: "baseline recorded" }, identity, ...(subject ? { subject } : {}), fingerprint, remember: "set", scope };
  }
  const decision = decideResource(trigger, event);
  if (decision.fires && ctx.memory?.fingerprint === fingerprint) return { decision: { fires: false, reason: "already handled" }, identity, ...(subject ? { subject } : {}), fingerprint, remember: "keep", scope };
  return { decision, identity, ...(subject ? { subject } : {}), fingerprint, remember: decision.fires ? "set" : "keep", scope };
}

function lookupValue(object: unknown, segments: readonly (string | number)[]): unknown {
  let v: unknown = object;
  for (const s of segments) v = v && typeof v === "object" ? (v as Record<string | number, unknown>)[s] : undefined;
  return v ?? null;
}

export function watchesOf(hookSet: HookSet): Map<string, { selector: WatchSelector; hooks: Hook[] }> {
  const out = new Map<string, { selector: WatchSelector; hooks: Hook[] }>();
  for (const watch of planWatches(hookSet).values()) out.set(watch.eventName, { selector: watch.selector, hooks: hookSet.hooks.filter((h) => watch.hooks.includes(h.name)) });
  return out;
}

export async function beforeSteps(trigger: Trigger, scope: Record<string, unknown>, ctx: { kubeConfig?: KubeConfig; signal: AbortSignal; logger: Logger; timeoutMs: number }, hook?: Hook): Promise<void> {
  if (trigger.kind !== "argocd" || !trigger.healthy || !hook) return;
  await waitForApplicationHealthy(ctx.kubeConfig, scope.application as never, scope.operation as never, hook, ctx.signal, ctx.logger);
}
