// The accept path: one event of one watch in, one HookRun per hook that fires out, persisted
// before the answer. Nothing here waits for a step: the queue (queue.ts) executes the runs. An
// error here (the store could not be written) makes the HTTP layer answer 503, so the Sensor
// retries exactly then; a redelivered event finds the runs it already created by name.
//
// A baseline (an object seen for the first time, nothing fired) is not a run: it goes into the
// hooks' memory (memory/memory.ts), batched, and the event is answered without waiting for any
// write. What a crash can lose of it, and why that is safe, is said there.
import type { Logger } from "pino";
import type { Hook, HookSet } from "../hookset/types.js";
import { evaluate, type Evaluation, type ObjectRef, type ResourceEvent } from "../trigger/index.js";
import {
  HOOKRUN_API_VERSION,
  HOOKRUN_KIND,
  LABEL_HOOK,
  LABEL_HOOKSET,
  LABEL_MARKER,
  LABEL_OBJECT_UID,
  MANAGED_BY,
} from "../model/constants.js";
import { markerName, runName } from "../model/names.js";
import {
  describeSubject,
  encodeContext,
  isTerminal,
  type HookRun,
  type HookRunStatus,
  type RunPhase,
} from "./hookrun.js";
import type { HookSetMemory } from "./memory/memory.js";
import type { RunnerMetrics } from "./metrics.js";
import type { Recalled, RunIndex } from "./run-index.js";
import { ACCEPTED_BY_ANNOTATION, acceptorClaim, CLAIM_MS } from "./claim.js";
import { AcceptClock } from "./run-order.js";
import { ACCEPTED_AS_ANNOTATION, ConflictError, type RunStore } from "./store/types.js";

export interface AcceptedRun {
  name: string;
  hook: string;
  phase: RunPhase;
  /** False when the run already existed (a redelivered event). */
  created: boolean;
  reason?: string;
}

export interface AcceptResult {
  eventId: string;
  runs: AcceptedRun[];
  /** Hooks of the watch that do not fire for this event, with the reason. */
  skipped: Array<{ hook: string; reason: string }>;
}

export interface AcceptorOptions {
  hookSet: HookSet;
  store: RunStore;
  index: RunIndex;
  /** The hooks' memory: baselines go there, and every run's fingerprint once the run exists. */
  memory: HookSetMemory;
  namespace: string;
  logger: Logger;
  now?: () => Date;
  /** Counts the events each hook evaluated and did not fire for, by reason code. */
  metrics?: Pick<RunnerMetrics, "skipped">;
  /** This replica's claim holder when it would start a new run at once (room in its queue); see acceptorClaim. */
  startsHere?: () => string | undefined;
  /** How long claims last (claim.ts). */
  claimMs?: number;
  /** Labels of every run and marker besides the HookSet's and hook's (a HookSet resource's namespace, generation). */
  runLabels?: () => Record<string, string>;
  /** The marker's name; by default markerName(hook), unique in a namespace with one HookSet's runs. */
  markerName?: (hook: string) => string;
}

export class Acceptor {
  private readonly now: () => Date;
  private readonly clock: AcceptClock;
  /**
   * Creates in flight by run name. One state can arrive twice at once (a DELETE on a watch's two
   * streams, a Sensor's redelivery, a resync beside its UPDATE): the second copy waits for the
   * first's create instead of writing again and getting 409.
   */
  private readonly creating = new Map<string, Promise<{ run: HookRun; created: boolean }>>();

  constructor(private readonly options: AcceptorOptions) {
    this.now = options.now ?? (() => new Date());
    this.clock = new AcceptClock(this.now);
  }

  /** Records when this hook set's hooks were first served (once; later starts find the markers). */
  async recordFirstServed(hookSet: HookSet = this.options.hookSet): Promise<void> {
    const { store, index } = this.options;
    await Promise.all(
      hookSet.hooks
        .filter((hook) => index.firstServed(hook.name) === undefined)
        .map((hook) => store.create(this.marker(hook))),
    );
  }

