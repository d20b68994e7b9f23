// The work queue: executes the HookRuns that are due, the way a Kubernetes controller works its
// objects. Different objects run in parallel (bounded by --max-concurrent-runs); runs of one
// (hook, object) run one at a time in accept order unless the hook says `concurrency: parallel`.
// A run is claimed (claim.ts) so exactly one replica executes it (run-execution.ts) and a dead
// replica's run is resumed by another after the claim expires. Retryable failures are retried with
// capped exponential backoff and jitter until the hook's deadline (run-end.ts), across restarts
// and replicas. This module schedules: which run to look at, when, and which to claim now.
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { Hook, HookSet } from "../hookset/types.js";
import { DEFAULT_DEADLINE_MS } from "../model/constants.js";
import type { StepRuntime } from "../steps/types.js";
import { acceptorClaim, CancelledError, CLAIM_MS, claimBy, heldElsewhere, startsOnAcceptorClaim } from "./claim.js";
import type { ExecutorDeps } from "./execute.js";
import { isMarker, isTerminal, type HookRun, type HookRunStatus } from "./hookrun.js";
import type { KubeEventRecorder } from "./kube-events.js";
import type { RunnerMetrics } from "./metrics.js";
import { deadlineOf, RunEnder, type RunEnd } from "./run-end.js";
import { executeClaimed, type ExecutionContext } from "./run-execution.js";
import type { RunIndex } from "./run-index.js";
import { compareAccepted } from "./run-order.js";
import { applyRetention, DEFAULT_RETENTION, type RetentionPolicy } from "./retention.js";
import type { RunSlots } from "./run-slots.js";
import { ConflictError, type RunStore } from "./store/types.js";

const TICK_MS = 1_000;
/**
 * A new run that another replica accepted is left to that replica this long before this one
 * tries to claim it: the accepting replica sees it first and claims it at once, and two replicas
 * racing for every new run made one claim write of each run fail (load on the API server while
 * the Sensor waits for it). Past this, any replica takes it (the accepting one is full or gone).
 */
export const HANDOFF_MS = 500;
const RETENTION_EVERY_MS = 60_000;

export interface QueueOptions {
  hookSet: HookSet;
  store: RunStore;
  index: RunIndex;
  runtime: StepRuntime;
  executor?: Omit<ExecutorDeps, "runtime">;
  /** This replica's identity in claims (pod name + a random suffix). */
  holder: string;
  maxConcurrentRuns: number;
  /** Slots shared with other HookSets' queues of this process (run-slots.ts); none: only maxConcurrentRuns. */
  slots?: RunSlots;
  /**
   * The hook a run executes: by default the HookSet's hook of its name. A HookSet resource's run
   * executes the definition of the generation it was accepted under (tenants/).
   */
  hookOf?: (run: HookRun) => Hook | undefined;
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

/** What a tick does with an unfinished run: leave it (and look again at `until`), end it, or claim it. */
type Next = { kind: "wait"; until?: number } | { kind: "end"; end: RunEnd } | { kind: "claim"; hook: Hook };

export class RunQueue {
  private readonly hooks: Map<string, Hook>;
  private readonly running = new Map<string, Running>();
  private readonly claimMs: number;
  private readonly handoffMs: number;
  /** When this replica first saw each unfinished run (for the hand-off, on this clock). */
  private readonly seenAt = new Map<string, number>();
  private readonly retention: RetentionPolicy;
  private readonly ender: RunEnder;
  private readonly execution: ExecutionContext;
  private timer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private retentionTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = false;
  private readonly drainController = new AbortController();
  private readonly wake = (): void => this.kick();

