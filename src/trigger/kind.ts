// The contract every trigger kind fulfils (like StepType for steps): how an event is evaluated
// for one hook, what the kind's watch needs from the event source, what the Sensor's filter
// may drop, and optional work before the steps. The runner, simulate and the generator reach
// the kinds only through this interface and the registry (registry.ts).
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { CompiledExpression } from "../expr/cel.js";
import type { HookDocument, Trigger } from "../hookset/types.js";
import type { PermissionNeed } from "../steps/types.js";
import type { Decision, ResourceEvent } from "./event.js";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid: string;
  resourceVersion?: string;
}

/** What a hook last handled for one object. */
export interface HookMemory {
  fingerprint: string;
}

export interface EvaluateContext {
  /** Remembered for (hook, subject uid); undefined: never seen. */
  memory?: HookMemory;
  /**
   * RFC3339 time the runner first served this hook. `add` hooks fire only for objects created at
   * or after it; undefined (simulate, tests) counts every first ADD as a creation.
   */
  hookFirstServedAt?: string;
}

export type Remember = "set" | "forget" | "keep";

export interface Evaluation {
  /** Fires or not, and why, in the words simulate prints. */
  decision: Decision;
  /**
   * Identity of the change; run names and step idempotency keys derive from (hookSet, hook,
   * identity). Resource kinds: `${uid}@${resourceVersion}` (the event id when either is missing);
   * argocd: the operation's identity, unique per operation.
   */
  identity: string;
  /** The object the run is about (the Application for argocd); absent when the event carries none. */
  subject?: ObjectRef;
  /** Short hash of what matters to this hook in the new state (see each kind). */
  fingerprint?: string;
  /** set: store `fingerprint`; forget: the object is gone; keep: leave the memory as it is. */
  remember: Remember;
  /** JSON-serialisable variables for if/when/templates: object, oldObject, event (+ the kind's own). */
  scope: Record<string, unknown>;
}

export type EventType = "ADD" | "UPDATE" | "DELETE";

export interface BeforeStepsContext {
  kubeConfig?: KubeConfig;
  signal: AbortSignal;
  logger: Logger;
  /** How long the work may take before it fails. */
  timeoutMs: number;
}

/** One hook's entry in the data-driven Lua filter of its watch (see lua.ts). */
export interface LuaFilterEntry {
  /** The Lua function (by name, from lua.ts) that evaluates this entry. */
  fn: "resource" | "argocd";
  /** Plain data: strings, booleans, numbers, lists and maps of them. */
  data: Record<string, unknown>;
}

/** A position in hooks.yaml: keys and list indexes from the document root. */
export type SpecPath = Array<string | number>;

/** What building a trigger from hooks.yaml may use: problems are reported at file:line:column. */
export interface TriggerBuildContext {
  /** The path of the hook's `on`. */
  at: SpecPath;
  report(path: SpecPath, message: string, key?: string): void;
  /** Compiles `when` (reported at on.when on error); undefined when absent or invalid. */
  when(): CompiledExpression | undefined;
}

export type JsonSchema = { [keyword: string]: unknown };

export interface TriggerKind<T extends Trigger = Trigger> {
  readonly kind: T["kind"];
  /** The JSON Schema of the fields under `on` this kind owns; its first key names the kind in hooks.yaml. */
  readonly schema: Record<string, JsonSchema>;
  /** Builds the trigger from the hook's `on` (already schema-valid), reporting what the schema cannot express. */
  build(on: HookDocument["on"], ctx: TriggerBuildContext): T | undefined;
  /** Variables `when`, `if` and templates may read for hooks of this kind. */
  readonly variables: readonly string[];
  /**
   * TOTAL: never throws, whatever the input (wrong types, deep nesting, nulls); malformed input
   * is a skip whose reason names the field.
   */
  evaluate(trigger: T, event: ResourceEvent, ctx: EvaluateContext): Evaluation;
  /** Event types the watch must deliver for this hook (catch-up needs ADDs, forgetting needs DELETEs). */
  eventTypes(trigger: T): EventType[];
  /** What the runner's ServiceAccount needs for this trigger (besides its steps). */
  permissions(trigger: T): PermissionNeed[];
  /** This hook's row in its watch's Lua filter table. */
  filterEntry(trigger: T): LuaFilterEntry;
  /** Optional work before the steps (argocd `healthy: true`): resolves, or throws an Error saying why. */
  beforeSteps?(trigger: T, scope: Record<string, unknown>, ctx: BeforeStepsContext): Promise<void>;
}