  async accept(hooks: readonly Hook[], event: ResourceEvent): Promise<AcceptResult> {
    const { store } = this.options;
    const result: AcceptResult = { eventId: event.context.id, runs: [], skipped: [] };
    const writes: Promise<void>[] = [];
    const uid = (event.data.body as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
    for (const hook of hooks) {
      const { recalled, evaluation } = this.evaluate(hook, event, uid);
      // A redelivered event (or the same object state under another event id) finds its run.
      const existing = store.get(runName(this.options.hookSet.name, hook.name, evaluation.identity));
      if (existing) {
        result.runs.push({
          name: existing.metadata.name,
          hook: hook.name,
          phase: existing.status.phase,
          created: false,
        });
        continue;
      }
      if (evaluation.remember === "forget" && evaluation.subject) writes.push(this.forget(hook, evaluation.subject));
      if (evaluation.decision.fires) {
        writes.push(this.persist(hook, event, evaluation, "Pending", result));
      } else {
        this.options.metrics?.skipped.inc({ hook: hook.name, reason: evaluation.decision.code });
        const kept = this.keepUnfired(hook, event, evaluation, recalled, result);
        if (kept) writes.push(kept);
      }
    }
    await Promise.all(writes);
    return result;
  }

  /**
   * The hooks for which accepting this event would fire or record a new state of an object they
   * have handled before: what a resync (resync.ts) hands to accept(). Hooks that never saw the
   * object are left to its ADD on the event source's own stream.
   */
  changedSinceHandled(hooks: readonly Hook[], event: ResourceEvent): Hook[] {
    const uid = (event.data.body as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
    if (typeof uid !== "string") return [];
    return hooks.filter((hook) => {
      const { recalled, evaluation } = this.evaluate(hook, event, uid);
      if (!recalled || this.options.store.get(runName(this.options.hookSet.name, hook.name, evaluation.identity)))
        return false;
      return (
        evaluation.decision.fires || (evaluation.remember === "set" && evaluation.fingerprint !== recalled.fingerprint)
      );
    });
  }

  private evaluate(hook: Hook, event: ResourceEvent, uid: unknown): { recalled?: Recalled; evaluation: Evaluation } {
    const recalled = typeof uid === "string" ? this.recall(hook, uid) : undefined;
    const firstServed = this.options.index.firstServed(hook.name);
    const evaluation = evaluate(hook.trigger, event, {
      ...(recalled ? { memory: { fingerprint: recalled.fingerprint, resourceVersion: recalled.resourceVersion } } : {}),
      ...(firstServed ? { hookFirstServedAt: firstServed } : {}),
    });
    return { ...(recalled ? { recalled } : {}), evaluation };
  }

  /** What the hook last handled of the object: the newer of its memory entry and newest run. */
  private recall(hook: Hook, uid: string): Recalled | undefined {
    const recalled = this.options.index.recall(hook.name, uid);
    // Held by a run alone (its entry lost in a crash, or a baseline HookRun of an earlier
    // version): into the entry as well, so that retention may delete the run in time.
    if (recalled?.run) {
      const { run: _run, ...entry } = recalled;
      this.options.memory.remember(hook.name, uid, entry);
    }
    return recalled;
  }

  /**
   * An evaluation that fired nothing. A new state to remember is either a baseline (a first sight:
   * into the memory's batch, no write before the answer) or, after a real change (`when` false,
   * an Argo CD phase …), a Skipped HookRun, visible with its reason. Either way a replay of that
   * state fires nothing.
   */
  private keepUnfired(
    hook: Hook,
    event: ResourceEvent,
    evaluation: Evaluation,
    recalled: Recalled | undefined,
    result: AcceptResult,
  ): Promise<void> | undefined {
    const newState =
      evaluation.remember === "set" &&
      evaluation.fingerprint !== undefined &&
      evaluation.fingerprint !== recalled?.fingerprint;
    const baseline = !evaluation.decision.fires && evaluation.decision.code === "baseline";
    if (!newState || (baseline && this.rememberBaseline(hook, evaluation))) {
      result.skipped.push({ hook: hook.name, reason: evaluation.decision.reason });
      return undefined;
    }
    return this.persist(hook, event, evaluation, "Skipped", result);
  }

  /**
   * A first sight (nothing handled yet, nothing fired) into the memory's batch: no write before
   * the answer. False when the memory cannot keep it (a fingerprint too long for a shard).
   */
  private rememberBaseline(hook: Hook, evaluation: Evaluation): boolean {
    const subject = evaluation.subject;
    // Without an object there is nothing to remember it of.
    if (!subject) return true;
    return this.options.memory.remember(hook.name, subject.uid, {
      fingerprint: evaluation.fingerprint!,
      resourceVersion: subject.resourceVersion,
      acceptedAt: this.clock.next().toISOString(),
    });
  }

  private async persist(
    hook: Hook,
    event: ResourceEvent,
    evaluation: Evaluation,
    phase: "Pending" | "Skipped",
    result: AcceptResult,
  ): Promise<void> {
    const { logger } = this.options;
    const now = this.clock.next();
    const run = this.newRun(hook, event, evaluation, now);
    if (phase === "Skipped") {
      run.status = {
        ...run.status,
        phase: "Skipped",
        reason: "NotFired",
        message: evaluation.decision.reason,
        completionTime: now.toISOString(),
      };
      run.metadata.annotations = { [ACCEPTED_AS_ANNOTATION]: "Skipped" };
      delete run.spec.context;
    }
    const { run: stored, created } = await this.createOnce(run);
    // Only once the run exists: an entry of a change whose run was never stored would make the
    // Sensor's retry of the event find it handled.
    if (evaluation.remember === "set" && evaluation.fingerprint && evaluation.subject)
      this.options.memory.remember(hook.name, evaluation.subject.uid, {
        fingerprint: evaluation.fingerprint,
        resourceVersion: stored.spec.object?.resourceVersion,
        acceptedAt: stored.spec.acceptedAt,
      });
    result.runs.push({
      name: stored.metadata.name,
      hook: hook.name,
      phase: stored.status.phase,
      created,
      ...(phase === "Skipped" ? { reason: evaluation.decision.reason } : {}),
    });
    if (created && phase === "Pending") {
      logger.info(
        {
          hook: hook.name,
          run: stored.metadata.name,
          eventId: event.context.id,
          subject: stored.spec.subject,
          reason: evaluation.decision.reason,
        },
        "run accepted",
      );
      if (hook.concurrency === "replace") await this.supersedeEarlier(stored);
    }
  }

  /** The run created once, however many events for it arrive while the create is in flight. */
  private async createOnce(run: HookRun): Promise<{ run: HookRun; created: boolean }> {
    const name = run.metadata.name;
    const inFlight = this.creating.get(name);
    if (inFlight) return { run: (await inFlight).run, created: false };
    const create = this.options.store.create(run).finally(() => this.creating.delete(name));
    this.creating.set(name, create);
    return await create;
  }

  /** `concurrency: replace`: earlier pending runs of the object end Superseded, a running one is asked to stop. */
  private async supersedeEarlier(run: HookRun): Promise<void> {
    const { store, index } = this.options;
    for (const name of index.unfinishedBefore(run)) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const earlier = store.get(name) ?? (await store.fetch(name));
        if (!earlier || isTerminal(earlier)) break;
        const message = `superseded by ${run.metadata.name}`;
        let status: HookRunStatus;
        // Running, or started by its acceptor with its Running status not written yet
        const acceptor = acceptorClaim(earlier, this.options.claimMs ?? CLAIM_MS);
        if (earlier.status.phase === "Running" || (acceptor && Date.parse(acceptor.expiresAt) > this.now().getTime())) {
          status = { ...earlier.status, cancelRequested: message };
        } else {
          const { claim: _claim, ...rest } = earlier.status;
          status = {
            ...rest,
            phase: "Superseded",
            reason: "Superseded",
            message,
            completionTime: this.now().toISOString(),
          };
        }
        try {
          await store.updateStatus({ ...earlier, status });
          break;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          await store.fetch(name);
        }
      }
    }
  }

