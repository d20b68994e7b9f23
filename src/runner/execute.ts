// Runs one hook for one event: steps in order, each with its `if`, timeout and retries, outputs
// passed on to later steps, completed steps recorded so a redelivery resumes after them.
import { hash } from "node:crypto";
import type { Logger } from "pino";
import { evaluateCondition } from "../expr/cel.js";
import { SecretScrubber, scrubbingLogger } from "../secrets/scrubber.js";
import { stepSecretReader, stepTemplating } from "../steps/context.js";
import { backoffMs } from "../spec/budget.js";
import type { Hook, StepSpec } from "../spec/types.js";
import { stepTypeByName } from "../steps/registry.js";
import { StepFailure, type StepRuntime } from "../steps/types.js";
import type { RunStore, StepRecord } from "./store.js";

export type RunStatus = "succeeded" | "failed" | "skipped" | "duplicate";
export type StepStatus = "succeeded" | "failed" | "skipped" | "previously-succeeded" | "not-run";

export interface StepReport {
  name: string;
  status: StepStatus;
  attempts: number;
  durationMs: number;
  error?: string;
}

export interface RunReport {
  runId: string;
  hook: string;
  eventId: string;
  status: RunStatus;
  steps: StepReport[];
  reason?: string;
  startedAt: string;
  durationMs: number;
}

export interface RunObserver {
  stepFinished?(hook: string, step: StepSpec, report: StepReport): void;
  retried?(hook: string, step: StepSpec): void;
}

export interface RunInput {
  hook: Hook;
  runId: string;
  eventId: string;
  /** Identity of the change for idempotency: the CloudEvent id, or an Argo CD operation. */
  identity: string;
  scope: Record<string, unknown>;
  logger: Logger;
  /** Aborted on shutdown past the grace period. */
  signal: AbortSignal;
  /** Runs after the claim and before the steps (e.g. waiting for Argo CD health); a thrown error fails the run. */
  prepare?: (signal: AbortSignal) => Promise<void>;
}

