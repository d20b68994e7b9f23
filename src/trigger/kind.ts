// The contract every trigger kind fulfils (like StepType for steps): how hooks.yaml spells it, how
// an event is evaluated for one hook, what the kind's watch needs from the event source, what the
// Sensor's filter may drop, work before the steps, and how explain describes it. The hookset
// loader, the runner, simulate, explain and the generator reach the kinds only through this
// interface and the registry (registry.ts), so a kind is one folder and one registry line.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { JsonSchema } from "../model/json-schema.js";
import type { CompiledExpression } from "../expr/cel.js";
import type { TriggerDocument, WatchSelector } from "../hookset/types.js";
import type { PermissionNeed } from "../steps/types.js";
import type { Decision, ResourceEvent } from "./event.js";
import type { Trigger } from "./registry.js";

/** What every trigger has, whatever its kind: the watch it is evaluated on and an optional `when`. */
export interface TriggerBase {
  kind: string;
  watch: WatchSelector;
  when?: CompiledExpression;
}

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
  /** The resourceVersion of the object state that fingerprint is of, when known. */
  resourceVersion?: string | undefined;
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
   * identity): unique per change the kind fires for (each kind says how it is made).
   */
  identity: string;
  /** The object the run is about; absent when the event carries none. */
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

/** The kind's function in its watches' Lua filter (lua.ts). */
export interface LuaFilter {
  /** The Lua name the source defines; rows of this kind name it. */
  name: string;
  /**
   * `local function <name>(h, t, obj, old)`: true when the event (type t, object obj, old object
   * old) may matter to the hook whose row is h. It may use lua.ts's helpers (get, eq, object,
   * prefixed, selects); a script holds those its code calls.
   */
  source: string;
  /**
   * The source for a script whose rows of this kind are `rows` (their filterRow data), without
   * what none of them needs: the Sensor compiles the whole script for every event. Without it,
   * `source`.
   */
  sourceFor?(rows: ReadonlyArray<Record<string, unknown>>): string;
}

/** One part of what a hook selects, against an object (explain shows them; evaluate() decides). */
export interface SelectorPart {
  part: string;
  wants: string;
  actual: string;
  matches: boolean;
}

/** A position in hooks.yaml: keys and list indexes from the document root. */
export type SpecPath = Array<string | number>;

/** Where a kind reports problems in hooks.yaml: at file:line:column. */
export interface TriggerCheckContext {
  /** The path of the hook's `on`. */
  at: SpecPath;
  report(path: SpecPath, message: string, key?: string): void;
}

/** What building a trigger from hooks.yaml may use. */
export interface TriggerBuildContext extends TriggerCheckContext {
  /** Compiles `when` (reported at on.when on error); undefined when absent or invalid. */
  when(): CompiledExpression | undefined;
}

/**
 * T: the trigger the kind builds; D: the hook's `on` as the kind's schema lets it be written
 * (with the kind's key present).
 */
export interface TriggerKind<T extends TriggerBase = Trigger, D extends TriggerDocument = TriggerDocument> {
  readonly kind: T["kind"];
  /** The JSON Schema of the fields under `on` this kind owns; its first key names the kind in hooks.yaml. */
  readonly schema: Record<string, JsonSchema>;
  /**
   * Reports what the schema accepts in the kind's fields but can never work. It runs whenever the
   * kind's key is given, also when the hook gives two kinds and no trigger is built.
   */
  check?(on: D, ctx: TriggerCheckContext): void;
  /** Builds the trigger from the hook's `on` (already schema-valid), reporting what the schema cannot express. */
  build(on: D, ctx: TriggerBuildContext): T | undefined;
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
  /** The function that evaluates this kind's rows in the Sensor's Lua filter. */
  readonly luaFilter: LuaFilter;
  /** This hook's row in its watch's Lua filter table (`h` in luaFilter): plain data. */
  filterRow(trigger: T): Record<string, unknown>;
  /** Optional work before the steps: resolves, or throws an Error saying why. */
  beforeSteps?(trigger: T, scope: Record<string, unknown>, ctx: BeforeStepsContext): Promise<void>;
  /** How long beforeSteps may take, added to the run's budget when the hook sets no timeout (0: no work). */
  beforeStepsBudgetMs?(trigger: T): number;
  /** explain: the parts of the selection beyond the watch's namespace and labels, against the object's metadata. */
  selectorParts(trigger: T, metadata: Record<string, unknown>): SelectorPart[];
  /** explain: what fires the hook, after its watch: "events update, changed spec.replicas". */
  describe(trigger: T): string;
}
