// The work queue: executes the HookRuns that are due, the way a Kubernetes controller works its
// objects. Different objects run in parallel (bounded by --max-concurrent-runs); runs of one
// (hook, object) run one at a time in accept order unless the hook says `concurrency: parallel`.
// A run is claimed with a resourceVersion-conditional status update and a claim that expires
// unless renewed, so exactly one replica executes it and a dead replica's run is resumed by
// another after the claim expires. Retryable failures are retried with capped exponential
// backoff and jitter until the hook's deadline, across restarts and replicas.
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { Hook, HookSet } from "../hookset/types.js";
import type { StepRuntime } from "../steps/types.js";
import { beforeSteps } from "../trigger/index.js";
import { executeSteps, type ExecutorDeps, type Outcome } from "./execute.js";
import {
  decodeContext,
  isMarker,
  isTerminal,
  setCondition,
  type HookRun,
  type HookRunStatus,
  type StepStatus,
} from "./hookrun.js";
import type { KubeEventRecorder } from "./kube-events.js";
import type { RunnerMetrics } from "./metrics.js";
import { compareAccepted } from "./run-order.js";
import type { RunIndex } from "./run-index.js";
import { ConflictError, type RunStore } from "./store/types.js";

/** How long a claim lasts without renewal: a dead replica's runs resume within this. */
export const CLAIM_MS = 15_000;
/** Run-level retry delays: 2s doubling, ±20% jitter, at most 5 minutes (or Retry-After). */
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 5 * 60_000;
const TICK_MS = 1_000;
/**
 * A new run that another replica accepted is left to that replica this long before this one
 * tries to claim it: the accepting replica sees it first and claims it at once, and two replicas
 * racing for every new run made one claim write of each run fail (load on the API server while
 * the Sensor waits for it). Past this, any replica takes it (the accepting one is full or gone).
 */
export const HANDOFF_MS = 500;
const RETENTION_EVERY_MS = 60_000;

export interface RetentionPolicy {
  /** Finished runs older than this are deleted … */
  ttlMs: number;
  /** … and so are finished runs beyond the newest keepPerHook of each hook. */
  keepPerHook: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { ttlMs: 7 * 24 * 3_600_000, keepPerHook: 100 };

export interface QueueOptions {
  hookSet: HookSet;
  store: RunStore;
  index: RunIndex;
  runtime: StepRuntime;
  executor?: Omit<ExecutorDeps, "runtime">;
  /** This replica's identity in claims (pod name + a random suffix). */
  holder: string;
  maxConcurrentRuns: number;
  claimMs?: number;
  retention?: RetentionPolicy;
  logger: Logger;
  metrics?: RunnerMetrics;
  kubeEvents?: KubeEventRecorder;
  /** First run-level retry delay (doubling, at most 5 minutes); tests shorten it. */
  retryBaseMs?: number;
  /** How long a new run accepted by another replica is left to it (HANDOFF_MS). */
  handoffMs?: number;
  /** Injected for tests. */
  random?: () => number;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export class RunQueue {
  private readonly hooks: Map<string, Hook>;
  private readonly running = new Map<string, Running>();
  private readonly claimMs: number;
  private readonly handoffMs: number;
  /** When this replica first saw each unfinished run (for the hand-off, on this clock). */
  private readonly seenAt = new Map<string, number>();
  private readonly retention: RetentionPolicy;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private retentionTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = false;
  private readonly drainController = new AbortController();

  constructor(private readonly options: QueueOptions) {
    this.hooks = new Map(options.hookSet.hooks.map((h) => [h.name, h]));
    this.claimMs = options.claimMs ?? CLAIM_MS;
    this.handoffMs = options.handoffMs ?? HANDOFF_MS;
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.random = options.random ?? Math.random;
    // Every running run listens for the drain: more than the default 10 at once is expected.
    setMaxListeners(0, this.drainController.signal);
    options.store.subscribe((run, change) => {
      if (change === "deleted" || isTerminal(run)) {
        this.seenAt.delete(run.metadata.name);
        if (change === "deleted") return;
      } else {
        if (!this.seenAt.has(run.metadata.name)) this.seenAt.set(run.metadata.name, Date.now());
        this.kick();
      }
      const local = this.running.get(run.metadata.name);
      // Another replica asked this run to stop (concurrency: replace).
      if (local && run.status.cancelRequested) local.controller.abort(new CancelledError(run.status.cancelRequested));
    });
  }

  start(): void {
    // The first fetch (an http step) compiles Node's HTTP client on the spot: ~50 ms here, more on
    // a busy node, a stall of the accept path in the middle of the first burst of runs. Paid now.
    void new Headers();
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.retentionTimer = setInterval(
      () =>
        void this.applyRetention().catch((err: unknown) =>
          this.options.logger.warn({ err: (err as Error).message }, "retention failed"),
        ),
      RETENTION_EVERY_MS,
    );
    this.retentionTimer.unref();
    this.kick();
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Looks for due runs soon; coalesces calls. */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => {
      void this.tick()
        .catch((err: unknown) => this.options.logger.error({ err }, "queue tick failed"))
        .finally(() => {
          this.ticking = false;
          if (this.again) {
            this.again = false;
            this.kick();
          }
        });
    });
  }

