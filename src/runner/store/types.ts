// Where HookRuns live. Two implementations of one interface: in memory (one replica, `npm start`)
// and as custom resources (--store kubernetes: shared by replicas, survives restarts). Both keep
// a local cache that the accept path and the queue read without a round trip; writes go to the
// backing store, and conditional status updates (resourceVersion) make claims safe between
// replicas.
import { API_GROUP } from "../../model/constants.js";
import type { HookRun } from "../hookrun.js";

export type RunChange = "added" | "modified" | "deleted";

export class ConflictError extends Error {
  override name = "ConflictError";
}

/** What a store hands out is read-only: build a new object to change it, and write it back. */
export interface RunStore {
  /** Loads the cache (and starts watching, for stores shared by replicas). */
  start(): Promise<void>;
  stop(): void;
  /** Creates the run unless one of that name exists; then answers the existing one. */
  create(run: HookRun): Promise<{ run: HookRun; created: boolean }>;
  /** From the cache. */
  get(name: string): HookRun | undefined;
  /** From the backing store, refreshing the cache. */
  fetch(name: string): Promise<HookRun | undefined>;
  /** Every cached run. */
  list(): Iterable<HookRun>;
  /** Replaces the status if metadata.resourceVersion is still current; else ConflictError. */
  updateStatus(run: HookRun): Promise<HookRun>;
  delete(name: string): Promise<void>;
  /** Called for every change seen, local or by another replica. */
  subscribe(listener: (run: HookRun, change: RunChange) => void): void;
  /**
   * Whether this process created the run (recently). Stores shared by replicas answer it so that
   * the replica that accepted a run claims it first and the others do not race it for the claim;
   * a store without it (one replica) has every run local.
   */
  createdHere?(name: string): boolean;
}

/**
 * Set on a HookRun created already finished (a baseline: Skipped), so that between its creation
 * and its status write no replica takes it for a Pending run.
 */
export const ACCEPTED_AS_ANNOTATION = `${API_GROUP}/accepted-as`;

/**
 * A status as stored. A HookRun created through the status subresource has none until its first
 * write; the CRD's defaults make the API server serve it as Pending (an older CRD serves none).
 * A run created finished (a baseline, ACCEPTED_AS_ANNOTATION) is Skipped from the start, before
 * its status write lands.
 */
export function withStatusDefaults(run: HookRun): HookRun {
  const status = (run.status ?? {}) as Partial<HookRun["status"]>;
  const acceptedSkipped = run.metadata.annotations?.[ACCEPTED_AS_ANNOTATION] === "Skipped";
  const unwritten = (status.phase ?? "Pending") === "Pending" && !status.attempts && !status.steps?.length;
  const phase = acceptedSkipped && unwritten ? "Skipped" : (status.phase ?? "Pending");
  if (
    status.phase === phase &&
    status.steps &&
    status.conditions &&
    typeof status.attempts === "number" &&
    run.metadata.labels
  )
    return run;
  return {
    ...run,
    metadata: { ...run.metadata, labels: run.metadata.labels ?? {} },
    status: {
      ...status,
      phase,
      attempts: status.attempts ?? 0,
      steps: status.steps ?? [],
      conditions: status.conditions ?? [],
    },
  };
}
