// The runner of every HookSet resource (`serve --hooksets-from-cluster`): one HTTP server, one
// sensor endpoint whose routes name the HookSet (/namespaces/<ns>/hooksets/<name>/watches/<w>),
// each authenticated with that HookSet's own token, and each HookSet's /runs API under the same
// prefix behind the same token. Admission (pending requests, body bytes) and the runs executing
// at once (RunSlots) are limits of the process, shared by all HookSets.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { drainLimits } from "../http-answer.js";
import { httpError } from "../http-errors.js";
import { RunnerMetrics } from "../metrics.js";
import { decodeTrigger } from "../route.js";
import { RunSlots } from "../run-slots.js";
import { runsApi } from "../runs-api.js";
import { SensorEndpoint } from "../sensor-endpoint.js";
import {
  baseApp,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_INFLIGHT_BODY_BYTES,
  DEFAULT_MAX_PENDING_REQUESTS,
  finishApp,
} from "../server.js";
import { MergedMetrics } from "./metrics.js";
import { HookSetRegistry } from "./registry.js";
import type { TenantDeps } from "./tenant.js";

const PRUNE_EVERY_MS = 30_000;

export interface TenantRunnerOptions extends Omit<TenantDeps, "slots" | "logger"> {
  logger: Logger;
  /** Runs executing at once in this process, over all HookSets. */
  maxConcurrentRuns: number;
  maxPendingRequests?: number;
  maxBodyBytes?: number;
  maxInflightBodyBytes?: number;
  /** The process's own metrics (default metrics on); each HookSet has its own besides. */
  metrics?: RunnerMetrics;
}

export interface TenantRunner {
  registry: HookSetRegistry;
  slots: RunSlots;
  metrics: MergedMetrics;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Answers 503 from now on; every HookSet's running runs finish within graceMs, then are aborted. */
  drain(graceMs: number): Promise<void>;
  readonly draining: boolean;
}

export function createTenantRunner(options: TenantRunnerOptions): TenantRunner {
  const { logger } = options;
  const own = options.metrics ?? new RunnerMetrics();
  const slots = new RunSlots(options.maxConcurrentRuns);
  const registry = new HookSetRegistry({ ...options, slots }, logger);
  const metrics = new MergedMetrics(own.registry, () => registry.tenants().map((t) => t.metrics.registry));
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let draining = false;
  // Definitions of earlier generations go once their last run ends.
  const pruning = setInterval(() => registry.tenants().forEach((t) => t.prune()), PRUNE_EVERY_MS);
  pruning.unref();

  const app = baseApp({ registry: metrics }, () =>
    draining ? undefined : { hookSets: registry.size, runsInFlight: slots.inUse },
  );
  /** The route's HookSet, once the request carries its token (its 404 or 401 else). */
  const authenticate = (req: Request, _res: Response, next: NextFunction) => {
    try {
      const tenant = registry.tenant(String(req.params.namespace), String(req.params.hookset));
      next(tenant.authenticate(req.headers.authorization));
    } catch (err) {
      next(err);
    }
  };
  app.use(
    "/namespaces/:namespace/hooksets/:hookset/runs",
    runsApi(authenticate, (params) => registry.tenant(String(params.namespace), String(params.hookset))),
  );
  app.use("/runs", (_req, _res, next) => next(httpError("runs_of_a_hookset")));
  finishApp(app, { logger, metrics: own, drain: drainLimits(maxBody) });

  const endpoint = new SensorEndpoint({
    resolve: (segments, authorization) => {
      const route = decodeTrigger(segments);
      // Sensors of this version name the namespace; the route without one names no HookSet resource.
      if (route.namespace === undefined)
        throw httpError("hookset_not_served", route.hookSet, "the route names no namespace");
      const tenant = registry.tenant(route.namespace, route.hookSet);
      const refused = tenant.authenticate(authorization);
      if (refused) throw refused;
      return tenant.target(route.watch);
    },
    logger,
    metrics: own,
    maxBodyBytes: maxBody,
    maxPendingRequests: options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS,
    maxInflightBodyBytes: options.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES,
    draining: () => draining,
  });

  return {
    registry,
    slots,
    metrics,
    handle(req, res) {
      const segments = endpoint.match(req);
      if (segments) endpoint.handle(req, res, segments);
      else app(req, res);
    },
    get draining() {
      return draining;
    },
    async drain(graceMs: number) {
      draining = true;
      clearInterval(pruning);
      const until = Date.now() + graceMs;
      while (endpoint.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await registry.drain(until);
    },
  };
}
