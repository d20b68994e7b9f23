// `resource-hooks explain`: "why didn't my hook fire?" for one hook and one object, from the
// cluster. It reads the live object and the hook's HookRuns, and decides with the runner's own
// pieces: evaluate() from src/trigger (the reason in the words simulate prints) and RunIndex for
// the memory (the newest run's fingerprint) and the first-served time, as the Acceptor does.
import { eventFor, type SimulationInput } from "../simulate.js";
import type { Hook, HookSet } from "../hookset/types.js";
import {
  HOOKMEMORY_PLURAL,
  HOOKRUN_GROUP,
  HOOKRUN_PLURAL,
  HOOKRUN_VERSION,
  LABEL_HOOK,
  LABEL_HOOKSET,
} from "../model/constants.js";
import { resourcePath } from "../k8s/kinds.js";
import { memoryShardName } from "../model/names.js";
import { decodeEntry, shardOf, type HookMemoryObject, type MemoryEntry } from "../runner/memory/shard.js";
import { isMarker, type HookRun } from "../runner/hookrun.js";
import { RunIndex, type Recalled } from "../runner/run-index.js";
import { compareRuns } from "../runner/run-order.js";
import { MemoryRunStore } from "../runner/store/memory.js";
import {
  evaluate,
  triggerKind,
  watchNameOf,
  type KubeObject,
  type SelectorPart,
  type SkipReasonCode,
} from "../trigger/index.js";

export type { SelectorPart } from "../trigger/index.js";

/** What explain needs from the API server: RestClient's request (src/k8s/rest.ts). */
export interface ApiReader {
  request<T = unknown>(
    method: string,
    path: string,
    options?: { query?: Record<string, string | number | boolean | undefined> },
  ): Promise<T>;
}

export interface ExplainOptions {
  hookSet: HookSet;
  hook: string;
  /** `<namespace>/<name>`, or `<name>` for a cluster-scoped object. */
  object: string;
  api: ApiReader;
  /** Where the runner keeps HookRuns (default: the HookSet's namespace). */
  runnerNamespace?: string;
  /** Decide for this pair instead of the live object against the last handled state. */
  pair?: { oldObject: KubeObject; object: KubeObject };
  /** How many recent runs to list (default 10). */
  recent?: number;
}

export interface RunSummary {
  name: string;
  phase: string;
  acceptedAt: string;
  fingerprint?: string;
  reason?: string;
  message?: string;
  /** Steps that failed, with their errors (already scrubbed of secrets by the runner). */
  failedSteps: Array<{ name: string; error: string }>;
}

export interface Explanation {
  hook: string;
  watches: string;
  /** The API path read for the object. */
  path: string;
  object: {
    apiVersion: string;
    kind: string;
    namespace?: string;
    name: string;
    uid?: string;
    resourceVersion?: string;
  } | null;
  /** Why the object could not be read (not found, forbidden …). */
  objectError?: string;
  selector: SelectorPart[];
  runnerNamespace: string;
  /** Why the HookRuns could not be read. */
  runsError?: string;
  /** Why the hook's memory (its HookMemory shard) could not be read. */
  memoryError?: string;
  firstServedAt?: string;
  /** What the hook last handled for this object (the newest run's fingerprint). */
  lastHandled: { fingerprint: string; run: string; phase: string; acceptedAt: string } | null;
  /** The fingerprint of the state the decision was made for. */
  fingerprint?: string;
  runs: RunSummary[];
  decision: { basis: string; fires: boolean; reason: string; code?: SkipReasonCode } | null;
}

