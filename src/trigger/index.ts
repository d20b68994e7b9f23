// Trigger semantics for every trigger kind behind one interface (kind.ts) and a registry: the
// hookset loader builds triggers, the runner calls evaluate() and beforeSteps(), simulate and
// explain call evaluate(), the generator reads watchesOf(), eventTypesOf() and watchFilter().
import type { Trigger } from "../hookset/types.js";
import { compareResourceVersions } from "../model/resource-version.js";
import type { Decision, ResourceEvent } from "./event.js";
import type { BeforeStepsContext, EvaluateContext, Evaluation, EventType } from "./kind.js";
import { watchFilterScript, type FilterShard, type LuaFilterEntry } from "./lua.js";
import { triggerKind, triggerKinds } from "./registry.js";
import { asSelectedBy } from "./selection.js";
import { labelsWithin, type WatchPlan } from "./watch.js";

export type { Decision, KubeObject, ResourceEvent, ResourceEventData, EventContext, SkipReasonCode } from "./event.js";
export { MAX_VALUE_DEPTH, objectOf, SKIP_REASON_CODES } from "./event.js";
export type {
  BeforeStepsContext,
  EvaluateContext,
  Evaluation,
  EventType,
  HookMemory,
  ObjectRef,
  Remember,
  SelectorPart,
  TriggerKind,
} from "./kind.js";
export type { FilterShard, LuaFilterEntry } from "./lua.js";
export { triggerKind, triggerKinds } from "./registry.js";
export {
  changesShards,
  resyncs,
  streamsOf,
  watchEventName,
  watchKey,
  watchesOf,
  watchNameOf,
  type Stream,
  type WatchPlan,
} from "./watch.js";

/** Evaluates one hook's trigger for one event. Never throws. */
export function evaluate(trigger: Trigger, event: ResourceEvent, ctx: EvaluateContext = {}): Evaluation {
  const evaluation = triggerKind(trigger).evaluate(trigger, asSelectedBy(trigger, event), ctx);
  return olderThanHandled(evaluation, ctx) ?? evaluation;
}

/**
 * An object state older than the one the hook already handled changes nothing, whatever the kind
 * would decide. A watch's UPDATEs also come on a stream of their own that no replay holds back
 * (generate/eventsource.ts), so the replay's ADD of an object may arrive after a newer UPDATE was
 * handled; acting on it would run the hook again for a state already replaced. A deletion is never
 * older: the memory's forget itself keeps entries newer than the deletion.
 */
function olderThanHandled(evaluation: Evaluation, ctx: EvaluateContext): Evaluation | undefined {
  const handled = ctx.memory?.resourceVersion;
  const state = evaluation.subject?.resourceVersion;
  if (evaluation.remember === "forget" || !((compareResourceVersions(state, handled) ?? 0) < 0)) return undefined;
  const { decision: _decision, fingerprint: _fingerprint, ...rest } = evaluation;
  const reason =
    `${evaluation.subject?.name ?? "the object"} at resourceVersion ${String(state)} is older than the state ` +
    `the hook already handled (resourceVersion ${String(handled)}): delivered after a newer change`;
  return { ...rest, remember: "keep", decision: { fires: false, reason, code: "already_handled" } };
}

/** evaluate(...).decision, for simulate and tests. */
export function decide(trigger: Trigger, event: ResourceEvent, ctx: EvaluateContext = {}): Decision {
  return evaluate(trigger, event, ctx).decision;
}

/** Runs the kind's work before the steps; a no-op for kinds without. */
export async function beforeSteps(
  trigger: Trigger,
  scope: Record<string, unknown>,
  ctx: BeforeStepsContext,
): Promise<void> {
  const kind = triggerKind(trigger);
  if (kind.beforeSteps) await kind.beforeSteps(trigger, scope, ctx);
}

/** How long the kind's work before the steps may take, for the run's budget (0: none). */
export function beforeStepsBudgetMs(trigger: Trigger): number {
  return triggerKind(trigger).beforeStepsBudgetMs?.(trigger) ?? 0;
}

/**
 * Variables `when`, `if` and templates may read in a hook with this trigger; without one (the
 * hook names no kind, or two), those every kind offers.
 */
export function triggerVariables(trigger: Trigger | undefined): readonly string[] {
  if (trigger) return triggerKind(trigger).variables;
  const [first, ...others] = Object.values(triggerKinds).map((k) => k.variables);
  return (first ?? []).filter((v) => others.every((vars) => vars.includes(v)));
}

/** Whether the hook selects by labels its watch's selector does not have (a broader watch: watchesOf). */
function selectsWithin(watch: WatchPlan, trigger: Trigger): boolean {
  return !labelsWithin(trigger.watch.labels, watch.selector.labels);
}

/**
 * The event types a watch must deliver: the union over its hooks, and UPDATEs when a hook selects
 * by labels of its own (gaining or losing them is an UPDATE of the watch).
 */
export function eventTypesOf(watch: WatchPlan): EventType[] {
  const types = new Set<EventType>();
  for (const hook of watch.hooks) {
    for (const t of triggerKind(hook.trigger).eventTypes(hook.trigger)) types.add(t);
    if (selectsWithin(watch, hook.trigger)) types.add("UPDATE");
  }
  return (["ADD", "UPDATE", "DELETE"] as const).filter((t) => types.has(t));
}

function filterEntry(trigger: Trigger): LuaFilterEntry {
  const kind = triggerKind(trigger);
  return { filter: kind.luaFilter, data: kind.filterRow(trigger) };
}

/**
 * The Sensor dependency's Lua filter for a watch: a table of its hooks and one function per kind;
 * with the label transitions (selection.ts) when a hook selects by labels the watch does not; for
 * one shard of a stream (changesShards), only that shard's objects.
 */
export function watchFilter(watch: WatchPlan, shard?: FilterShard): string {
  const transitions = watch.hooks.some((hook) => selectsWithin(watch, hook.trigger));
  return watchFilterScript(
    watch.hooks.map((hook) => filterEntry(hook.trigger)),
    { transitions, ...(shard ? { shard } : {}) },
  );
}

/** The filter for a single trigger, as if its hook were alone on its watch (tests, simulate). */
export function sensorFilterScript(trigger: Trigger): string {
  return watchFilterScript([filterEntry(trigger)]);
}
