// The hooks.yaml document as written (HookSet*) and as the rest of the program uses it after
// loading (Hook, Trigger, StepSpec): defaults applied, expressions compiled, paths parsed.
import type { CompiledExpression } from "../expr/cel.js";
import type { Trigger } from "../trigger/registry.js";

import { API_VERSION } from "../model/constants.js";
export { API_VERSION };
export const KIND = "HookSet";

export interface SecretKeySelector {
  name: string;
  key: string;
}

export interface RunnerSettings {
  url: string;
  /** Secret holding the bearer token the Sensors send and the runner checks. */
  tokenSecret: SecretKeySelector;
  image: string;
  replicas: number;
  /** Where runs (HookRuns) live: memory (one replica, local use) or kubernetes HookRun objects (shared). */
  store: "memory" | "kubernetes";
  /** Finished HookRuns are deleted after ttlMs, and beyond the newest keepPerHook per hook. */
  retention: { ttlMs: number; keepPerHook: number };
}

/** How runs of one hook for the same object relate (issue 8 §3). */
export type Concurrency = "queue" | "replace" | "parallel";

export interface HookSetDocument {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    runner?: Partial<Omit<RunnerSettings, "retention">> & { retention?: { ttl?: string; keepPerHook?: number } };
    eventBusName?: string;
    serviceAccountName?: string;
    limits?: { celCost?: number };
    hooks: HookDocument[];
  };
}

export interface HookDocument {
  name: string;
  description?: string;
  timeout?: string;
  concurrency?: Concurrency;
  deadline?: string;
  on: TriggerDocument;
  steps: StepDocument[];
}

/** A hook's `on`: `when`, and the fields of one trigger kind (its schema owns them, src/trigger/<kind>). */
export type TriggerDocument = { when?: string; [field: string]: unknown };

export interface StepDocument {
  name: string;
  if?: string;
  timeout?: string;
  retries?: number;
  [type: string]: unknown;
}

/** The watch a hook needs; hooks with equal keys share one EventSource entry. */
export interface WatchSelector {
  group: string;
  version: string;
  resource: string;
  /** "" watches all namespaces. */
  namespace: string;
  labels: Record<string, string>;
}

/** The union of every registered kind's trigger (src/trigger/registry.ts). */
export type { Trigger };

export interface StepSpec {
  name: string;
  type: string;
  config: unknown;
  if?: CompiledExpression;
  timeoutMs: number;
  retries: number;
}

export interface Hook {
  name: string;
  description?: string;
  trigger: Trigger;
  steps: StepSpec[];
  /**
   * Upper bound of one run: given, or every step's attempts, timeouts and backoff, plus the
   * trigger's beforeSteps budget.
   */
  timeoutMs: number;
  /** queue (default): one run per object at a time, in order; replace: a newer change supersedes; parallel. */
  concurrency: Concurrency;
  /** How long after acceptance the runner keeps retrying a run before it ends Failed. */
  deadlineMs: number;
}

export interface HookSet {
  name: string;
  namespace: string;
  runner: RunnerSettings;
  eventBusName: string;
  /** The tenant's ServiceAccount the EventSource runs as; unset: generate makes <name>-eventsource. */
  serviceAccountName?: string;
  hooks: Hook[];
  /** CEL cost limit per evaluation of a `when`, `if` or template. */
  celCostLimit: number;
  /** The document as written, for the runner's ConfigMap. */
  source: string;
}