export interface Executor {
  runtime: StepRuntime;
  store: RunStore;
  observer?: RunObserver;
  /** Injected for tests; real sleeps otherwise. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function runKey(hook: string, identity: string): string {
  return `${hook}/${identity}`;
}

export function stepIdempotencyKey(hook: string, identity: string, step: string): string {
  return hash("sha256", `${runKey(hook, identity)}/${step}`, "hex").slice(0, 32);
}

export class RunBusyError extends Error {
  override name = "RunBusyError";
}

export async function executeHook(executor: Executor, input: RunInput): Promise<RunReport> {
  const started = Date.now();
  const { hook, logger } = input;
  const key = runKey(hook.name, input.identity);
  const report = (status: RunStatus, steps: StepReport[], reason?: string): RunReport => ({
    runId: input.runId,
    hook: hook.name,
    eventId: input.eventId,
    status,
    steps,
    ...(reason !== undefined ? { reason } : {}),
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  });

  const record = await executor.store.claim(key);
  if (record === "busy") throw new RunBusyError(`hook ${hook.name} is already running for this event elsewhere`);
  let done = false;
  try {
    if (record.done) {
      done = true;
      return report(
        "duplicate",
        hook.steps.map((s) => ({ name: s.name, status: "previously-succeeded", attempts: 0, durationMs: 0 })),
        "this event was already handled",
      );
    }
    if (input.prepare) {
      try {
        await input.prepare(input.signal);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return report("failed", hook.steps.map((s) => ({ name: s.name, status: "not-run", attempts: 0, durationMs: 0 })), reason);
      }
    }
    // Replaced, never mutated: expression evaluation caches converted objects by identity.
    let outputs: Readonly<Record<string, { status: string; output: unknown }>> = {};
    const scopeWithSteps = () => ({ ...input.scope, steps: outputs });
    const reports: StepReport[] = [];
    // One scrubber per run: every secret a step reads is scrubbed from errors, outputs and logs.
    const scrubber = new SecretScrubber();
    for (const [index, step] of hook.steps.entries()) {
      const previous = record.steps[step.name];
      if (previous) {
        outputs = { ...outputs, [step.name]: { status: previous.status, output: previous.output ?? null } };
        reports.push({ name: step.name, status: "previously-succeeded", attempts: 0, durationMs: 0 });
        continue;
      }
      const stepReport = await runStep(executor, input, step, scopeWithSteps(), scrubber);
      reports.push(stepReport.report);
      executor.observer?.stepFinished?.(hook.name, step, stepReport.report);
      if (stepReport.report.status === "failed") {
        for (const rest of hook.steps.slice(index + 1)) reports.push({ name: rest.name, status: "not-run", attempts: 0, durationMs: 0 });
        return report("failed", reports, `step ${step.name} failed: ${stepReport.report.error}`);
      }
      const stored: StepRecord = { status: stepReport.report.status === "skipped" ? "skipped" : "succeeded", output: stepReport.output ?? null };
      await executor.store.completeStep(key, step.name, stored);
      outputs = { ...outputs, [step.name]: { status: stored.status, output: stored.output } };
    }
    done = true;
    return report("succeeded", reports);
  } finally {
    await executor.store.finish(key, done).catch((err: unknown) => logger.error({ err }, "could not record the end of the run"));
  }
}

async function runStep(
  executor: Executor,
  input: RunInput,
  step: StepSpec,
  scope: Record<string, unknown>,
  scrubber: SecretScrubber,
): Promise<{ report: StepReport; output?: unknown }> {
  const started = Date.now();
  const logger = scrubbingLogger(input.logger, scrubber, { step: step.name });
  const stepType = stepTypeByName(step.type);
  const finish = (status: StepStatus, attempts: number, error?: string) => ({
    name: step.name,
    status,
    attempts,
    durationMs: Date.now() - started,
    ...(error !== undefined ? { error } : {}),
  });
  if (!stepType) return { report: finish("failed", 0, `unknown step type ${step.type}`) };
  if (step.if) {
    let run: boolean;
    try {
      run = evaluateCondition(step.if, scope, { deadline: Date.now() + step.timeoutMs });
    } catch (err) {
      return { report: finish("failed", 0, `if could not be evaluated: ${(err as Error).message}`) };
    }
    if (!run) {
      logger.info({ condition: step.if.source }, "step skipped: if is false");
      return { report: finish("skipped", 0) };
    }
  }
  const sleep = executor.sleep ?? abortableSleep;
  let attempt = 0;
  for (;;) {
    attempt++;
    const controller = new AbortController();
    const onAbort = () => controller.abort(input.signal.reason);
    input.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${step.timeoutMs}ms`)), step.timeoutMs);
    try {
      const outcome = await Promise.race([
        stepType.execute(step.config, {
          hook: input.hook.name,
          step: step.name,
          runId: input.runId,
          eventId: input.eventId,
          attempt,
          idempotencyKey: stepIdempotencyKey(input.hook.name, input.identity, step.name),
          signal: controller.signal,
          scope,
          ...stepTemplating(scope, { deadline: Date.now() + step.timeoutMs }),
          secret: stepSecretReader(executor.runtime, scrubber),
          logger,
          runtime: executor.runtime,
        }),
        // A step that ignores its signal still ends at its timeout.
        new Promise<never>((_, reject) => controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true })),
      ]);
      logger.debug({ attempt, durationMs: Date.now() - started }, "step succeeded");
      return { report: finish("succeeded", attempt), output: scrubber.value(outcome.output) };
    } catch (err) {
      const failure = err instanceof StepFailure ? err : undefined;
      const message = scrubber.text(err instanceof Error ? err.message : String(err));
      const timedOut = controller.signal.aborted && !input.signal.aborted;
      const retryable = !input.signal.aborted && (failure ? failure.retryable : timedOut);
      if (!retryable || attempt > step.retries) {
        logger.warn({ attempt, error: message, retryable }, "step failed");
        return { report: finish("failed", attempt, message) };
      }
      const delay = Math.max(backoffMs(attempt), failure?.retryAfterMs ?? 0);
      logger.info({ attempt, error: message, retryInMs: delay }, "step attempt failed; retrying");
      executor.observer?.retried?.(input.hook.name, step);
      try {
        await sleep(delay, input.signal);
      } catch {
        return { report: finish("failed", attempt, message) };
      }
    } finally {
      clearTimeout(timer);
      input.signal.removeEventListener("abort", onAbort);
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