  constructor(private readonly options: QueueOptions) {
    this.hooks = new Map(options.hookSet.hooks.map((h) => [h.name, h]));
    this.claimMs = options.claimMs ?? CLAIM_MS;
    this.handoffMs = options.handoffMs ?? HANDOFF_MS;
    this.retention = options.retention ?? DEFAULT_RETENTION;
    const { hookSet, store, runtime, executor, holder, logger, metrics, kubeEvents, retryBaseMs } = options;
    this.ender = new RunEnder({ store, holder, retryBaseMs, random: options.random ?? Math.random });
    const { claimMs, ender } = this;
    this.execution = { hookSet, store, runtime, executor, holder, claimMs, logger, metrics, kubeEvents, ender };
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

  /**
   * Whether a run accepted now would be started at once (the acceptor's claim, claim.ts): every
   * unfinished run, running or waiting, fits in the free capacity. Else other replicas may take it
   * after the hand-off, as any run.
   */
  get hasRoom(): boolean {
    const { index, maxConcurrentRuns, slots } = this.options;
    return !this.stopped && index.activeCount < maxConcurrentRuns && (!slots || slots.free > 0);
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
    this.options.slots?.forget(this.wake);
    clearInterval(this.timer);
    clearInterval(this.retentionTimer);
    clearTimeout(this.wakeTimer);
    const all = () => Promise.allSettled([...this.running.values()].map((r) => r.done));
    const timer = setTimeout(() => this.drainController.abort(new Error("the runner is shutting down")), graceMs);
    await all();
    clearTimeout(timer);
  }

  /**
   * Runs a Failed run again from its first step that did not complete, with a fresh deadline.
   * ConflictError when the run changed since it was read.
   */
  async retry(run: HookRun): Promise<HookRun> {
    const deadlineMs = this.hookOf(run)?.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const status: HookRunStatus = {
      ...run.status,
      phase: "Pending",
      reason: "RetryRequested",
      message: "retry requested",
      nextRetryAt: new Date().toISOString(),
    };
    delete status.completionTime;
    // A manual retry gets a fresh deadline; the spec's deadline is the first one, the status' the current one.
    const updated = await this.options.store.updateStatus({
      ...run,
      status: { ...status, deadline: new Date(Date.now() + deadlineMs).toISOString() },
    });
    this.kick();
    return updated;
  }

  /** Deletes the finished runs the retention policy no longer keeps; never a hook's memory of an object. */
  async applyRetention(now = Date.now()): Promise<number> {
    return await applyRetention(this.options, this.retention, now);
  }

  /**
   * Claims what is due, up to the free capacity, all at once: a claim is an API write, and claiming
   * one run after another held a burst of a thousand runs to one write's latency each. Runs of one
   * object cannot be claimed together: the later one waits for the earlier (nextFor).
   */
  private async tick(): Promise<void> {
    const { maxConcurrentRuns } = this.options;
    // At capacity nothing can start: a finishing run kicks again.
    if (this.stopped || this.running.size >= maxConcurrentRuns) return;
    const now = Date.now();
    const claims: Array<Promise<void>> = [];
    for (const run of this.candidates()) {
      if (this.running.size + claims.length >= maxConcurrentRuns || this.stopped) break;
      const next = this.nextFor(run, now);
      if (next.kind === "wait") {
        if (next.until !== undefined) this.wakeBy(next.until);
      } else if (next.kind === "end") {
        await this.end(run, next.end);
      } else {
        const { slots } = this.options;
        // No slot free in the process: a run ending anywhere wakes this queue.
        if (slots && !slots.take(this.wake)) break;
        claims.push(
          this.claim(run).then(
            (claimed) => {
              if (claimed) this.execute(next.hook, claimed.run, claimed.unwritten);
              else slots?.give();
            },
            (err: unknown) => {
              slots?.give();
              throw err;
            },
          ),
        );
      }
    }
    await Promise.all(claims);
  }

  /** Unfinished runs not running here, in accept order. */
  private candidates(): HookRun[] {
    const { store, index } = this.options;
    const candidates: HookRun[] = [];
    for (const name of index.activeNames()) {
      if (this.running.has(name)) continue;
      const run = store.get(name);
      // A run without its context cannot be executed (a marker, or a baseline between its
      // creation and its status write).
      if (run && !isMarker(run) && run.spec.context) candidates.push(run);
    }
    return candidates.sort(compareAccepted);
  }

  /** What to do with the run now; the checks run in this order. */
  private nextFor(run: HookRun, now: number): Next {
    const { nextRetryAt, cancelRequested, message } = run.status;
    const claim = run.status.claim ?? acceptorClaim(run, this.claimMs);
    if (claim && heldElsewhere(claim, this.options.holder, now))
      return { kind: "wait", until: Date.parse(claim.expiresAt) };
    if (nextRetryAt && Date.parse(nextRetryAt) > now) return { kind: "wait", until: Date.parse(nextRetryAt) };
    if (run.spec.concurrency !== "parallel" && this.options.index.unfinishedBefore(run).length > 0)
      return { kind: "wait" };
    if (cancelRequested)
      return { kind: "end", end: { phase: "Superseded", reason: "Superseded", message: cancelRequested } };
    if (Date.parse(deadlineOf(run)) <= now) {
      const lastError = message ? `; last error: ${message}` : "";
      const end: RunEnd = {
        phase: "Failed",
        reason: "DeadlineExceeded",
        message: `the deadline ${deadlineOf(run)} passed${lastError}`,
      };
      return { kind: "end", end };
    }
    const hook = this.hookOf(run);
    // A run of a hook this runner does not serve (removed from hooks.yaml): left for retention.
    if (!hook) return { kind: "wait" };
    const handOffUntil = this.handOffUntil(run, now);
    if (handOffUntil > now) return { kind: "wait", until: handOffUntil };
    return { kind: "claim", hook };
  }

  /**
   * Ends a run without executing it (superseded, or past its deadline). A failed write is not
   * lost: the run stays unfinished, and the next tick ends it again.
   */
  private async end(run: HookRun, end: RunEnd): Promise<void> {
    try {
      await this.ender.finish(run, end);
    } catch (err) {
      this.options.logger.warn(
        { err: (err as Error).message, run: run.metadata.name },
        `could not end the run ${end.reason}; the next tick tries again`,
      );
    }
  }

  /**
   * Claims the run for this replica; undefined when another replica got there first. A run this
   * replica accepted a moment ago is claimed already (acceptorClaim): its Running status is written
   * with the first status write of the execution.
   */
  private async claim(run: HookRun): Promise<{ run: HookRun; unwritten: boolean } | undefined> {
    const claimed: HookRun = {
      ...run,
      status: {
        ...run.status,
        phase: "Running",
        attempts: run.status.attempts + 1,
        startTime: run.status.startTime ?? new Date().toISOString(),
        claim: claimBy(this.options.holder, this.claimMs),
      },
    };
    if (startsOnAcceptorClaim(run, this.options.holder, this.claimMs, Date.now()))
      return { run: claimed, unwritten: true };
    try {
      return { run: await this.options.store.updateStatus(claimed), unwritten: false };
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      throw err;
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

  private hookOf(run: HookRun): Hook | undefined {
    return this.options.hookOf ? this.options.hookOf(run) : this.hooks.get(run.spec.hook);
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

  private execute(hook: Hook, claimed: HookRun, unwritten: boolean): void {
    const { metrics } = this.options;
    const name = claimed.metadata.name;
    const controller = new AbortController();
    const onDrain = () => controller.abort(this.drainController.signal.reason);
    this.drainController.signal.addEventListener("abort", onDrain, { once: true });
    const done = executeClaimed(this.execution, hook, claimed, controller, unwritten).finally(() => {
      this.drainController.signal.removeEventListener("abort", onDrain);
      this.running.delete(name);
      this.options.slots?.give();
      metrics?.inFlight.set(this.running.size);
      this.kick();
    });
    this.running.set(name, { controller, done });
    metrics?.inFlight.set(this.running.size);
  }
}
