// `resource-hooks simulate`: which hooks an old/new object pair would fire and why not the
// others, with each step's config rendered — through the same evaluate() the runner uses. It
// simulates a hook that remembers nothing about the object: an UPDATE is judged on the change
// itself, an ADD as a creation.
import { ExpressionError } from "./expr/cel.js";
import { renderValue } from "./expr/template.js";
import { kindToResource, splitApiVersion } from "./k8s/names.js";
import type { HookSet } from "./spec/types.js";
import type { KubeObject, ResourceEvent } from "./trigger/event.js";
import { evaluate } from "./trigger/index.js";

export interface SimulatedStep {
  name: string;
  type: string;
  /** Whether the step's `if` holds; null when it reads outputs of earlier steps. */
  runs: boolean | null;
  config: unknown;
  note?: string;
}

export interface Simulation {
  hook: string;
  fires: boolean;
  reason: string;
  steps: SimulatedStep[];
}

export interface SimulationInput {
  type: "ADD" | "UPDATE" | "DELETE";
  object: KubeObject;
  oldObject?: KubeObject | null;
  time?: string;
}

/** The event Argo Events' resource event source would emit for this change of this object. */
export function eventFor(input: SimulationInput, id = "simulated"): ResourceEvent {
  const { group, version } = splitApiVersion(input.object.apiVersion ?? "");
  return {
    context: { id, source: "simulate", subject: "simulate", type: "resource", time: input.time ?? new Date().toISOString() },
    data: {
      type: input.type,
      body: input.object,
      oldBody: input.type === "UPDATE" ? (input.oldObject ?? null) : null,
      group,
      version,
      resource: kindToResource(group, input.object.kind ?? ""),
    },
  };
}

export function simulate(hookSet: HookSet, input: SimulationInput): Simulation[] {
  const event = eventFor(input);
  return hookSet.hooks.map((hook) => {
    const { decision, scope } = evaluate(hook.trigger, event, {});
    const steps: SimulatedStep[] = hook.steps.map((step) => {
      const stepScope = { ...scope, steps: {} };
      let runs: boolean | null = true;
      let note: string | undefined;
      if (step.if) {
        if (step.if.stepReferences.size > 0) {
          runs = null;
          note = "if reads outputs of earlier steps";
        } else {
          try {
            runs = step.if.evaluate(stepScope) === true;
          } catch (err) {
            runs = null;
            note = `if could not be evaluated: ${(err as Error).message}`;
          }
        }
      }
      let config: unknown;
      try {
        config = renderValue(step.config, stepScope);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        config = step.config;
        note = `${note ? `${note}; ` : ""}templates not rendered: ${err.message}`;
      }
      return { name: step.name, type: step.type, runs, config, ...(note ? { note } : {}) };
    });
    return { hook: hook.name, fires: decision.fires, reason: decision.reason, steps };
  });
}
