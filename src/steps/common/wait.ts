// What a wait waits for, shared by the kubernetes step (wait:) and the waitFor step: its schema,
// the checks `validate` runs on it, and how an object stands against it.
import { compileExpression, evaluateCondition, ExpressionError, type CompiledExpression } from "../../expr/cel.js";
import type { KubeObject } from "../../k8s/types.js";
import { completionStatus, conditionStatus, ROLLOUT_KINDS, rolloutStatus, type Readiness } from "../../k8s/status.js";
import type { JsonSchema } from "../../model/json-schema.js";
import type { StepProblem } from "../types.js";
import { durationSchema } from "./schema.js";

export type WaitCondition =
  | "complete"
  | "rollout"
  | "deleted"
  | { condition: { type: string; status?: "True" | "False" | "Unknown" } }
  | { expression: string };

export const waitConditionSchema: JsonSchema = {
  description:
    "What to wait for: complete (Job-style Complete condition; Failed fails the step), rollout " +
    "(Deployment, StatefulSet or DaemonSet fully rolled out), deleted (the object is gone), " +
    "{condition: {type, status}} or {expression: CEL over object}.",
  oneOf: [
    {
      type: "string",
      enum: ["complete", "rollout", "deleted"],
      description:
        "complete: condition Complete=True (Failed=True fails the step). rollout: every replica " +
        "updated and available. deleted: the object no longer exists.",
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["condition"],
      properties: {
        condition: {
          type: "object",
          additionalProperties: false,
          required: ["type"],
          description: "Wait until status.conditions has this type with this status.",
          properties: {
            type: { type: "string", minLength: 1, description: "Condition type, e.g. Ready, Available." },
            status: {
              type: "string",
              enum: ["True", "False", "Unknown"],
              default: "True",
              description: "Condition status to wait for (default True).",
            },
          },
        },
      },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["expression"],
      properties: {
        expression: {
          type: "string",
          minLength: 1,
          description:
            "CEL condition over `object` (the current object), e.g. object.status.phase == " +
            "'Succeeded'. Evaluation errors (a field not set yet) mean: keep waiting.",
        },
      },
    },
  ],
};

export const waitTimeoutSchema = durationSchema(
  "How long to wait before failing (retryable). Default: until the step's timeout.",
);

/** Problems of a wait the schema cannot see; `kind` is the literal kind when known. */
export function checkWait(condition: unknown, kind: string | undefined, path: (string | number)[]): StepProblem[] {
  const problems: StepProblem[] = [];
  if (condition === "rollout" && kind !== undefined && !(ROLLOUT_KINDS as readonly string[]).includes(kind)) {
    problems.push({ path, message: `rollout is defined for ${ROLLOUT_KINDS.join(", ")}, not ${kind}` });
  }
  if (condition && typeof condition === "object" && "expression" in condition) {
    const source = (condition as { expression: unknown }).expression;
    if (typeof source === "string") {
      try {
        const compiled = compileExpression(source);
        const unknown = [...compiled.variables].filter((v) => v !== "object");
        if (unknown.length) {
          problems.push({
            path: [...path, "expression"],
            message: `unknown variable ${unknown.join(", ")}: a wait expression reads only \`object\``,
          });
        }
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        problems.push({ path: [...path, "expression"], message: `invalid CEL: ${err.message}` });
      }
    }
  }
  return problems;
}

export function describeWait(condition: WaitCondition): string {
  if (typeof condition === "string") {
    return { complete: "complete", rollout: "roll out", deleted: "be deleted" }[condition];
  }
  if ("condition" in condition) return `have ${condition.condition.type}=${condition.condition.status ?? "True"}`;
  return `satisfy ${condition.expression}`;
}

/** Evaluates a wait condition against the object (undefined: it does not exist). */
export function evaluateWait(
  condition: WaitCondition,
  object: KubeObject | undefined,
  compiled?: CompiledExpression,
): Readiness {
  if (condition === "deleted") {
    if (!object) return { state: "ready", message: "deleted" };
    return { state: "waiting", message: object.metadata?.["deletionTimestamp"] ? "being deleted" : "still exists" };
  }
  if (!object) return { state: "waiting", message: "does not exist" };
  if (condition === "complete") return completionStatus(object);
  if (condition === "rollout") return rolloutStatus(object);
  if ("condition" in condition)
    return conditionStatus(object, condition.condition.type, condition.condition.status ?? "True");
  const expr = compiled ?? compileExpression(condition.expression);
  try {
    return evaluateCondition(expr, { object })
      ? { state: "ready", message: `${condition.expression} is true` }
      : { state: "waiting", message: `${condition.expression} is false` };
  } catch (err) {
    if (err instanceof ExpressionError) return { state: "waiting", message: `${condition.expression}: ${err.message}` };
    throw err;
  }
}
