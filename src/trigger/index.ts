// Trigger semantics for every trigger kind behind one interface (kind.ts) and a registry: the
// runner calls evaluate() and beforeSteps(), simulate calls evaluate()/decide(), the generator
// reads watchesOf(), eventTypesOf() and watchFilterScript().
import type { Trigger } from "../hookset/types.js";
import type { Decision, ResourceEvent } from "./event.js";
import type { BeforeStepsContext, EvaluateContext, Evaluation, EventType } from "./kind.js";
import { watchFilterScript } from "./lua.js";
import { triggerKind, triggerKinds } from "./registry.js";
import type { WatchPlan } from "./watch.js";

export type { Decision, KubeObject, ResourceEvent, ResourceEventData, EventContext, SkipReasonCode } from "./event.js";
export { MAX_VALUE_DEPTH, objectOf, SKIP_REASON_CODES } from "./event.js";
export type {
  BeforeStepsContext,
  EvaluateContext,
  Evaluation,
  EventType,
  HookMemory,
  LuaFilterEntry,
  ObjectRef,
  Remember,
  TriggerKind,
} from "./kind.js";
export { triggerKind, triggerKinds } from "./registry.js";
export { watchEventName, watchKey, watchesOf, type WatchPlan } from "./watch.js";
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
export async function beforeSteps(
  trigger: Trigger,
  scope: Record<string, unknown>,
  ctx: BeforeStepsContext,
): Promise<void> {
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
