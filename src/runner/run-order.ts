// Which of two runs is newer. The hook's memory is the fingerprint of the newest of its memory
// entry and its runs of each (hook, object), so this order must follow the object's history and
// must never tie between two different states: the run index (which retention asks), the memory's
// merge (memory/), `explain` and the queue's per-object order all use this one rule.
import { compareResourceVersions } from "../model/resource-version.js";
import type { HookRun } from "./hookrun.js";

/** -1, 0 or 1 as `a` sorts before, with or after `b` (UTF-16 code units, as `<` does). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** What the order reads of a run. */
export interface RunOrderKey {
  name: string;
  acceptedAt: string;
  resourceVersion?: string | undefined;
}

export function runOrderKey(run: HookRun): RunOrderKey {
  return {
    name: run.metadata.name,
    acceptedAt: run.spec.acceptedAt,
    resourceVersion: run.spec.object?.resourceVersion,
  };
}

/**
 * Two runs of one (hook, object), older first. The rule:
 *  1. the object's resourceVersion, when both runs carry one: the state written later is newer,
 *     whatever order the events arrived in or how close together they were accepted;
 *  2. else the accept time, which one runner makes strictly increasing (see Acceptor), so two
 *     accepts of one process never share it;
 *  3. else the name, only for runs of the same object state (same resourceVersion and instant),
 *     whose fingerprints are equal, so either may stand for the memory.
 */
export function compareRunKeys(a: RunOrderKey, b: RunOrderKey): number {
  const byVersion = compareResourceVersions(a.resourceVersion, b.resourceVersion);
  if (byVersion) return byVersion;
  if (a.acceptedAt !== b.acceptedAt) return compareStrings(a.acceptedAt, b.acceptedAt);
  return compareStrings(a.name, b.name);
}

/** Two runs of one (hook, object), older first: see compareRunKeys. */
export function compareRuns(a: HookRun, b: HookRun): number {
  return compareRunKeys(runOrderKey(a), runOrderKey(b));
}

/**
 * Runs of any objects in accept order (the queue's order of work, retention's "newest N of a
 * hook", listings). resourceVersions of different objects say nothing about which change came
 * first for the user, so they are not read here.
 */
export function compareAccepted(a: HookRun, b: HookRun): number {
  return compareRunKeys(
    { name: a.metadata.name, acceptedAt: a.spec.acceptedAt },
    { name: b.metadata.name, acceptedAt: b.spec.acceptedAt },
  );
}

/**
 * Accept times that never repeat within one process: the wall clock, or one millisecond past the
 * last time handed out when the clock has not moved on (two accepts in one millisecond, or a
 * clock stepped back). A restarted process starts from the wall clock, which has moved on.
 */
export class AcceptClock {
  private last = 0;

  constructor(private readonly now: () => Date = () => new Date()) {}

  next(): Date {
    const next = Math.max(this.now().getTime(), this.last + 1);
    this.last = next;
    return new Date(next);
  }
}
