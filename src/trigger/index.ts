// Trigger semantics for every trigger kind, behind two functions: decide() for the runner and
// simulate, sensorFilterScript() for the generator.
import type { Trigger } from "../spec/types.js";
import { decideArgoCD, argocdSensorScript } from "./argocd.js";
import type { Decision, ResourceEvent } from "./event.js";
import { decideResource, sensorScript } from "./resource.js";

export type { Decision, ResourceEvent } from "./event.js";

export function decide(trigger: Trigger, event: ResourceEvent): Decision {
  return trigger.kind === "resource" ? decideResource(trigger, event) : decideArgoCD(trigger, event).decision;
}

export function sensorFilterScript(trigger: Trigger): string {
  return trigger.kind === "resource" ? sensorScript(trigger) : argocdSensorScript(trigger);
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
