// Claims: how exactly one replica executes a run. A replica claims a run with a
// resourceVersion-conditional status write that names it (the holder) and an expiry; while it
// executes the run it renews the claim, and every status write goes through the claim, so it
// carries the latest resourceVersion. A replica that dies stops renewing, and another takes the
// run once the claim has expired.
import type { Logger } from "pino";
import { API_GROUP } from "../model/constants.js";
import type { HookRun, HookRunStatus } from "./hookrun.js";
import { ConflictError, type RunStore } from "./store/types.js";

/** How long a claim lasts without renewal: a dead replica's runs resume within this. */
export const CLAIM_MS = 15_000;

/** Why an execution was aborted: another replica asked the run to stop (concurrency: replace). */
export class CancelledError extends Error {
  override name = "CancelledError";
}

/** Why an execution was aborted: another replica took the run over after the claim expired. */
export class ClaimLostError extends Error {
  override name = "ClaimLostError";
}

export type ClaimRecord = NonNullable<HookRunStatus["claim"]>;

/** The claim a status carries when `holder` claims (or renews) it now. */
export function claimBy(holder: string, claimMs: number): ClaimRecord {
  return { holder, expiresAt: new Date(Date.now() + claimMs).toISOString() };
}

/** Names the replica that accepted a new run and starts it at once: see acceptorClaim. */
export const ACCEPTED_BY_ANNOTATION = `${API_GROUP}/accepted-by`;

/**
 * The claim a new run carries from its creation, without a write of its own: the replica that
 * accepts a run while it has room to start it names itself in an annotation of the create, and
 * holds the run for claimMs from its accept time. A claim write per run was a third of what a run
 * cost the API server. It ends with the run's first status write, which carries a claim as always.
 */
export function acceptorClaim(run: HookRun, claimMs: number): ClaimRecord | undefined {
  const holder = run.metadata.annotations?.[ACCEPTED_BY_ANNOTATION];
  if (!holder || run.status.claim || run.status.attempts > 0) return undefined;
  const accepted = Date.parse(run.spec.acceptedAt);
  if (!Number.isFinite(accepted)) return undefined;
  return { holder, expiresAt: new Date(accepted + claimMs).toISOString() };
}

/**
 * Whether `holder` may start the run on its acceptor's claim, without a claim write: only early
 * (a sixth of claimMs), so that the first renewal, a third of claimMs after the start, is written
 * long before the claim runs out for the other replicas.
 */
export function startsOnAcceptorClaim(run: HookRun, holder: string, claimMs: number, now: number): boolean {
  return acceptorClaim(run, claimMs)?.holder === holder && now <= Date.parse(run.spec.acceptedAt) + claimMs / 6;
}

/**
 * A fresh copy of a run this replica executes, read after a conflicting write: when it was started
 * on its acceptor's claim, the API server has not seen its Running status, attempt and start time
 * yet, and they must not be lost with the stale copy.
 */
export function withExecution(fresh: HookRun, local: HookRun): HookRun {
  if (fresh.status.attempts >= local.status.attempts) return fresh;
  const { phase, attempts, startTime } = local.status;
  return { ...fresh, status: { ...fresh.status, phase, attempts, ...(startTime ? { startTime } : {}) } };
}

/**
 * Whether another live process holds the claim. Holders are "<pod>/<process>": a claim of this
 * pod by an earlier process (a restarted container) is dead, whatever its expiry says.
 */
export function heldElsewhere(claim: ClaimRecord, holder: string, now: number): boolean {
  if (claim.holder === holder) return false;
  const pod = (name: string) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : undefined);
  if (pod(claim.holder) !== undefined && pod(claim.holder) === pod(holder)) return false;
  return Date.parse(claim.expiresAt) > now;
}

export interface ClaimOptions {
  store: RunStore;
  holder: string;
  claimMs: number;
  logger: Logger;
  /** Aborts the execution: the claim was lost, or the run was cancelled. */
  abort(reason: Error): void;
  /**
   * A run started on its acceptor's claim still reads Pending in the API: its Running status and
   * claim are written this long after the start if it is still going (a quick run never pays it).
   */
  unwrittenForMs?: number;
}

/** How long a run started on its acceptor's claim may run before its Running status is written. */
export const UNWRITTEN_RUNNING_MS = 1_000;

/**
 * A run this replica holds: status writes go through it (so they carry the latest
 * resourceVersion), and it renews the claim until stopped. When the claim is lost (another
 * replica took the run after it expired) or the run is cancelled, the execution is aborted.
 */
export class Claim {
  current: HookRun;
  private readonly timer: NodeJS.Timeout;
  private readonly firstWrite: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    run: HookRun,
    private readonly options: ClaimOptions,
  ) {
    this.current = run;
    this.timer = setInterval(() => void this.renew(), Math.max(100, options.claimMs / 3));
    this.timer.unref();
    if (options.unwrittenForMs !== undefined) {
      this.firstWrite = setTimeout(() => void this.renew(), options.unwrittenForMs);
      this.firstWrite.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.firstWrite);
  }

  /** Applies `change` to the latest status with a renewed claim; serialised, conflict-safe. */
  update(change: (status: HookRunStatus) => HookRunStatus): Promise<void> {
    const next = this.chain.then(() => this.write(change));
    // The chain only orders the writes: a failed write is its caller's to handle (it gets `next`),
    // and the writes after it still run.
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * A failed renewal is not the end of the execution: a lost claim has aborted it already, and
   * after any other failure (the API server did not answer) the next renewal, a third of the
   * claim's time later, tries again before the claim expires.
   */
  private async renew(): Promise<void> {
    try {
      await this.update((status) => status);
    } catch (err) {
      const lost = err instanceof ClaimLostError;
      this.options.logger[lost ? "debug" : "warn"](
        { err: (err as Error).message, run: this.current.metadata.name },
        lost ? "the claim was lost; the execution is aborted" : "could not renew the claim; trying again",
      );
    }
  }

  private async write(change: (status: HookRunStatus) => HookRunStatus): Promise<void> {
    const { store, holder, claimMs, abort } = this.options;
    for (let attempt = 0; attempt < 5; attempt++) {
      const status = change(this.current.status);
      try {
        this.current = await store.updateStatus({
          ...this.current,
          status: { ...status, claim: claimBy(holder, claimMs) },
        });
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await store.fetch(this.current.metadata.name);
        const holderNow = fresh && (fresh.status.claim?.holder ?? acceptorClaim(fresh, claimMs)?.holder);
        if (!fresh || holderNow !== holder) {
          const lost = new ClaimLostError(`the claim on ${this.current.metadata.name} was lost`);
          abort(lost);
          throw lost;
        }
        this.current = withExecution(fresh, this.current);
        if (fresh.status.cancelRequested) abort(new CancelledError(fresh.status.cancelRequested));
      }
    }
    throw new Error(`could not update hookrun ${this.current.metadata.name}: conflicting writers`);
  }
}