export class ExplainError extends Error {
  override name = "ExplainError";
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

/** The hook's selector, part by part, against the object's metadata (display; evaluate() decides). */
function selectorParts(hook: Hook, metadata: Record<string, unknown>): SelectorPart[] {
  const trigger = hook.trigger;
  const parts: SelectorPart[] = [];
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
  const labels =
    metadata.labels && typeof metadata.labels === "object" ? (metadata.labels as Record<string, unknown>) : {};
  if (trigger.watch.namespace)
    parts.push({
      part: "namespace",
      wants: trigger.watch.namespace,
      actual: namespace || "(none)",
      matches: namespace === trigger.watch.namespace,
    });
  parts.push(...triggerKind(trigger).selectorParts(trigger, metadata));
  for (const [key, value] of Object.entries(trigger.watch.labels)) {
    const actual = labels[key];
    parts.push({
      part: `label ${key}`,
      wants: value,
      actual: typeof actual === "string" ? actual : "(not set)",
      matches: actual === value,
    });
  }
  return parts;
}

function describeWatch(hook: Hook): string {
  const trigger = hook.trigger;
  const w = trigger.watch;
  const gvr = `${w.group ? `${w.group}/` : ""}${w.version}/${w.resource}`;
  const when = trigger.when ? `, when ${trigger.when.source}` : "";
  return `${gvr} in ${w.namespace || "all namespaces"}, ${triggerKind(trigger).describe(trigger)}${when}`;
}

function summarize(run: HookRun): RunSummary {
  return {
    name: run.metadata.name,
    phase: run.status.phase,
    acceptedAt: run.spec.acceptedAt,
    ...(run.spec.fingerprint ? { fingerprint: run.spec.fingerprint } : {}),
    ...(run.status.reason ? { reason: run.status.reason } : {}),
    ...(run.status.message ? { message: run.status.message } : {}),
    failedSteps: (run.status.steps ?? [])
      .filter((s) => s.phase === "Failed")
      .map((s) => ({ name: s.name, error: s.error ?? "" })),
  };
}

/** The hook and the object `--object` names; ExplainError when either is not what it should be. */
function target(options: ExplainOptions): { hook: Hook; namespace: string | undefined; name: string } {
  const { hookSet } = options;
  const hook = hookSet.hooks.find((h) => h.name === options.hook);
  if (!hook)
    throw new ExplainError(
      `no hook "${options.hook}" in HookSet ${hookSet.name} (hooks: ${hookSet.hooks.map((h) => h.name).join(", ")})`,
    );
  const slash = options.object.indexOf("/");
  const namespace = slash >= 0 ? options.object.slice(0, slash) : undefined;
  const name = slash >= 0 ? options.object.slice(slash + 1) : options.object;
  if (!name || name.includes("/") || namespace === "")
    throw new ExplainError(
      `--object ${JSON.stringify(options.object)}: expected <namespace>/<name> (or <name> for a cluster-scoped object)`,
    );
  return { hook, namespace, name };
}

/** Reads the live object into the explanation (or why it could not be read); undefined when it could not. */
async function readObject(
  options: ExplainOptions,
  hook: Hook,
  name: string,
  explanation: Explanation,
): Promise<KubeObject | undefined> {
  const path = explanation.path;
  let live: KubeObject | null;
  try {
    live = await options.api.request<KubeObject | null>("GET", path);
  } catch (err) {
    explanation.objectError =
      statusOf(err) === 404
        ? `not found: no ${hook.trigger.watch.resource} ${options.object} (GET ${path})`
        : errorText(err);
    return undefined;
  }
  // An answer without a body is no object either.
  if (!live) return undefined;
  const metadata = (live.metadata ?? {}) as Record<string, unknown>;
  explanation.object = {
    apiVersion: String(live.apiVersion ?? ""),
    kind: String(live.kind ?? ""),
    ...(typeof metadata.namespace === "string" ? { namespace: metadata.namespace } : {}),
    name: String(metadata.name ?? name),
    ...(typeof metadata.uid === "string" ? { uid: metadata.uid } : {}),
    ...(typeof metadata.resourceVersion === "string" ? { resourceVersion: metadata.resourceVersion } : {}),
  };
  explanation.selector = selectorParts(hook, metadata);
  return live;
}

/**
 * The hook's HookRuns in a store the runner's RunIndex reads (markers and the object's runs), and
 * the object's runs; why they could not be read goes into the explanation.
 */
async function readRuns(
  options: ExplainOptions,
  hook: Hook,
  uid: unknown,
  explanation: Explanation,
): Promise<{ store: MemoryRunStore; objectRuns: HookRun[] }> {
  const store = new MemoryRunStore();
  const ofObject = (run: HookRun) => typeof uid === "string" && run.spec?.object?.uid === uid;
  const namespace = explanation.runnerNamespace;
  try {
    const list = await options.api.request<{ items?: HookRun[] }>(
      "GET",
      `/apis/${HOOKRUN_GROUP}/${HOOKRUN_VERSION}/namespaces/${encodeURIComponent(namespace)}/${HOOKRUN_PLURAL}`,
      {
        query: { labelSelector: `${LABEL_HOOKSET}=${options.hookSet.name},${LABEL_HOOK}=${hook.name}` },
      },
    );
    const items = Array.isArray(list.items) ? list.items : [];
    // Only what the index reads: a marker, or a run of this object.
    for (const run of items) if (isMarker(run) || ofObject(run)) await store.create(run);
    return { store, objectRuns: items.filter((run) => !isMarker(run) && ofObject(run)) };
  } catch (err) {
    explanation.runsError =
      statusOf(err) === 404
        ? `no HookRuns in namespace ${namespace} (is the runner deployed there? --runner-namespace)`
        : errorText(err);
    return { store, objectRuns: [] };
  }
}

/**
 * The hook's memory entry for the object: the one HookMemory shard the runner keeps it in. None
 * (404, or no entry) is no error: the object may be remembered by a run only, or not at all.
 */
async function readMemoryEntry(
  options: ExplainOptions,
  hook: Hook,
  uid: string,
  explanation: Explanation,
): Promise<{ entry?: MemoryEntry; shard: string }> {
  const hookSet = { namespace: options.hookSet.namespace, name: options.hookSet.name };
  const shard = memoryShardName(hookSet, watchNameOf(options.hookSet, hook), shardOf(uid));
  const namespace = encodeURIComponent(explanation.runnerNamespace);
  const path = `/apis/${HOOKRUN_GROUP}/${HOOKRUN_VERSION}/namespaces/${namespace}/${HOOKMEMORY_PLURAL}/${shard}`;
  try {
    const object = await options.api.request<HookMemoryObject>("GET", path);
    const text = object.entries?.[uid]?.[hook.name];
    const entry = typeof text === "string" ? decodeEntry(text) : undefined;
    return { ...(entry ? { entry } : {}), shard };
  } catch (err) {
    if (statusOf(err) !== 404) explanation.memoryError = errorText(err);
    return { shard };
  }
}

/**
 * What the runner recalls for the object — the newer of its memory entry and its newest run
 * (RunIndex.recall) — and when it first served the hook, from the same index the runner builds.
 */
async function recallHandled(
  options: ExplainOptions,
  hook: Hook,
  uid: unknown,
  explanation: Explanation,
): Promise<{ objectRuns: HookRun[]; memory?: Recalled; firstServed?: string }> {
  const { store, objectRuns } = await readRuns(options, hook, uid, explanation);
  const stored = typeof uid === "string" ? await readMemoryEntry(options, hook, uid, explanation) : undefined;
  const entries = {
    recall: (h: string, u: string) => (h === hook.name && u === uid ? stored?.entry : undefined),
    covers: () => false,
  };
  const index = new RunIndex(store, entries);
  const firstServed = index.firstServed(hook.name);
  if (firstServed) explanation.firstServedAt = firstServed;
  const memory = typeof uid === "string" ? index.recall(hook.name, uid) : undefined;
  if (memory) {
    const run = objectRuns.find((r) => r.metadata.name === memory.run);
    explanation.lastHandled = {
      fingerprint: memory.fingerprint,
      run: memory.run ?? `hookmemory/${stored?.shard ?? ""}`,
      phase: run?.status.phase ?? "",
      acceptedAt: run?.spec.acceptedAt ?? memory.acceptedAt,
    };
  }
  return { objectRuns, ...(memory ? { memory } : {}), ...(firstServed ? { firstServed } : {}) };
}

/** The decision, as the runner's Acceptor makes it: evaluate() with the memory and first-served time. */
function addDecision(
  options: ExplainOptions,
  hook: Hook,
  live: KubeObject | undefined,
  handled: { memory?: { fingerprint: string }; firstServed?: string },
  explanation: Explanation,
): void {
  let input: SimulationInput | undefined;
  let basis: string;
  if (options.pair) {
    input = { type: "UPDATE", object: options.pair.object, oldObject: options.pair.oldObject };
    basis = "the given old/new pair (an UPDATE), against what the hook last handled";
  } else {
    input = live ? { type: "ADD", object: live } : undefined;
    basis = "the live object against the last handled state (as the runner judges it when the event source replays it)";
  }
  if (!input) return;
  const evaluation = evaluate(hook.trigger, eventFor(input, "explain"), {
    ...(handled.memory ? { memory: { fingerprint: handled.memory.fingerprint } } : {}),
    ...(handled.firstServed ? { hookFirstServedAt: handled.firstServed } : {}),
  });
  const { decision } = evaluation;
  explanation.decision = {
    basis,
    fires: decision.fires,
    reason: decision.reason,
    ...(decision.fires ? {} : { code: decision.code }),
  };
  if (evaluation.fingerprint) explanation.fingerprint = evaluation.fingerprint;
}

export async function explain(options: ExplainOptions): Promise<Explanation> {
  const { hook, namespace, name } = target(options);
  const explanation: Explanation = {
    hook: hook.name,
    watches: describeWatch(hook),
    path: resourcePath(hook.trigger.watch, namespace, name),
    object: null,
    selector: [],
    runnerNamespace: options.runnerNamespace ?? options.hookSet.namespace,
    lastHandled: null,
    runs: [],
    decision: null,
  };
  const live = await readObject(options, hook, name, explanation);

  // The hook's HookRuns: the same index the runner builds, so memory and first-served match its view.
  const metadata = (live?.metadata ?? {}) as Record<string, unknown>;
  const uid =
    typeof metadata.uid === "string"
      ? metadata.uid
      : (options.pair?.object.metadata as { uid?: unknown } | undefined)?.uid;
  const { objectRuns, memory, firstServed } = await recallHandled(options, hook, uid, explanation);
  explanation.runs = objectRuns
    .sort((a, b) => compareRuns(b, a))
    .slice(0, options.recent ?? 10)
    .map(summarize);
  const handled = { ...(memory ? { memory } : {}), ...(firstServed ? { firstServed } : {}) };
  addDecision(options, hook, live, handled, explanation);
  return explanation;
}

export { formatExplanation } from "./format.js";