  /** Stops claiming; lets running runs finish within graceMs, then aborts them (they resume elsewhere). */
  async drain(graceMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.retentionTimer);
    clearTimeout(this.wakeTimer);
    const all = () => Promise.allSettled([...this.running.values()].map((r) => r.done));
    const timer = setTimeout(() => this.drainController.abort(new Error("the runner is shutting down")), graceMs);
    await all();
    clearTimeout(timer);
  }

  /** Runs a finished (Failed) run again from its first step that did not complete. */
  async retry(name: string): Promise<HookRun> {
    const { store } = this.options;
    const run = (await store.fetch(name)) ?? undefined;
    if (!run) throw new NotFoundError(`no hookrun ${name}`);
    if (run.status.phase !== "Failed")
      throw new StateError(`hookrun ${name} is ${run.status.phase}; only a Failed run can be retried`);
    const hook = this.hooks.get(run.spec.hook);
    const deadlineMs = hook?.deadlineMs ?? 3_600_000;
    const status: HookRunStatus = {
      ...run.status,
      phase: "Pending",
      reason: "RetryRequested",
      message: "retry requested",
      nextRetryAt: new Date().toISOString(),
    };
    delete status.completionTime;
    // A manual retry gets a fresh deadline; the spec's deadline is the first one, the status' the current one.
    const updated = await store.updateStatus({
      ...run,
      status: { ...status, deadline: new Date(Date.now() + deadlineMs).toISOString() },
    });
    this.kick();
    return updated;
  }

  private async tick(): Promise<void> {
    const { store, index, maxConcurrentRuns } = this.options;
    // At capacity nothing can start: a finishing run kicks again.
    if (this.stopped || this.running.size >= maxConcurrentRuns) return;
    const now = Date.now();
    const candidates: HookRun[] = [];
    for (const name of index.activeNames()) {
      if (this.running.has(name)) continue;
      const run = store.get(name);
      // A run without its context cannot be executed (a marker or a baseline between its creation and its status write).
      if (run && !isMarker(run) && run.spec.context) candidates.push(run);
    }
    candidates.sort(compareAccepted);
    for (const run of candidates) {
      if (this.running.size >= maxConcurrentRuns || this.stopped) return;
      if (run.status.claim && this.heldElsewhere(run.status.claim, now)) {
        this.wakeBy(Date.parse(run.status.claim.expiresAt));
        continue;
      }
      if (run.status.nextRetryAt && Date.parse(run.status.nextRetryAt) > now) {
        this.wakeBy(Date.parse(run.status.nextRetryAt));
        continue;
      }
      if (run.spec.concurrency !== "parallel" && index.unfinishedBefore(run).length > 0) continue;
      if (run.status.cancelRequested) {
        await this.finish(run, {
          phase: "Superseded",
          reason: "Superseded",
          message: run.status.cancelRequested,
        }).catch(() => undefined);
        continue;
      }
      if (Date.parse(deadlineOf(run)) <= now) {
        await this.finish(run, {
          phase: "Failed",
          reason: "DeadlineExceeded",
          message: `the deadline ${deadlineOf(run)} passed${run.status.message ? `; last error: ${run.status.message}` : ""}`,
        }).catch(() => undefined);
        continue;
      }
      const hook = this.hooks.get(run.spec.hook);
      if (!hook) continue; // a run of a hook this runner does not serve (removed from hooks.yaml): left for retention
      const handOffUntil = this.handOffUntil(run, now);
      if (handOffUntil > now) {
        this.wakeBy(handOffUntil);
        continue;
      }
      let claimed: HookRun;
      try {
        claimed = await store.updateStatus({
          ...run,
          status: {
            ...run.status,
            phase: "Running",
            attempts: run.status.attempts + 1,
            startTime: run.status.startTime ?? new Date().toISOString(),
            claim: { holder: this.options.holder, expiresAt: new Date(Date.now() + this.claimMs).toISOString() },
          },
        });
      } catch (err) {
        if (err instanceof ConflictError) continue; // another replica got there first
        throw err;
      }
      this.execute(hook, claimed);
    }
  }

