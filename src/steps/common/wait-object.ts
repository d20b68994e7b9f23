// Waiting for a Kubernetes object, shared by the kubernetes step (wait:) and the waitFor step: an
// informer on the object (src/k8s/informer.ts: one GET, then a watch on its name that starts again
// from the last resourceVersion, and reads the object again after 410 Gone or a failure, with
// backoff); if watching is forbidden, polling with backoff. Honours ctx.signal and its own timeout.
import { setTimeout as sleep } from "node:timers/promises";
import { compileExpression, type CompiledExpression } from "../../expr/cel.js";
import type { KubeClient } from "../../k8s/client.js";
import { KubeApiError, type KubeObject, type ResourceInfo } from "../../k8s/types.js";
import type { Readiness } from "../../k8s/status.js";
import { formatDuration, parseDuration } from "../../hookset/duration.js";
import { StepFailure, type StepContext } from "../types.js";
import { abortFailure } from "./abort.js";
import { describeTarget, kubeFailure } from "./kube.js";
import { describeWait, evaluateWait, type WaitCondition } from "./wait.js";

export interface WaitOptions {
  for: WaitCondition;
  /** Duration; default: until the step's own timeout. */
  timeout?: string;
}

/** Verbs the wait uses on the waited-for resource. */
export const WAIT_VERBS = ["get", "watch"] as const;

export interface WaitTarget {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
}

const MAX_WATCH_SECONDS = 300;
/** Backoff of both the informer's retries and polling. */
const RETRY_START_MS = 1000;
const RETRY_MAX_MS = 10_000;

class WaitTimeout extends Error {
  override name = "WaitTimeout";
}

/** What the wait has seen of the object, and how that stands against the condition. */
class Progress {
  object: KubeObject | undefined;
  last: Readiness = { state: "waiting", message: "not read yet" };
  ready = false;

  constructor(
    private readonly condition: WaitCondition,
    private readonly compiled: CompiledExpression | undefined,
  ) {}

  /** Judges the object (undefined: it does not exist); a terminal state is a StepFailure. */
  see(object: KubeObject | undefined): boolean {
    this.object = object;
    this.last = evaluateWait(this.condition, object, this.compiled);
    if (this.last.state === "failed") throw new StepFailure(this.last.message, { retryable: false });
    this.ready = this.last.state === "ready";
    return this.ready;
  }
}

/** The wait's own signal: ctx.signal, or its timeout running out (a WaitTimeout reason). */
interface WaitLimit {
  signal: AbortSignal;
  deadline: number | undefined;
  dispose(): void;
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
  const what = `${describeTarget(target.info, target.namespace, target.name)} to ${describeWait(options.for)}`;
  const doing = `waiting for ${what}`;
  const progress = new Progress(options.for, compileCondition(options.for));
  const timeoutMs = options.timeout !== undefined ? parseDuration(options.timeout) : undefined;
  if (ctx.signal.aborted) throw abortFailure(ctx.signal, doing);
  const limit = waitLimit(ctx.signal, timeoutMs);
  ctx.logger.debug({ wait: what }, "waiting");
  try {
    if (!(await watchUntilReady(kube, target, progress, limit))) {
      ctx.logger.debug({ wait: what }, "watch not allowed, polling instead");
      await pollUntilReady(kube, target, progress, limit.signal);
    }
    return progress.object;
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    const { signal } = limit;
    if (signal.aborted && signal.reason instanceof WaitTimeout) {
      throw new StepFailure(`${signal.reason.message} ${doing}; last seen: ${progress.last.message}`, {
        retryable: true,
      });
    }
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `${doing} (last seen: ${progress.last.message})`);
    throw kubeFailure(err, doing);
  } finally {
    limit.dispose();
  }
}

function compileCondition(condition: WaitCondition): CompiledExpression | undefined {
  if (typeof condition !== "object" || !("expression" in condition)) return undefined;
  try {
    return compileExpression(condition.expression);
  } catch (err) {
    throw new StepFailure(`wait expression: ${err instanceof Error ? err.message : String(err)}`, {
      retryable: false,
    });
  }
}

function waitLimit(ctxSignal: AbortSignal, timeoutMs: number | undefined): WaitLimit {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctxSignal.reason);
  ctxSignal.addEventListener("abort", onAbort, { once: true });
  const expire = (ms: number): void => controller.abort(new WaitTimeout(`timed out after ${formatDuration(ms)}`));
  const timer = timeoutMs !== undefined ? setTimeout(expire, timeoutMs, timeoutMs) : undefined;
  return {
    signal: controller.signal,
    deadline: timeoutMs !== undefined ? Date.now() + timeoutMs : undefined,
    dispose() {
      if (timer) clearTimeout(timer);
      ctxSignal.removeEventListener("abort", onAbort);
    },
  };
}

/** Watches until the object is ready; false when watching is not allowed (403, 405): poll instead. */
async function watchUntilReady(
  kube: KubeClient,
  target: WaitTarget,
  progress: Progress,
  limit: WaitLimit,
): Promise<boolean> {
  const informer = kube.objectInformer(
    target.info,
    target.namespace,
    target.name,
    {
      watchSeconds: () =>
        limit.deadline === undefined
          ? MAX_WATCH_SECONDS
          : Math.min(Math.ceil((limit.deadline - Date.now()) / 1000), MAX_WATCH_SECONDS),
      backoff: { initialMs: RETRY_START_MS, maxMs: RETRY_MAX_MS },
      retryable: (err) => !(err instanceof StepFailure) && !watchRefused(err) && kubeFailure(err, "watch").retryable,
      signal: limit.signal,
    },
    {
      onList: ([object]) => {
        if (progress.see(object)) informer.stop();
      },
      onEvent: (type, object) => {
        if (type === "ERROR") throw watchError(object);
        if (progress.see(type === "DELETED" ? undefined : object)) informer.stop();
      },
    },
  );
  await informer.list();
  if (progress.ready) return true;
  try {
    await informer.run();
    return true;
  } catch (err) {
    if (watchRefused(err)) return false;
    throw err;
  }
}

async function pollUntilReady(
  kube: KubeClient,
  target: WaitTarget,
  progress: Progress,
  signal: AbortSignal,
): Promise<void> {
  for (let delay = RETRY_START_MS; ; delay = Math.min(Math.round(delay * 1.5), RETRY_MAX_MS)) {
    await sleep(delay, undefined, { signal });
    if (progress.see(await read(kube, target, signal))) return;
  }
}

async function read(kube: KubeClient, target: WaitTarget, signal: AbortSignal): Promise<KubeObject | undefined> {
  try {
    return await kube.get(target.info, target.namespace, target.name, signal);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

function watchRefused(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 403 || err.status === 405);
}

/** An ERROR event other than 410 Gone, as the failure it reports. */
function watchError(object: KubeObject): KubeApiError {
  const { code, message } = object as { code?: number; message?: string };
  return new KubeApiError(String(message ?? "watch error"), code ?? 500, "WatchError");
}
