// How an execution ends, written to the run: Succeeded; Pending again with a retry time (a
// retryable failure, with capped exponential backoff and jitter until the hook's deadline);
// Failed; Superseded; or released (shutdown) for another replica to resume at once.
import type { Outcome } from "./execute.js";
import { heldElsewhere, CancelledError, ClaimLostError, withExecution } from "./claim.js";
import { isTerminal, setCondition, type HookRun, type HookRunStatus } from "./hookrun.js";
import { ConflictError, type RunStore } from "./store/types.js";

/** Run-level retry delays: 2s doubling, ±20% jitter, at most 5 minutes (or Retry-After). */
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 5 * 60_000;

/** What the execution has not written yet (its last step's status) added to a status. */
export type Settle = (status: HookRunStatus) => HookRunStatus;

export interface RunEnd {
  phase: "Succeeded" | "Failed" | "Superseded";
  reason: string;
  message: string;
}

export interface RunEnderOptions {
  store: RunStore;
  /** This replica's identity in claims. */
  holder: string;
  /** First run-level retry delay (doubling, at most 5 minutes); tests shorten it. */
  retryBaseMs?: number;
  random: () => number;
}

/** The deadline in force: a retried run's own, else the one it was accepted with. */
export function deadlineOf(run: HookRun): string {
  return run.status.deadline ?? run.spec.deadline;
}

export class RunEnder {
  constructor(private readonly options: RunEnderOptions) {}

  /**
   * Writes the outcome: Succeeded, Pending with a retry time, Failed, Superseded, or released
   * (shutdown); `settle` adds what the execution has not written yet (its last step's status).
   * Undefined when another replica owns the run now.
   */
  async conclude(run: HookRun, outcome: Outcome, signal: AbortSignal, settle: Settle): Promise<HookRun | undefined> {
    if (outcome.kind === "succeeded") {
      const message = `${settle(run.status).steps.length} step(s) done`;
      return await this.finish(run, { phase: "Succeeded", reason: "Succeeded", message }, settle);
    }
    if (outcome.kind === "aborted") return await this.aborted(run, outcome.reason, signal, settle);
    const delay = this.retryDelay(run.status.attempts, outcome.retryAfterMs);
    if (outcome.retryable && Date.now() + delay < Date.parse(deadlineOf(run))) {
      return await this.release(run, settle, {
        reason: "Retrying",
        message: `step ${outcome.step} failed: ${outcome.error}`,
        nextRetryAt: new Date(Date.now() + delay).toISOString(),
      });
    }
    const noRetry = outcome.retryable ? ` (no retry before the deadline ${deadlineOf(run)})` : "";
    return await this.finish(
      run,
      {
        phase: "Failed",
        reason: outcome.retryable ? "DeadlineExceeded" : "StepFailed",
        message: `step ${outcome.step} failed: ${outcome.error}${noRetry}`,
      },
      settle,
    );
  }

  /** Ends the run in a final phase (and its Succeeded condition); the claim and retry time go. */
  async finish(run: HookRun, end: RunEnd, settle: Settle = (status) => status): Promise<HookRun | undefined> {
    return await this.writeOwned(run, (status) => {
      const { claim: _claim, nextRetryAt: _next, ...rest } = settle(status);
      const next: HookRunStatus = {
        ...rest,
        phase: end.phase,
        reason: end.reason,
        message: end.message,
        completionTime: new Date().toISOString(),
      };
      setCondition(next, {
        type: "Succeeded",
        status: end.phase === "Succeeded" ? "True" : "False",
        reason: end.reason,
        message: end.message,
      });
      return next;
    });
  }

  private async aborted(
    run: HookRun,
    message: string,
    signal: AbortSignal,
    settle: Settle,
  ): Promise<HookRun | undefined> {
    const reason: unknown = signal.reason;
    if (reason instanceof CancelledError)
      return await this.finish(run, { phase: "Superseded", reason: "Superseded", message: reason.message }, settle);
    if (reason instanceof ClaimLostError) return undefined; // someone else owns it now
    // Shutdown: release the claim so another replica (or this one after a restart) resumes at once.
    return await this.release(run, settle, { reason: "Interrupted", message });
  }

  /** Back to Pending without a claim, to be executed again (at nextRetryAt, if given). */
  private async release(
    run: HookRun,
    settle: Settle,
    pending: { reason: string; message: string; nextRetryAt?: string },
  ): Promise<HookRun | undefined> {
    return await this.writeOwned(run, (status) => {
      const { claim: _claim, ...rest } = settle(status);
      return { ...rest, phase: "Pending", ...pending };
    });
  }

  private retryDelay(attempts: number, retryAfterMs?: number): number {
    const exponential = Math.min(
      (this.options.retryBaseMs ?? RETRY_BASE_MS) * 2 ** Math.max(0, attempts - 1),
      RETRY_MAX_MS,
    );
    const jittered = exponential * (0.8 + 0.4 * this.options.random());
    return Math.min(Math.max(jittered, retryAfterMs ?? 0), RETRY_MAX_MS);
  }

  /** A status write that re-reads on conflict and gives up if another replica took the run over. */
  private async writeOwned(run: HookRun, change: Settle): Promise<HookRun | undefined> {
    const { store, holder } = this.options;
    let current = run;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await store.updateStatus({ ...current, status: change(current.status) });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await store.fetch(run.metadata.name);
        if (!fresh || isTerminal(fresh)) return undefined;
        if (fresh.status.claim && heldElsewhere(fresh.status.claim, holder, Date.now())) return undefined;
        current = withExecution(fresh, run);
      }
    }
    throw new Error(`could not update hookrun ${run.metadata.name}: conflicting writers`);
  }
}
