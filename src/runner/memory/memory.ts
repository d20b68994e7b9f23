// The hooks' memory of one HookSet: per (hook, object uid) the fingerprint the hook last handled
// and the object state it was for, kept in HookMemory shards (a fixed number per watch, shard.ts)
// instead of one HookRun per (hook, object). Replaying N objects used to cost N HookRuns, each a
// synchronous API write before the Sensor got its answer; it now costs a few shard writes in the
// background.
//
// Group commit. What the accept path remembers or forgets goes into its shard's batch and is
// visible to lookups at once. A shard's batch is written when it is due: once its changes have
// paused for flushDelayMs (longer for a large shard: batchDelayMs), at most MAX_POSTPONED more
// delays after its first, or at once when it holds maxBatch changes; one write per shard at a
// time, changes arriving meanwhile go with the next. A write is a merge patch of the changed
// entries, conditional on the resourceVersion it was computed from.
// When another replica wrote the shard since (409), the shard is read again and the batch merged
// into it: per (uid, hook) the entry of the newer object state wins (the run-order rule:
// resourceVersion, then accept time), a forget removes only entries not newer than the deletion.
// A failed write keeps its batch and is tried again, backing off.
//
// What a crash can lose: never a run, and never a fired change. A fired change is a HookRun
// created before the Sensor's answer, and the memory a hook consults is the newer of its entry and
// the newest HookRun of the object (RunIndex.recall), so a fired run counts before, and without,
// its entry being written; retention keeps that run until a written entry is as new (covers).
// What is lost is at most the last unwritten batch of each shard: baselines (first sights that
// fired nothing), the entries of fired runs (their runs still hold them), and forgets. The next
// replay of the event source records the baselines again and fires nothing for them (nothing was
// handled, so nothing is missed); a lost forget leaves the entry of an object that is gone, which
// no event reads again (uids are never reused).
//
// Freshness between replicas: the shards are listed once at start and a shard is read again when
// a write of it conflicts. observe() is where a shared informer of HookMemory objects plugs in so
// that one replica sees another's entries without writing; until then a replica learns another's
// baselines only through a conflict, and another's fired changes through the HookRuns.
import type { Logger } from "pino";
import type { HookSet } from "../../hookset/types.js";
import {
  HOOKMEMORY_API_VERSION,
  HOOKMEMORY_KIND,
  LABEL_HOOKSET,
  LABEL_HOOKSET_NAMESPACE,
  MANAGED_BY,
} from "../../model/constants.js";
import { memoryShardName } from "../../model/names.js";
import { watchesOf } from "../../trigger/index.js";
import { compareResourceVersions } from "../../model/resource-version.js";
import { ConflictError } from "../store/types.js";
import { patchOf, Shard, type Change, type ObjectState } from "./batch.js";
import {
  batchDelayMs,
  compareStates,
  fitsEntry,
  shardOf,
  type HookMemoryObject,
  type HookSetRef,
  type MemoryEntry,
} from "./shard.js";
import { ofHookSet, type EntriesPatch, type ShardStore } from "./store.js";

export type { ObjectState };

export const DEFAULT_FLUSH_DELAY_MS = 5_000;
export const DEFAULT_MAX_BATCH = 500;
/**
 * How many more delays a batch waits while changes keep coming. A burst then costs each shard one
 * write after it instead of one every delay during it (at 5,000 objects, the shard writes that
 * fell inside a burst were the difference between its slow and fast runs), and a steady stream
 * of changes writes each shard every four delays.
 */
export const MAX_POSTPONED = 3;
/** Conflicting writes of one shard before the batch waits for its next turn. */
const CONFLICT_ATTEMPTS = 5;
const MAX_BACKOFF_MS = 30_000;

export interface HookSetMemoryOptions {
  hookSet: HookSet;
  shards: ShardStore;
  /** Where the shards live: the runner's namespace, beside the HookRuns. */
  namespace: string;
  logger: Logger;
  /**
   * How long a shard's changes must pause before they are written together (longer for a large
   * shard: batchDelayMs), MAX_POSTPONED delays more at most. Every write rewrites the whole shard in
   * etcd, so a replay costs about (replay duration / 4 delays) times the memory's size in etcd
   * writes. Nothing written here is urgent: a fired change is held by its HookRun until its entry
   * is written, and a crash loses only baselines (which the next replay records again, firing
   * nothing) and forgets (an entry of a gone object). Five seconds keep a burst's entries from
   * costing a shard write per second each, which at 20,000 objects was a third of the API
   * server's work in a burst.
   */
  flushDelayMs?: number;
  /** A shard with this many unwritten changes is written at once. */
  maxBatch?: number;
  /** Injected for tests. */
  random?: () => number;
}