  /** The object is gone: its memory entry and finished runs are no longer anyone's memory. */
  private async forget(hook: Hook, subject: ObjectRef): Promise<void> {
    const { store, index, memory, logger } = this.options;
    const { uid, resourceVersion } = subject;
    memory.forget(hook.name, uid, { resourceVersion, acceptedAt: this.clock.next().toISOString() });
    for (const name of index.runsOfObject(hook.name, uid)) {
      const run = store.get(name);
      if (!run || !isTerminal(run)) continue;
      await store
        .delete(name)
        .catch((err: unknown) =>
          logger.warn({ err: (err as Error).message, run: name }, "could not delete the run of a deleted object"),
        );
    }
  }

  private newRun(hook: Hook, event: ResourceEvent, evaluation: Evaluation, now: Date): HookRun {
    const { hookSet, namespace } = this.options;
    const subject = evaluation.subject;
    const startsHere = this.options.startsHere?.();
    return {
      apiVersion: HOOKRUN_API_VERSION,
      kind: HOOKRUN_KIND,
      metadata: {
        name: runName(hookSet.name, hook.name, evaluation.identity),
        namespace,
        ...(startsHere ? { annotations: { [ACCEPTED_BY_ANNOTATION]: startsHere } } : {}),
        labels: {
          ...MANAGED_BY,
          ...this.options.runLabels?.(),
          [LABEL_HOOKSET]: hookSet.name,
          [LABEL_HOOK]: hook.name,
          ...(subject && /^[A-Za-z0-9._-]{1,63}$/.test(subject.uid) ? { [LABEL_OBJECT_UID]: subject.uid } : {}),
        },
      },
      spec: {
        hookSet: hookSet.name,
        hook: hook.name,
        eventId: event.context.id,
        identity: evaluation.identity,
        acceptedAt: now.toISOString(),
        subject: describeSubject(subject),
        ...(subject ? { object: subject } : {}),
        ...(evaluation.fingerprint ? { fingerprint: evaluation.fingerprint } : {}),
        concurrency: hook.concurrency,
        deadline: new Date(now.getTime() + hook.deadlineMs).toISOString(),
        context: encodeContext(evaluation.scope),
      },
      status: { phase: "Pending", attempts: 0, steps: [], conditions: [] },
    };
  }

  private marker(hook: Hook): HookRun {
    const { hookSet, namespace } = this.options;
    const now = this.now().toISOString();
    return {
      apiVersion: HOOKRUN_API_VERSION,
      kind: HOOKRUN_KIND,
      metadata: {
        name: (this.options.markerName ?? markerName)(hook.name),
        namespace,
        labels: {
          ...MANAGED_BY,
          ...this.options.runLabels?.(),
          [LABEL_HOOKSET]: hookSet.name,
          [LABEL_HOOK]: hook.name,
          [LABEL_MARKER]: "first-served",
        },
      },
      spec: {
        hookSet: hookSet.name,
        hook: hook.name,
        eventId: "",
        identity: "first-served",
        acceptedAt: now,
        subject: "",
        concurrency: hook.concurrency,
        deadline: now,
      },
      status: {
        phase: "Skipped",
        reason: "FirstServed",
        message: `the runner first served hook ${hook.name} at ${now}; add hooks fire for objects created after it`,
        attempts: 0,
        steps: [],
        conditions: [],
      },
    };
  }
}
