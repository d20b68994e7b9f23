// Waiting for a Kubernetes object, shared by the kubernetes step (wait:) and the waitFor step.
// One GET, then a watch on the object's name (re-established from the last resourceVersion when
// the server ends it, from scratch after 410 Gone); if watching is forbidden it falls back to
// polling with backoff. Honours ctx.signal and its own timeout.
import { compileExpression, evaluateCondition, ExpressionError, type CompiledExpression } from "../../expr/cel.js";
import type { KubeClient } from "../../k8s/client.js";
import { KubeApiError, type KubeObject, type ResourceInfo } from "../../k8s/types.js";
import { completionStatus, conditionStatus, ROLLOUT_KINDS, rolloutStatus, type Readiness } from "../../k8s/status.js";
import { formatDuration, parseDuration } from "../../hookset/duration.js";
import { StepFailure, type JsonSchema, type StepContext, type StepProblem } from "../types.js";
import { setTimeout as sleep } from "node:timers/promises";
import { abortFailure } from "./abort.js";
import { describeTarget, kubeFailure } from "./kube.js";
import { durationSchema } from "./schema.js";

export type WaitCondition =
  | "complete"
  | "rollout"
  | "deleted"
  | { condition: { type: string; status?: "True" | "False" | "Unknown" } }
  | { expression: string };

export interface WaitOptions {
  for: WaitCondition;
  /** Duration; default: until the step's own timeout. */
  timeout?: string;
}

/** Verbs the wait uses on the waited-for resource. */
export const WAIT_VERBS = ["get", "watch"] as const;

const MAX_WATCH_SECONDS = 300;
const POLL_START_MS = 1000;
const POLL_MAX_MS = 10_000;

export const waitConditionSchema: JsonSchema = {
  description:
    "What to wait for: complete (Job-style Complete condition; Failed fails the step), rollout (Deployment, StatefulSet or DaemonSet fully rolled out), deleted (the object is gone), {condition: {type, status}} or {expression: CEL over object}.",
  oneOf: [
    {
      type: "string",
      enum: ["complete", "rollout", "deleted"],
      description:
        "complete: condition Complete=True (Failed=True fails the step). rollout: every replica updated and available. deleted: the object no longer exists.",
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
            "CEL condition over `object` (the current object), e.g. object.status.phase == 'Succeeded'. Evaluation errors (a field not set yet) mean: keep waiting.",
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

export interface WaitTarget {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
}

class WaitTimeout extends Error {
  override name = "WaitTimeout";
}

/**
 * Waits until the condition holds; returns the last object seen (undefined once deleted). A
 * terminal state (Job Failed, ProgressDeadlineExceeded) is a non-retryable StepFailure; running out
 * of time is a retryable one naming the last observed state.
 */
export async function waitForObject(
  ctx: StepContext,
  kube: KubeClient,
  target: WaitTarget,
  options: WaitOptions,
): Promise<KubeObject | undefined> {
  const { info, namespace, name } = target;
  const what = `${describeTarget(info, namespace, name)} to ${describeWait(options.for)}`;
  let compiled: CompiledExpression | undefined;
  if (typeof options.for === "object" && "expression" in options.for) {
    try {
      compiled = compileExpression(options.for.expression);
    } catch (err) {
      throw new StepFailure(`wait expression: ${err instanceof Error ? err.message : String(err)}`, {
        retryable: false,
      });
    }
  }
  const timeoutMs = options.timeout !== undefined ? parseDuration(options.timeout) : undefined;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) throw abortFailure(ctx.signal, `waiting for ${what}`);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
  const timer =
    timeoutMs !== undefined
      ? setTimeout(() => controller.abort(new WaitTimeout(`timed out after ${formatDuration(timeoutMs)}`)), timeoutMs)
      : undefined;
  const signal = controller.signal;
  let last: Readiness = { state: "waiting", message: "not read yet" };
  let object: KubeObject | undefined;

  const settled = (current: KubeObject | undefined): boolean => {
    object = current;
    last = evaluateWait(options.for, current, compiled);
    if (last.state === "failed") throw new StepFailure(last.message, { retryable: false });
    return last.state === "ready";
  };
  const read = async (): Promise<KubeObject | undefined> => {
    try {
      return await kube.get(info, namespace, name, signal);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  };

  ctx.logger.debug({ wait: what }, "waiting");
  try {
    if (settled(await read())) return object;
    let watching = true;
    let resourceVersion = object?.metadata?.resourceVersion;
    let delay = POLL_START_MS;
    for (;;) {
      if (watching) {
        const started = Date.now();
        try {
          const remaining = deadline !== undefined ? Math.ceil((deadline - Date.now()) / 1000) : MAX_WATCH_SECONDS;
          const events = kube.watchObject(
            info,
            namespace,
            name,
            { resourceVersion, timeoutSeconds: Math.min(remaining, MAX_WATCH_SECONDS) },
            signal,
          );
          for await (const event of events) {
            if (event.type === "ERROR") {
              const code = (event.object as { code?: number }).code;
              if (code === 410) {
                resourceVersion = undefined;
                break;
              }
              throw new KubeApiError(
                String((event.object as { message?: string }).message ?? "watch error"),
                code ?? 500,
                "WatchError",
              );
            }
            resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
            if (event.type === "BOOKMARK") continue;
            if (settled(event.type === "DELETED" ? undefined : event.object)) return object;
          }
          delay = POLL_START_MS;
          // A watch the server ends at once (no events) must not turn into a busy loop.
          if (Date.now() - started < 1000) await sleep(1000, undefined, { signal });
        } catch (err) {
          if (signal.aborted || err instanceof StepFailure) throw err;
          if (err instanceof KubeApiError && (err.status === 403 || err.status === 405)) {
            ctx.logger.debug({ wait: what }, "watch not allowed, polling instead");
            watching = false;
          } else if (err instanceof KubeApiError && err.status === 410) {
            resourceVersion = undefined;
          } else if (kubeFailure(err, "watch").retryable) {
            await sleep(delay, undefined, { signal });
            delay = Math.min(delay * 2, POLL_MAX_MS);
            if (settled(await read())) return object;
            resourceVersion = object?.metadata?.resourceVersion;
          } else {
            throw err;
          }
        }
      } else {
        await sleep(delay, undefined, { signal });
        delay = Math.min(Math.round(delay * 1.5), POLL_MAX_MS);
        if (settled(await read())) return object;
      }
    }
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    if (signal.aborted && signal.reason instanceof WaitTimeout) {
      throw new StepFailure(`${signal.reason.message} waiting for ${what}; last seen: ${last.message}`, {
        retryable: true,
      });
    }
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `waiting for ${what} (last seen: ${last.message})`);
    throw kubeFailure(err, `waiting for ${what}`);
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}