export class HookSetMemory {
  private readonly ref: HookSetRef;
  private readonly flushDelayMs: number;
  private readonly maxBatch: number;
  private readonly random: () => number;
  /** Each hook's watch: where its entries are written. */
  private readonly watchOf = new Map<string, string>();
  private readonly shards = new Map<string, Shard>();
  /**
   * Shards by index, of every watch this HookSet has stored shards of: a hook that moved to
   * another watch still finds what it remembered under the old one (the newer entry wins).
   */
  private readonly byIndex = new Map<number, Shard[]>();
  private stopped = false;
  private watcher: { stop(): void } | undefined;

  constructor(private readonly options: HookSetMemoryOptions) {
    const { hookSet } = options;
    this.ref = { namespace: hookSet.namespace, name: hookSet.name };
    this.flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.random = options.random ?? Math.random;
    this.serve(hookSet);
  }

  /**
   * The hooks' watches from now on (an edited HookSet resource): entries go to each hook's watch;
   * what a hook remembered under the watch it had before is still found (byIndex).
   */
  serve(hookSet: HookSet): void {
    this.watchOf.clear();
    for (const [watch, plan] of watchesOf(hookSet)) for (const hook of plan.hooks) this.watchOf.set(hook.name, watch);
  }

  /** Reads every shard of the HookSet, then follows what other replicas write (a shared store's watch). */
  async start(): Promise<void> {
    const { shards } = this.options;
    if (shards.watch) this.watcher = await shards.watch(this.ref, (shard) => this.observe(shard));
    else for (const shard of await shards.list(this.ref)) this.observe(shard);
  }

  /**
   * The seam for a shared informer of HookMemory objects: every one it lists or sees change goes
   * here, so this replica sees what another wrote. Also how listed and re-read shards come in.
   */
  observe(object: HookMemoryObject): void {
    if (!ofHookSet(object, this.ref)) return;
    const shard = this.shard(object.spec.watch, object.spec.shard, object.metadata.name);
    // A copy older than the one held (a watch event trailing our own write) changes nothing.
    if ((compareResourceVersions(object.metadata.resourceVersion, shard.resourceVersion) ?? 0) < 0) return;
    shard.resourceVersion = object.metadata.resourceVersion;
    let bytes = 0;
    shard.stored = new Map(
      Object.entries(object.entries ?? {}).map(([uid, hooks]) => {
        for (const [hook, entry] of Object.entries(hooks)) bytes += uid.length + hook.length + entry.length + 8;
        return [uid, hooks];
      }),
    );
    shard.bytes = bytes;
  }

  /** What the hook last handled of the object, written or not: the newest entry. */
  recall(hook: string, uid: string): MemoryEntry | undefined {
    let best: MemoryEntry | undefined;
    for (const shard of this.byIndex.get(shardOf(uid)) ?? []) {
      const entry = shard.current(uid, hook);
      if (entry && (!best || compareStates(entry, best) > 0)) best = entry;
    }
    return best;
  }

  /**
   * Whether a written entry is at least as new as this state: retention may then delete the run of
   * that state, the memory no longer needs it.
   */
  covers(hook: string, uid: string, state: ObjectState): boolean {
    return (this.byIndex.get(shardOf(uid)) ?? []).some((shard) => {
      const entry = shard.storedEntry(uid, hook);
      return entry !== undefined && compareStates(entry, state) >= 0;
    });
  }

  /**
   * Remembers the entry (batched, visible to recall at once). False when the fingerprint is too
   * long for a shard or the hook is not this HookSet's: the caller keeps it in a HookRun.
   */
  remember(hook: string, uid: string, entry: MemoryEntry): boolean {
    const watch = this.watchOf.get(hook);
    if (watch === undefined || !fitsEntry(entry.fingerprint)) return false;
    const shard = this.shard(watch, shardOf(uid));
    const current = shard.current(uid, hook);
    const order = current ? compareStates(current, entry) : -1;
    if (order > 0 || (order === 0 && current!.fingerprint === entry.fingerprint)) return true;
    shard.setPending(uid, hook, { entry });
    this.schedule(shard);
    return true;
  }

  /** The object is gone: its entries of this hook go, unless newer than the deletion. */
  forget(hook: string, uid: string, state: ObjectState): void {
    for (const shard of this.byIndex.get(shardOf(uid)) ?? []) {
      const current = shard.current(uid, hook);
      // Nothing to forget, or a state newer than the deletion (a late DELETE event): kept.
      if (!current || compareStates(current, state) > 0) continue;
      shard.setPending(uid, hook, { forget: state });
      this.schedule(shard);
    }
  }

  /** Changes not yet written, over all shards. */
  get unwritten(): number {
    let count = 0;
    for (const shard of this.shards.values()) count += shard.pendingCount;
    return count;
  }

