// The /runs API of one HookSet's runs: list (newest first, at most 500, by hook), one run, and the
// retry of a Failed run. `serve -f` mounts it at /runs; a runner serving HookSet resources mounts
// each HookSet's at /namespaces/<ns>/hooksets/<name>/runs (tenants/server.ts), behind that
// HookSet's token.
import { Router, type RequestHandler } from "express";
import { isMarker, type HookRun } from "./hookrun.js";
import { httpError } from "./http-errors.js";
import type { RunQueue } from "./queue.js";
import { compareAccepted } from "./run-order.js";
import { ConflictError, type RunStore } from "./store/types.js";

export interface RunsSource {
  store: RunStore;
  queue: RunQueue;
}

/** The routes `/`, `/:name` and `/:name/retry` of the runs `source(req)` finds, each behind `authenticate`. */
export function runsApi(authenticate: RequestHandler, source: (params: Record<string, string>) => RunsSource): Router {
  const router = Router({ mergeParams: true });
  router.get("/", authenticate, (req, res) => {
    const { store } = source(req.params as Record<string, string>);
    const hook = typeof req.query.hook === "string" ? req.query.hook : undefined;
    const runs = [...store.list()]
      .filter((r) => !isMarker(r) && (!hook || r.spec.hook === hook))
      .sort((a, b) => compareAccepted(b, a))
      .slice(0, 500)
      .map(publicRun);
    res.json({ runs });
  });
  router.get("/:run", authenticate, (req, res, next) => {
    const { store } = source(req.params as Record<string, string>);
    const run = store.get(String(req.params.run));
    if (!run || isMarker(run)) return next(httpError("run_not_found", String(req.params.run)));
    res.json(publicRun(run));
  });
  router.post("/:run/retry", authenticate, (req, res, next) => {
    retry(source(req.params as Record<string, string>), String(req.params.run)).then(
      (run) => res.json(publicRun(run)),
      next,
    );
  });
  return router;
}

/** Runs a Failed run again (queue.retry), after the checks a client is answered 404 or 409 for. */
async function retry({ store, queue }: RunsSource, name: string): Promise<HookRun> {
  const run = await store.fetch(name);
  if (!run) throw httpError("retry_run_not_found", name);
  if (run.status.phase !== "Failed") throw httpError("not_retryable", name, run.status.phase);
  try {
    return await queue.retry(run);
  } catch (err) {
    throw err instanceof ConflictError ? httpError("run_conflict", err.message) : err;
  }
}

/** What /runs shows: the run without its encoded context (the objects). */
export function publicRun(run: HookRun): Omit<HookRun, "spec"> & { spec: Omit<HookRun["spec"], "context"> } {
  const { context: _context, ...spec } = run.spec;
  return { ...run, spec };
}
