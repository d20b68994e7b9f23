// One execution of a claimed run: its steps under the claim (renewed while they run, every step's
// status written through it), then the end written by the RunEnder, counted, logged and recorded
// as a Kubernetes Event.
import type { Logger } from "pino";
import type { Hook, HookSet } from "../hookset/types.js";
import type { StepRuntime } from "../steps/types.js";
import { beforeSteps } from "../trigger/index.js";
import { Claim, UNWRITTEN_RUNNING_MS } from "./claim.js";
import { executeSteps, type ExecutorDeps, type Outcome } from "./execute.js";
import { decodeContext, isTerminal, withStep, type HookRun, type HookRunStatus, type StepStatus } from "./hookrun.js";
import type { KubeEventRecorder } from "./kube-events.js";
import type { RunnerMetrics } from "./metrics.js";
import type { RunEnder } from "./run-end.js";
import type { RunStore } from "./store/types.js";

/** What every execution of this replica shares. */
export interface ExecutionContext {
  hookSet: HookSet;
  store: RunStore;
  runtime: StepRuntime;
  executor?: Omit<ExecutorDeps, "runtime">;
  holder: string;
  claimMs: number;
  logger: Logger;
  metrics?: RunnerMetrics;
  kubeEvents?: KubeEventRecorder;
  ender: RunEnder;
}

/** Executes the claimed run until it ends or `controller` aborts it; never rejects. */
export async function executeClaimed(
  context: ExecutionContext,
  hook: Hook,
  claimed: HookRun,
  controller: AbortController,
  unwritten = false,
): Promise<void> {
  const runLogger = context.logger.child({
    hook: hook.name,
    run: claimed.metadata.name,
    eventId: claimed.spec.eventId,
  });
  const claim = new Claim(claimed, {
    store: context.store,
    holder: context.holder,
    claimMs: context.claimMs,
    logger: runLogger,
    abort: (reason) => controller.abort(reason),
    ...(unwritten ? { unwrittenForMs: UNWRITTEN_RUNNING_MS } : {}),
  });
  const started = Date.now();
  const held = new HeldStep(hook);
  const outcome = await runSteps(context, hook, claimed, { claim, held, signal: controller.signal, logger: runLogger });
  claim.stop();
  const result = await context.ender
    .conclude(claim.current, outcome, controller.signal, (status) => held.settle(status))
    .catch((err: unknown) => {
      runLogger.error(
        { err: (err as Error).message },
        "could not record the end of the run; its claim expires and it resumes",
      );
      return undefined;
    });
  if (result) report(context, hook, result, Date.now() - started, runLogger);
}

/**
 * The status of the run's last step (or of a failed one, which ends this execution) is written
 * with the run's end: one status write instead of two. Every other step is persisted before the
 * next one starts, so a resumed run never repeats a step that completed.
 */
class HeldStep {
  private step: StepStatus | undefined;
  private readonly last: string | undefined;

  constructor(hook: Hook) {
    this.last = hook.steps.at(-1)?.name;
  }

  /** Whether the step's status waits for the end of the run (else it is written now). */
  hold(step: StepStatus): boolean {
    if (step.name !== this.last && step.phase !== "Failed") return false;
    this.step = step;
    return true;
  }

  settle(status: HookRunStatus): HookRunStatus {
    return this.step ? withStep(status, this.step) : status;
  }
}

interface Execution {
  claim: Claim;
  held: HeldStep;
  signal: AbortSignal;
  logger: Logger;
}

/** The steps' outcome; a failure of the runner itself (not of a step) is a retryable one. */
async function runSteps(context: ExecutionContext, hook: Hook, claimed: HookRun, run: Execution): Promise<Outcome> {
  try {
    const scope = decodeContext(claimed.spec.context);
    return await executeSteps(executorDeps(context), {
      hook,
      runName: claimed.metadata.name,
      eventId: claimed.spec.eventId,
      identity: claimed.spec.identity,
      scope,
      completed: claimed.status.steps,
      logger: run.logger,
      signal: run.signal,
      saveStep: async (step) => {
        if (!run.held.hold(step)) await run.claim.update((status) => withStep(status, step));
      },
      beforeSteps: (signal) =>
        beforeSteps(hook.trigger, scope, {
          ...(context.runtime.kubeConfig ? { kubeConfig: context.runtime.kubeConfig } : {}),
          signal,
          logger: run.logger,
          timeoutMs: hook.timeoutMs,
        }),
    });
  } catch (err) {
    return run.signal.aborted
      ? { kind: "aborted", reason: (err as Error).message }
      : { kind: "failed", step: "(runner)", error: (err as Error).message, retryable: true };
  }
}

function executorDeps(context: ExecutionContext): ExecutorDeps {
  const { metrics } = context;
  return {
    runtime: context.runtime,
    costLimit: context.hookSet.celCostLimit,
    ...context.executor,
    observer: {
      stepFinished: (hook, step, status) =>
        metrics?.stepDuration.observe(
          { hook, step: step.name, status: status.phase.toLowerCase() },
          status.durationMs / 1000,
        ),
      retried: (hook, step) => metrics?.retries.inc({ hook, step: step.name }),
      ...context.executor?.observer,
    },
  };
}

function report(context: ExecutionContext, hook: Hook, result: HookRun, durationMs: number, logger: Logger): void {
  context.metrics?.runs.inc({ hook: hook.name, status: result.status.phase.toLowerCase() });
  logger.info(
    {
      phase: result.status.phase,
      reason: result.status.reason,
      durationMs,
      attempts: result.status.attempts,
      steps: result.status.steps.map((s) => `${s.name}:${s.phase}`),
    },
    `run ${result.status.phase.toLowerCase()}`,
  );
  // Best effort, never rejects: a failure to record an Event is logged by the recorder.
  if (isTerminal(result) && context.kubeEvents) void context.kubeEvents.record(result);
}
