// Retention: finished runs are deleted after a TTL and beyond the newest keepPerHook of each hook,
// except the newest run of each (hook, object), which is the hook's memory of that object.
import type { Logger } from "pino";
import type { RunnerSettings } from "../hookset/types.js";
import { DEFAULT_KEEP_PER_HOOK, DEFAULT_RETENTION_TTL_MS } from "../model/constants.js";
import { isMarker, isTerminal, type HookRun } from "./hookrun.js";
import type { RunIndex } from "./run-index.js";
import { compareAccepted } from "./run-order.js";
import type { RunStore } from "./store/types.js";

/** Finished runs older than ttlMs are deleted, and so are those beyond the newest keepPerHook of each hook. */
export type RetentionPolicy = RunnerSettings["retention"];

export const DEFAULT_RETENTION: RetentionPolicy = {
  ttlMs: DEFAULT_RETENTION_TTL_MS,
  keepPerHook: DEFAULT_KEEP_PER_HOOK,
};

/** Deletes the finished runs the policy no longer keeps; answers how many were deleted. */
export async function applyRetention(
  { store, index, logger }: { store: RunStore; index: RunIndex; logger: Logger },
  policy: RetentionPolicy,
  now: number,
): Promise<number> {
  let removed = 0;
  for (const runs of finishedByHook(store).values()) {
    runs.sort((a, b) => compareAccepted(b, a));
    for (const [position, run] of runs.entries()) {
      const finished = Date.parse(run.status.completionTime ?? run.spec.acceptedAt);
      const expired = now - finished > policy.ttlMs || position >= policy.keepPerHook;
      if (!expired || index.retainedAsMemory(run)) continue;
      // One run that cannot be deleted now does not stop the others; the next pass tries it again.
      await store.delete(run.metadata.name).then(
        () => removed++,
        (err: unknown) =>
          logger.warn({ err: (err as Error).message, run: run.metadata.name }, "could not delete an expired run"),
      );
    }
  }
  return removed;
}

function finishedByHook(store: RunStore): Map<string, HookRun[]> {
  const byHook = new Map<string, HookRun[]>();
  for (const run of store.list()) {
    if (isMarker(run) || !isTerminal(run)) continue;
    let list = byHook.get(run.spec.hook);
    if (!list) byHook.set(run.spec.hook, (list = []));
    list.push(run);
  }
  return byHook;
}
