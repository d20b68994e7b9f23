// `resource-hooks simulate`: which hooks an old/new object pair would fire and why not the
// others, with each step's config rendered — through the same evaluate() the runner uses. It
// simulates a hook that remembers nothing about the object: an UPDATE is judged on the change
// itself, an ADD as a creation.
import { evaluateCondition, ExpressionError, setOwn, type EvaluationOptions } from "./expr/cel.js";
import {
  encodePathSegment,
  encodeReserved,
  encodeUriComponentStrict,
  parseTemplate,
  renderString,
  renderUrl,
  urlComponentAt,
  type TemplatePart,
} from "./expr/template.js";
import { kindToResource, splitApiVersion } from "./k8s/kinds.js";
import type { HookSet } from "./hookset/types.js";
import { stepTypeByName } from "./steps/registry.js";
import type { UrlField } from "./steps/types.js";
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
    context: {
      id,
      source: "simulate",
      subject: "simulate",
      type: "resource",
      time: input.time ?? new Date().toISOString(),
    },
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

/** What simulate says about a placeholder that reads an earlier step's output. */
export const EARLIER_STEP_OUTPUT = "output of an earlier step, known only when it runs";

interface Rendering {
  /** The step type's URL fields: rendered as ctx.renderUrl renders them. */
  urlFields: Readonly<Record<string, UrlField>>;
  scope: Record<string, unknown>;
  options: EvaluationOptions;
  /** Placeholders left as written because they read outputs of earlier steps. */
  laterKnown: Set<string>;
}

function isUrlField(fields: Rendering["urlFields"], path: readonly (string | number)[]): boolean {
  const name = String(path[0]);
  const shape = Object.hasOwn(fields, name) ? fields[name] : undefined;
  if (path.length === 1) return shape === "url";
  return path.length === 2 && typeof path[1] === "number" && shape === "urlList";
}

/**
 * Renders a step's config as the runner would, except placeholders reading `steps.…`: the steps
 * have not run, so those stay as written (a string that is only such a placeholder stays whole).
 */
function renderConfig(value: unknown, rendering: Rendering, path: (string | number)[] = []): unknown {
  if (typeof value === "string") return renderField(value, isUrlField(rendering.urlFields, path), rendering);
  if (Array.isArray(value)) return value.map((item, i) => renderConfig(item, rendering, [...path, i]));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) setOwn(out, key, renderConfig(child, rendering, [...path, key]));
    return out;
  }
  return value;
}

function renderField(source: string, url: boolean, rendering: Rendering): unknown {
  if (!source.includes("{{")) return source;
  const { scope, options } = rendering;
  const template = parseTemplate(source);
  const later = template.parts.filter(
    (part): part is Extract<TemplatePart, { expr: unknown }> => "expr" in part && part.expr.stepReferences.size > 0,
  );
  if (later.length === 0) return url ? renderUrl(source, scope, options) : renderString(source, scope, options);
  for (const part of later) rendering.laterKnown.add(`{{ ${part.expr.source} }}`);
  // Render the others one by one and keep the step placeholders as written. For a URL, each value
  // is encoded for the component it lands in, judged on the URL without the step placeholders.
  let out = "";
  let shadow = "";
  for (const part of template.parts) {
    if ("text" in part) {
      out += part.text;
      shadow += part.text;
    } else if (part.expr.stepReferences.size > 0) {
      out += `{{${part.raw ? "+" : ""} ${part.expr.source} }}`;
      shadow += "x";
    } else {
      const text = asText(part.expr.evaluate(scope, options));
      const encoded = url ? encodeForUrl(text, part.raw === true, shadow) : text;
      out += encoded;
      shadow += encoded;
    }
  }
  return out;
}

/** A value for the URL so far (`before`): as it is when raw ({{+ }}), else encoded for its component. */
function encodeForUrl(text: string, raw: boolean, before: string): string {
  if (raw) return encodeReserved(text);
  return urlComponentAt(before) === "path" ? encodePathSegment(text) : encodeUriComponentStrict(text);
}

/** A placeholder's value inside text, as the template engine interpolates it. */
function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function simulate(hookSet: HookSet, input: SimulationInput): Simulation[] {
  const event = eventFor(input);
  const options: EvaluationOptions = { costLimit: hookSet.celCostLimit };
  return hookSet.hooks.map((hook) => {
    const { decision, scope } = evaluate(hook.trigger, event, {});
    const steps: SimulatedStep[] = hook.steps.map((step) => {
      const stepScope = { ...scope, steps: {} };
      let runs: boolean | null = true;
      const notes: string[] = [];
      if (step.if) {
        if (step.if.stepReferences.size > 0) {
          runs = null;
          notes.push(`if reads the ${EARLIER_STEP_OUTPUT}`);
        } else {
          try {
            runs = evaluateCondition(step.if, stepScope, options);
          } catch (err) {
            runs = null;
            notes.push(`if could not be evaluated: ${(err as Error).message}`);
          }
        }
      }
      let config: unknown;
      const urlFields = stepTypeByName(step.type)?.urlFields ?? {};
      const rendering: Rendering = { urlFields, scope: stepScope, options, laterKnown: new Set() };
      try {
        config = renderConfig(step.config, rendering);
        if (rendering.laterKnown.size > 0)
          notes.push(`${[...rendering.laterKnown].join(", ")}: ${EARLIER_STEP_OUTPUT}`);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        config = step.config;
        notes.push(`templates not rendered: ${err.message}`);
      }
      return { name: step.name, type: step.type, runs, config, ...(notes.length ? { note: notes.join("; ") } : {}) };
    });
    return { hook: hook.name, fires: decision.fires, reason: decision.reason, steps };
  });
}