  /** Until when a new run is left to the replica that accepted it (0: this replica may claim it now). */
  private handOffUntil(run: HookRun, now: number): number {
    const { store } = this.options;
    // Only a run nobody has claimed yet: a released, retried or expired one is anyone's at once.
    if (run.status.attempts > 0 || run.status.claim || !store.createdHere || store.createdHere(run.metadata.name))
      return 0;
    let seen = this.seenAt.get(run.metadata.name);
    if (seen === undefined) this.seenAt.set(run.metadata.name, (seen = now));
    return seen + this.handoffMs;
  }

  /**
   * Whether another live process holds the claim. Holders are "<pod>/<process>": a claim of this
   * pod by an earlier process (a restarted container) is dead, whatever its expiry says.
   */
  private heldElsewhere(claim: { holder: string; expiresAt: string }, now: number): boolean {
    if (claim.holder === this.options.holder) return false;
    const pod = (holder: string) => (holder.includes("/") ? holder.slice(0, holder.lastIndexOf("/")) : undefined);
    if (pod(claim.holder) !== undefined && pod(claim.holder) === pod(this.options.holder)) return false;
    return Date.parse(claim.expiresAt) > now;
  }

  /** Looks again at `at` (a retry or a claim expiry), sooner than the periodic tick. */
  private wakeBy(at: number): void {
    if (at >= this.wakeAt && this.wakeTimer) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Infinity;
        this.wakeTimer = undefined;
        this.kick();
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.wakeTimer.unref();
  }

  private execute(hook: Hook, claimed: HookRun): void {
    const { logger, metrics } = this.options;
    const name = claimed.metadata.name;
    const controller = new AbortController();
    const onDrain = () => controller.abort(this.drainController.signal.reason);
    this.drainController.signal.addEventListener("abort", onDrain, { once: true });
    const runLogger = logger.child({ hook: hook.name, run: name, eventId: claimed.spec.eventId });
    const claim = new Claim(this.options.store, claimed, this.options.holder, this.claimMs, (reason) =>
      controller.abort(reason),
    );
    const started = Date.now();
    // The status of the run's last step (or of a failed one, which ends this execution) is
    // written with the run's end: one status write instead of two. Every other step is persisted
    // before the next one starts, so a resumed run never repeats a step that completed.
    const lastStep = hook.steps.at(-1)?.name;
    let held: StepStatus | undefined;
    const withHeld = (status: HookRunStatus): HookRunStatus => (held ? withStep(status, held) : status);
    const done = (async () => {
      metrics?.inFlight.set(this.running.size);
      let outcome: Outcome;
      try {
        const scope = decodeContext(claimed.spec.context);
        outcome = await executeSteps(
          {
            runtime: this.options.runtime,
            costLimit: this.options.hookSet.celCostLimit,
            ...this.options.executor,
            observer: {
              stepFinished: (h, step, status) =>
                metrics?.stepDuration.observe(
                  { hook: h, step: step.name, status: status.phase.toLowerCase() },
                  status.durationMs / 1000,
                ),
              retried: (h, step) => metrics?.retries.inc({ hook: h, step: step.name }),
              ...this.options.executor?.observer,
            },
          },
          {
            hook,
            runName: name,
            eventId: claimed.spec.eventId,
            identity: claimed.spec.identity,
            scope,
            completed: claimed.status.steps,
            logger: runLogger,
            signal: controller.signal,
            saveStep: async (step) => {
              if (step.name === lastStep || step.phase === "Failed") {
                held = step;
                return;
              }
              await claim.update((status) => withStep(status, step));
            },
            beforeSteps: (signal) =>
              beforeSteps(hook.trigger, scope, {
                ...(this.options.runtime.kubeConfig ? { kubeConfig: this.options.runtime.kubeConfig } : {}),
                signal,
                logger: runLogger,
                timeoutMs: hook.timeoutMs,
              }),
          },
        );
      } catch (err) {
        outcome = controller.signal.aborted
          ? { kind: "aborted", reason: (err as Error).message }
          : { kind: "failed", step: "(runner)", error: (err as Error).message, retryable: true };
      }
      claim.stop();
      const latest = claim.current;
      const result = await this.conclude(latest, outcome, controller.signal, withHeld).catch((err: unknown) => {
        runLogger.error(
          { err: (err as Error).message },
          "could not record the end of the run; its claim expires and it resumes",
        );
        return undefined;
      });
      if (result) {
        metrics?.runs.inc({ hook: hook.name, status: result.status.phase.toLowerCase() });
        runLogger.info(
          {
            phase: result.status.phase,
            reason: result.status.reason,
            durationMs: Date.now() - started,
            attempts: result.status.attempts,
            steps: result.status.steps.map((s) => `${s.name}:${s.phase}`),
          },
          `run ${result.status.phase.toLowerCase()}`,
        );
        if (isTerminal(result) && this.options.kubeEvents) void this.options.kubeEvents.record(result);
      }
    })().finally(() => {
      this.drainController.signal.removeEventListener("abort", onDrain);
      this.running.delete(name);
      metrics?.inFlight.set(this.running.size);
      this.kick();
    });
    this.running.set(name, { controller, done });
  }