  /** Writes every shard's batch now (one attempt each, in parallel); failures are logged. */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.shards.values()].map(async (shard) => {
        while (shard.writing) await shard.writing;
        if (shard.pendingCount > 0) await this.startWrite(shard);
      }),
    );
  }

  /** Stops writing. Unwritten changes are dropped, as in a crash: see the contract above. */
  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    for (const shard of this.shards.values()) {
      clearTimeout(shard.timer);
      shard.timer = undefined;
    }
  }

  private shard(watch: string, index: number, name = memoryShardName(this.ref, watch, index)): Shard {
    let shard = this.shards.get(name);
    if (!shard) {
      shard = new Shard(name, watch, index);
      this.shards.set(name, shard);
      let siblings = this.byIndex.get(index);
      if (!siblings) this.byIndex.set(index, (siblings = []));
      siblings.push(shard);
    }
    return shard;
  }

  private schedule(shard: Shard): void {
    if (this.stopped || shard.writing || shard.pendingCount === 0) return;
    // After a failure the batch waits its backoff, however large it grew.
    if (shard.failures === 0 && shard.pendingCount >= this.maxBatch) {
      void this.startWrite(shard);
      return;
    }
    if (shard.timer) return;
    const delay =
      shard.failures === 0
        ? batchDelayMs(this.flushDelayMs, shard.bytes)
        : Math.min(this.flushDelayMs * 2 ** shard.failures, MAX_BACKOFF_MS) * (0.8 + 0.4 * this.random());
    shard.postponed = 0;
    this.setTimer(shard, delay);
  }

  private setTimer(shard: Shard, delay: number): void {
    shard.timerSetAt = Date.now();
    shard.timer = setTimeout(() => this.due(shard, delay), delay);
    shard.timer.unref();
  }

  /**
   * The timer fired: another delay when a change came after it was set (not after a failure), at
   * most MAX_POSTPONED times; else the write. Changes of one event come within the millisecond
   * that set the timer, so they do not postpone it.
   */
  private due(shard: Shard, delay: number): void {
    if (shard.failures === 0 && shard.lastChangeAt > shard.timerSetAt && shard.postponed < MAX_POSTPONED) {
      shard.postponed++;
      this.setTimer(shard, delay);
      return;
    }
    void this.startWrite(shard);
  }

  private startWrite(shard: Shard): Promise<void> {
    clearTimeout(shard.timer);
    shard.timer = undefined;
    const writing = this.write(shard)
      .then(
        () => {
          shard.failures = 0;
        },
        (err: unknown) => {
          shard.failures++;
          this.options.logger.warn(
            { err: (err as Error).message, shard: shard.name, unwritten: shard.pendingCount },
            "could not write the hooks' memory; retrying (a crash before then loses only baselines, " +
              "which the next replay records again)",
          );
        },
      )
      .finally(() => {
        shard.writing = undefined;
        this.schedule(shard);
      });
    shard.writing = writing;
    return writing;
  }

  /** One write of the shard's batch, merged into the stored shard again after each conflict. */
  private async write(shard: Shard): Promise<void> {
    const batch: Array<[string, string, Change]> = [];
    for (const [uid, hooks] of shard.pending) for (const [hook, change] of hooks) batch.push([uid, hook, change]);
    const { shards } = this.options;
    for (let attempt = 1; ; attempt++) {
      const patch = patchOf(shard, batch);
      try {
        let stored: HookMemoryObject | undefined;
        if (shard.resourceVersion === undefined) {
          if (Object.keys(patch).length > 0) stored = await shards.create(this.newObject(shard, patch));
        } else if (Object.keys(patch).length > 0) {
          stored = await shards.patch(shard.name, shard.resourceVersion, patch);
        }
        if (stored) this.observe(stored);
        for (const [uid, hook, change] of batch) shard.written(uid, hook, change);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err;
        const fresh = await shards.read(shard.name);
        if (fresh) this.observe(fresh);
        else {
          shard.resourceVersion = undefined;
          shard.stored = new Map();
        }
        await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + this.random())));
      }
    }
  }

  private newObject(shard: Shard, patch: EntriesPatch): HookMemoryObject {
    const entries: Record<string, Record<string, string>> = {};
    for (const [uid, hooks] of Object.entries(patch)) {
      const set = Object.entries(hooks ?? {}).filter((e): e is [string, string] => e[1] !== null);
      if (set.length > 0) entries[uid] = Object.fromEntries(set);
    }
    return {
      apiVersion: HOOKMEMORY_API_VERSION,
      kind: HOOKMEMORY_KIND,
      metadata: {
        name: shard.name,
        namespace: this.options.namespace,
        labels: { ...MANAGED_BY, [LABEL_HOOKSET_NAMESPACE]: this.ref.namespace, [LABEL_HOOKSET]: this.ref.name },
      },
      spec: { hookSet: this.ref, watch: shard.watch, shard: shard.index },
      entries,
    };
  }
}
