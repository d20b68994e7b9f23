// Executes the steps of one claimed HookRun: each step with its `if`, timeout and quick retries,
// outputs passed on to later steps, and every finished step persisted before the next starts, so
// a run resumed elsewhere (another replica, after a restart, a later retry) starts after the last
// completed step and a step's effect never repeats. Secrets a step reads are scrubbed here, once,
// from its errors, outputs and log lines.
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Logger } from "pino";
import { evaluateCondition } from "../expr/cel.js";
import { backoffMs } from "../hookset/budget.js";
import type { Hook, StepSpec } from "../hookset/types.js";
import { stepTypeByName } from "../steps/registry.js";
import { SecretScrubber, scrubbingLogger } from "../secrets/scrubber.js";
import { shortHash } from "../model/hash.js";
import { stepSecretReader, stepTemplating } from "../steps/context.js";
import { StepFailure, type StepRuntime, type StepType } from "../steps/types.js";
import type { StepStatus } from "./hookrun.js";

export interface RunObserver {
  stepFinished?(hook: string, step: StepSpec, status: StepStatus): void;
  retried?(hook: string, step: StepSpec): void;
}

export interface ExecutorDeps {
  runtime: StepRuntime;
  observer?: RunObserver;
  /** CEL cost limit of every `if` and template (the HookSet's limits.celCost). */
  costLimit?: number;
  /** Injected for tests; real sleeps otherwise. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ExecutionInput {
  hook: Hook;
  runName: string;
  eventId: string;
  identity: string;
  /** The variables the run was accepted with (object, oldObject, event, …). */
  scope: Record<string, unknown>;
  /** Steps finished in earlier executions of this run. */
  completed: readonly StepStatus[];
  logger: Logger;
  /** Aborted on shutdown past the grace period, on cancellation, or when the claim is lost. */
  signal: AbortSignal;
  /** Persists one step's status; a rejection stops the run (the claim may be gone). */
  saveStep(status: StepStatus): Promise<void>;
  /** Work before the first step (Argo CD `healthy: true`); a thrown error fails this execution. */
  beforeSteps?: (signal: AbortSignal) => Promise<void>;
}

export type Outcome =
  | { kind: "succeeded" }
  | { kind: "failed"; step: string; error: string; retryable: boolean; retryAfterMs?: number }
  | { kind: "aborted"; reason: string };

export function stepIdempotencyKey(hook: string, identity: string, step: string): string {
  return shortHash(`${hook}/${identity}/${step}`, 32);
}

export async function executeSteps(deps: ExecutorDeps, input: ExecutionInput): Promise<Outcome> {
  const { hook } = input;
  const scrubber = new SecretScrubber();
  if (input.beforeSteps) {
    try {
      await input.beforeSteps(input.signal);
    } catch (err) {
      if (input.signal.aborted) return { kind: "aborted", reason: reasonOf(input.signal) };
      return { kind: "failed", step: "(before steps)", error: (err as Error).message, retryable: true };
    }
  }
  // Replaced, never mutated: expression evaluation caches converted objects by identity.
  let outputs: Readonly<Record<string, { status: string; output: unknown }>> = {};
  const done = new Map(
    input.completed.filter((s) => s.phase === "Succeeded" || s.phase === "Skipped").map((s) => [s.name, s]),
  );
  for (const step of hook.steps) {
    const previous = done.get(step.name);
    if (previous) {
      outputs = {
        ...outputs,
        [step.name]: {
          status: previous.phase === "Skipped" ? "skipped" : "succeeded",
          output: previous.output ?? null,
        },
      };
      continue;
    }
    if (input.signal.aborted) return { kind: "aborted", reason: reasonOf(input.signal) };
    const result = await runStep(deps, input, step, { ...input.scope, steps: outputs }, scrubber);
    if (result.aborted) return { kind: "aborted", reason: reasonOf(input.signal) };
    deps.observer?.stepFinished?.(hook.name, step, result.status);
    await input.saveStep(result.status);
    if (result.status.phase === "Failed") {
      return {
        kind: "failed",
        step: step.name,
        error: result.status.error ?? "failed",
        retryable: result.retryable,
        ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
      };
    }
    outputs = {
      ...outputs,
      [step.name]: {
        status: result.status.phase === "Skipped" ? "skipped" : "succeeded",
        output: result.status.output ?? null,
      },
    };
  }
  return { kind: "succeeded" };
}

interface StepResult {
  status: StepStatus;
  retryable: boolean;
  retryAfterMs?: number;
  aborted?: boolean;
}

type Finish = (
  phase: StepStatus["phase"],
  attempts: number,
  extra?: { error?: string; output?: unknown },
) => StepStatus;

/** One step of one execution, and what its attempts share. */
interface StepRun {
  deps: ExecutorDeps;
  input: ExecutionInput;
  step: StepSpec;
  stepType: StepType;
  scope: Record<string, unknown>;
  scrubber: SecretScrubber;
  logger: Logger;
  /** The step's status, errors and output scrubbed of the secrets it read. */
  finish: Finish;
}