  /**
   * Writes the outcome: Succeeded, Pending with a retry time, Failed, Superseded, or released
   * (shutdown); `settle` adds what the execution has not written yet (its last step's status).
   */
  private async conclude(
    run: HookRun,
    outcome: Outcome,
    signal: AbortSignal,
    settle: (status: HookRunStatus) => HookRunStatus,
  ): Promise<HookRun | undefined> {
    const reason: unknown = signal.reason;
    if (outcome.kind === "succeeded") {
      return await this.finish(
        run,
        { phase: "Succeeded", reason: "Succeeded", message: `${settle(run.status).steps.length} step(s) done` },
        settle,
      );
    }
    if (outcome.kind === "aborted") {
      if (reason instanceof CancelledError)
        return await this.finish(run, { phase: "Superseded", reason: "Superseded", message: reason.message }, settle);
      if (reason instanceof ClaimLostError) return undefined; // someone else owns it now
      // Shutdown: release the claim so another replica (or this one after a restart) resumes at once.
      return await this.writeOwned(run, (status) => {
        const { claim: _claim, ...rest } = settle(status);
        return { ...rest, phase: "Pending", reason: "Interrupted", message: outcome.reason };
      });
    }
    const deadline = Date.parse(deadlineOf(run));
    const delay = this.retryDelay(run.status.attempts, outcome.retryAfterMs);
    if (outcome.retryable && Date.now() + delay < deadline) {
      return await this.writeOwned(run, (status) => {
        const { claim: _claim, ...rest } = settle(status);
        return {
          ...rest,
          phase: "Pending",
          reason: "Retrying",
          message: `step ${outcome.step} failed: ${outcome.error}`,
          nextRetryAt: new Date(Date.now() + delay).toISOString(),
        };
      });
    }
    return await this.finish(
      run,
      {
        phase: "Failed",
        reason: outcome.retryable ? "DeadlineExceeded" : "StepFailed",
        message: `step ${outcome.step} failed: ${outcome.error}${outcome.retryable ? ` (no retry before the deadline ${deadlineOf(run)})` : ""}`,
      },
      settle,
    );
  }

  private retryDelay(attempts: number, retryAfterMs?: number): number {
    const exponential = Math.min(
      (this.options.retryBaseMs ?? RETRY_BASE_MS) * 2 ** Math.max(0, attempts - 1),
      RETRY_MAX_MS,
    );
    const jittered = exponential * (0.8 + 0.4 * this.random());
    return Math.min(Math.max(jittered, retryAfterMs ?? 0), RETRY_MAX_MS);
  }

