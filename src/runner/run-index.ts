// Views over the cached HookRuns that the accept path and the queue need on every event, kept up
// to date from the store's change feed instead of scanning every run each time:
//  - recall: per (hook, object uid), what the hook last handled: the newer of its memory entry
//    (HookSetMemory) and the newest run;
//  - active: the runs not yet finished, by (hook, object uid), in accept order;
//  - firstServed: per hook, when the runner first served it (the marker run).
import { LABEL_HOOK } from "../model/constants.js";
import { isMarker, isTerminal, type HookRun } from "./hookrun.js";
import type { ObjectState } from "./memory/memory.js";
import { compareStates, type MemoryEntry } from "./memory/shard.js";
import { compareRunKeys, type RunOrderKey } from "./run-order.js";
import type { RunChange, RunStore } from "./store/types.js";

/** What the index reads of the hooks' memory (HookSetMemory). */
export interface MemoryEntries {
  recall(hook: string, uid: string): MemoryEntry | undefined;
  covers(hook: string, uid: string, state: ObjectState): boolean;
}

/** What a hook consults: an entry, or the run that is newer than any entry (`run` names it). */
export type Recalled = MemoryEntry & { run?: string };

interface Entry extends RunOrderKey {
  fingerprint?: string;
  terminal: boolean;
}

export function objectKey(hook: string, uid: string | undefined, runName: string): string {
  // A run without an object (an event without one) is its own sequence.
  return `${hook}/${uid ?? `run:${runName}`}`;
}

export class RunIndex {
  private readonly byObject = new Map<string, Map<string, Entry>>();
  private readonly keyOf = new Map<string, string>();
  private readonly active = new Set<string>();
  private readonly markers = new Map<string, string>();

  constructor(
    store: RunStore,
    private readonly entries?: MemoryEntries,
  ) {
    for (const run of store.list()) this.apply(run, "added");
    store.subscribe((run, change) => this.apply(run, change));
  }

  apply(run: HookRun, change: RunChange): void {
    const name = run.metadata.name;
    if (isMarker(run)) {
      const hook = run.metadata.labels[LABEL_HOOK] ?? run.spec.hook;
      if (change === "deleted") this.markers.delete(hook);
      else this.markers.set(hook, run.spec.acceptedAt);
      return;
    }
    const key = objectKey(run.spec.hook, run.spec.object?.uid, name);
    if (change === "deleted") {
      this.byObject.get(key)?.delete(name);
      if (this.byObject.get(key)?.size === 0) this.byObject.delete(key);
      this.keyOf.delete(name);
      this.active.delete(name);
      return;
    }
    let entries = this.byObject.get(key);
    if (!entries) this.byObject.set(key, (entries = new Map()));
    const terminal = isTerminal(run);
    entries.set(name, {
      name,
      acceptedAt: run.spec.acceptedAt,
      resourceVersion: run.spec.object?.resourceVersion,
      ...(run.spec.fingerprint ? { fingerprint: run.spec.fingerprint } : {}),
      terminal,
    });
    this.keyOf.set(name, key);
    if (terminal) this.active.delete(name);
    else this.active.add(name);
  }

  /** The newest run's fingerprint for this object (its memory entry aside: see recall). */
  memory(hook: string, uid: string): { fingerprint: string; run: string } | undefined {
    const newest = this.newest(objectKey(hook, uid, ""));
    return newest?.fingerprint ? { fingerprint: newest.fingerprint, run: newest.name } : undefined;
  }

  /**
   * What the hook last handled for this object: the newer, by the run-order rule, of its memory
   * entry and its newest run, so a fired run counts before its entry is written (and after a
   * crash that lost it). A newest run without a fingerprint (a delete) means nothing remembered.
   */
  recall(hook: string, uid: string): Recalled | undefined {
    const entry = this.entries?.recall(hook, uid);
    const newest = this.newest(objectKey(hook, uid, ""));
    if (!newest || (entry && compareStates(newest, entry) <= 0)) return entry;
    if (!newest.fingerprint) return undefined;
    return {
      fingerprint: newest.fingerprint,
      resourceVersion: newest.resourceVersion,
      acceptedAt: newest.acceptedAt,
      run: newest.name,
    };
  }

  /**
   * Whether retention must keep the run as the hook's memory of its object: it is the newest run
   * of its (hook, object) and no written memory entry is as new.
   */
  retainedAsMemory(run: HookRun): boolean {
    const key = this.keyOf.get(run.metadata.name);
    if (key === undefined || this.newest(key)?.name !== run.metadata.name) return false;
    const uid = run.spec.object?.uid;
    return !(
      uid &&
      this.entries?.covers(run.spec.hook, uid, {
        resourceVersion: run.spec.object?.resourceVersion,
        acceptedAt: run.spec.acceptedAt,
      })
    );
  }

  /** Runs of the same (hook, object) accepted before `run` and not finished. */
  unfinishedBefore(run: HookRun): string[] {
    const key = this.keyOf.get(run.metadata.name);
    const entries = key ? this.byObject.get(key) : undefined;
    const self = entries?.get(run.metadata.name);
    if (!entries || !self) return [];
    const out: string[] = [];
    for (const entry of entries.values()) {
      if (entry.terminal || entry.name === run.metadata.name) continue;
      if (compareRunKeys(entry, self) < 0) out.push(entry.name);
    }
    return out;
  }

  /** Names of the runs of (hook, uid), finished or not. */
  runsOfObject(hook: string, uid: string): string[] {
    return [...(this.byObject.get(objectKey(hook, uid, ""))?.keys() ?? [])];
  }

  /** How many runs are not finished. */
  get activeCount(): number {
    return this.active.size;
  }

  activeNames(): Iterable<string> {
    return this.active;
  }

  firstServed(hook: string): string | undefined {
    return this.markers.get(hook);
  }

  private newest(key: string): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of this.byObject.get(key)?.values() ?? []) {
      if (!best || compareRunKeys(entry, best) > 0) best = entry;
    }
    return best;
  }
}