async function runStep(
  deps: ExecutorDeps,
  input: ExecutionInput,
  step: StepSpec,
  scope: Record<string, unknown>,
  scrubber: SecretScrubber,
): Promise<StepResult> {
  const startedAt = new Date();
  const logger = scrubbingLogger(input.logger, scrubber, { step: step.name });
  const stepType = stepTypeByName(step.type);
  const finish: Finish = (phase, attempts, extra = {}) => ({
    name: step.name,
    phase,
    attempts,
    durationMs: Date.now() - startedAt.getTime(),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...(extra.error !== undefined ? { error: scrubber.text(extra.error).slice(0, 2048) } : {}),
    ...(extra.output !== undefined ? { output: scrubber.value(extra.output) } : {}),
  });
  if (!stepType) return { status: finish("Failed", 0, { error: `unknown step type ${step.type}` }), retryable: false };
  const run: StepRun = { deps, input, step, stepType, scope, scrubber, logger, finish };
  return skippedByIf(run) ?? (await attemptUntilDone(run));
}

/** The step's result when its `if` is false or cannot be evaluated; undefined when the step runs. */
function skippedByIf({ deps, step, scope, logger, finish }: StepRun): StepResult | undefined {
  if (!step.if) return undefined;
  let run: boolean;
  try {
    run = evaluateCondition(step.if, scope, {
      deadline: Date.now() + step.timeoutMs,
      ...(deps.costLimit ? { costLimit: deps.costLimit } : {}),
    });
  } catch (err) {
    return {
      status: finish("Failed", 0, { error: `if could not be evaluated: ${(err as Error).message}` }),
      retryable: false,
    };
  }
  if (run) return undefined;
  logger.info({ condition: step.if.source }, "step skipped: if is false");
  return { status: finish("Skipped", 0), retryable: false };
}

/** Attempts the step until it succeeds, fails for good, runs out of quick retries or is aborted. */
async function attemptUntilDone(run: StepRun): Promise<StepResult> {
  const { deps, input, step, scrubber, logger, finish } = run;
  const sleep = deps.sleep ?? ((ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal }));
  for (let attempt = 1; ; attempt++) {
    const tried = await attemptOnce(run, attempt);
    if ("output" in tried) return { status: finish("Succeeded", attempt, { output: tried.output }), retryable: false };
    if (input.signal.aborted)
      return { status: finish("Failed", attempt, { error: reasonOf(input.signal) }), retryable: true, aborted: true };
    const failure = tried.error instanceof StepFailure ? tried.error : undefined;
    const message = scrubber.text(tried.error instanceof Error ? tried.error.message : String(tried.error));
    const retryable = failure ? failure.retryable : tried.timedOut;
    if (!retryable || attempt > step.retries) {
      logger.warn({ attempt, error: message, retryable }, "step failed");
      return {
        status: finish("Failed", attempt, { error: message }),
        retryable,
        ...(failure?.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      };
    }
    const delay = Math.max(backoffMs(attempt), failure?.retryAfterMs ?? 0);
    logger.info({ attempt, error: message, retryInMs: delay }, "step attempt failed; retrying");
    deps.observer?.retried?.(input.hook.name, step);
    try {
      await sleep(delay, input.signal);
    } catch {
      return { status: finish("Failed", attempt, { error: message }), retryable: true, aborted: true };
    }
  }
}

/**
 * One attempt, ended by the run's signal or the step's timeout: the step's output, or what it
 * failed with and whether its timeout (or the run's abort) ended it.
 */
async function attemptOnce(
  { deps, input, step, stepType, scope, scrubber, logger }: StepRun,
  attempt: number,
): Promise<{ output: unknown } | { error: unknown; timedOut: boolean }> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(input.signal.reason);
  input.signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${step.timeoutMs}ms`)), step.timeoutMs);
  try {
    const outcome = await Promise.race([
      stepType.execute(step.config, {
        hook: input.hook.name,
        step: step.name,
        runId: input.runName,
        eventId: input.eventId,
        attempt,
        idempotencyKey: stepIdempotencyKey(input.hook.name, input.identity, step.name),
        signal: controller.signal,
        scope,
        ...stepTemplating(scope, {
          deadline: Date.now() + step.timeoutMs,
          ...(deps.costLimit ? { costLimit: deps.costLimit } : {}),
        }),
        secret: stepSecretReader(deps.runtime, scrubber),
        logger,
        runtime: deps.runtime,
      }),
      // A step that ignores its signal still ends at its timeout.
      new Promise<never>((_, reject) =>
        controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true }),
      ),
    ]);
    return { output: outcome.output ?? null };
  } catch (error) {
    return { error, timedOut: controller.signal.aborted };
  } finally {
    clearTimeout(timer);
    input.signal.removeEventListener("abort", onAbort);
  }
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? "aborted");
}