  private async finish(
    run: HookRun,
    end: { phase: "Succeeded" | "Failed" | "Superseded"; reason: string; message: string },
    settle: (status: HookRunStatus) => HookRunStatus = (status) => status,
  ): Promise<HookRun | undefined> {
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

  /** A status write that re-reads on conflict and gives up if another replica took the run over. */
  private async writeOwned(
    run: HookRun,
    change: (status: HookRunStatus) => HookRunStatus,
  ): Promise<HookRun | undefined> {
    const { store, holder } = this.options;
    let current = run;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await store.updateStatus({ ...current, status: change(current.status) });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await store.fetch(run.metadata.name);
        if (!fresh || isTerminal(fresh)) return undefined;
        if (
          fresh.status.claim &&
          fresh.status.claim.holder !== holder &&
          this.heldElsewhere(fresh.status.claim, Date.now())
        )
          return undefined;
        current = fresh;
      }
    }
    throw new Error(`could not update hookrun ${run.metadata.name}: conflicting writers`);
  }

  /** Deletes finished runs past the TTL or beyond the newest keepPerHook of their hook; never a hook's memory of an object. */
  async applyRetention(now = Date.now()): Promise<number> {
    const { store, index, logger } = this.options;
    const finishedByHook = new Map<string, HookRun[]>();
    for (const run of store.list()) {
      if (isMarker(run) || !isTerminal(run)) continue;
      let list = finishedByHook.get(run.spec.hook);
      if (!list) finishedByHook.set(run.spec.hook, (list = []));
      list.push(run);
    }
    let removed = 0;
    for (const runs of finishedByHook.values()) {
      runs.sort((a, b) => compareAccepted(b, a));
      for (const [position, run] of runs.entries()) {
        const finished = Date.parse(run.status.completionTime ?? run.spec.acceptedAt);
        const expired = now - finished > this.retention.ttlMs || position >= this.retention.keepPerHook;
        if (!expired || index.retainedAsMemory(run)) continue;
        await store.delete(run.metadata.name).then(
          () => removed++,
          (err: unknown) =>
            logger.warn({ err: (err as Error).message, run: run.metadata.name }, "could not delete an expired run"),
        );
      }
    }
    return removed;
  }
}

function deadlineOf(run: HookRun): string {
  return run.status.deadline ?? run.spec.deadline;
}

export class CancelledError extends Error {
  override name = "CancelledError";
}
class ClaimLostError extends Error {
  override name = "ClaimLostError";
}
export class NotFoundError extends Error {
  override name = "NotFoundError";
}
export class StateError extends Error {
  override name = "StateError";
}

/**
 * A run this replica holds: status writes go through it (so they carry the latest
 * resourceVersion), and it renews the claim until stopped. When the claim is lost (another
 * replica took the run after it expired) or the run is cancelled, the execution is aborted.
 */
class Claim {
  current: HookRun;
  private readonly timer: NodeJS.Timeout;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: RunStore,
    run: HookRun,
    private readonly holder: string,
    private readonly claimMs: number,
    private readonly abort: (reason: Error) => void,
  ) {
    this.current = run;
    this.timer = setInterval(() => void this.update((s) => s).catch(() => undefined), Math.max(100, claimMs / 3));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Applies `change` to the latest status with a renewed claim; serialised, conflict-safe. */
  update(change: (status: HookRunStatus) => HookRunStatus): Promise<void> {
    const next = this.chain.then(() => this.write(change));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(change: (status: HookRunStatus) => HookRunStatus): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const status = change(this.current.status);
      try {
        this.current = await this.store.updateStatus({
          ...this.current,
          status: {
            ...status,
            claim: { holder: this.holder, expiresAt: new Date(Date.now() + this.claimMs).toISOString() },
          },
        });
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await this.store.fetch(this.current.metadata.name);
        if (!fresh || fresh.status.claim?.holder !== this.holder) {
          const lost = new ClaimLostError(`the claim on ${this.current.metadata.name} was lost`);
          this.abort(lost);
          throw lost;
        }
        this.current = fresh;
        if (fresh.status.cancelRequested) this.abort(new CancelledError(fresh.status.cancelRequested));
      }
    }
    throw new Error(`could not update hookrun ${this.current.metadata.name}: conflicting writers`);
  }
}

/** The status with this step's record in place of an earlier one of the same step. */
function withStep(status: HookRunStatus, step: StepStatus): HookRunStatus {
  return { ...status, steps: [...status.steps.filter((s) => s.name !== step.name), step] };
}
