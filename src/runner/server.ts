// The runner's HTTP server and its parts. The Sensors' events go to the sensor endpoint
// (sensor-endpoint.ts), served on node:http directly; everything else (health, metrics, the /runs
// API) is an express app. Both answer errors through the catalog of http-errors.ts. createRunner
// wires the store, the run index, the Acceptor and the queue; listen serves them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Registry } from "prom-client";
import { watchesOf } from "../trigger/index.js";
import { bearerError, tokenDigest as digest } from "./auth.js";
import { createHookSetRuntime, type HookSetRuntimeOptions } from "./hookset-runtime.js";
import { drainLimits } from "./http-answer.js";
import { answerError, httpError } from "./http-errors.js";
import { RunnerMetrics } from "./metrics.js";
import type { RunQueue } from "./queue.js";
import type { Resync } from "./resync.js";
import { decodeTrigger } from "./route.js";
import { runsApi } from "./runs-api.js";
import type { RunStore } from "./store/types.js";
import { SensorEndpoint } from "./sensor-endpoint.js";

/** One HookSet's runner: its runtime's options (hookset-runtime.ts) and the HTTP server's. */
export interface RunnerOptions extends Omit<
  HookSetRuntimeOptions,
  "metrics" | "maxConcurrentRuns" | "slots" | "runLabels" | "markerName" | "hookOf" | "watches"
> {
  /** The bearer token Sensors must send; undefined only together with insecureNoAuth. */
  token?: string;
  insecureNoAuth?: boolean;
  metrics?: RunnerMetrics;
  /** Runs executing at once in this replica. */
  maxConcurrentRuns?: number;
  /** Requests being read or accepted at once; beyond it 429 with Retry-After. */
  maxPendingRequests?: number;
  /** Request body limit; two objects near etcd's 1.5 MiB limit must fit. */
  maxBodyBytes?: number;
  /** Bytes of request bodies held at once, counted before they are read. */
  maxInflightBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_RUNS = 32;
export const DEFAULT_MAX_PENDING_REQUESTS = 64;
export const DEFAULT_MAX_INFLIGHT_BODY_BYTES = 64 * 1024 * 1024;
export interface Runner {
  /** Every route but the sensor endpoint. */
  app: express.Express;
  /** The request listener: the sensor endpoint, else the express app. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  metrics: RunnerMetrics;
  queue: RunQueue;
  store: RunStore;
  /** Lists the watches after replays and now and then (resync.ts). */
  resync: Resync;
  /** Loads the store, records first-served markers and starts the queue. */
  start(): Promise<void>;
  /** Answers 503 from now on, lets running runs finish within graceMs, then aborts the rest. */
  drain(graceMs: number): Promise<void>;
  readonly draining: boolean;
}

export function createRunner(options: RunnerOptions): Runner {
  if (!options.token && !options.insecureNoAuth)
    throw new Error("the runner needs a token (--token-file or RESOURCE_HOOKS_TOKEN), or --insecure-no-auth");
  const { logger, hookSet, store } = options;
  const metrics = options.metrics ?? new RunnerMetrics();
  const watches = watchesOf(hookSet);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxPending = options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS;
  const tokenDigest = options.token ? digest(options.token) : undefined;
  const served = createHookSetRuntime({
    hookSet,
    runtime: options.runtime,
    store,
    memoryShards: options.memoryShards,
    namespace: options.namespace,
    holder: options.holder,
    logger,
    metrics,
    ...(options.kubeEvents ? { kubeEvents: options.kubeEvents } : {}),
    maxConcurrentRuns: options.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS,
    ...(options.retention ? { retention: options.retention } : {}),
    ...(options.claimMs ? { claimMs: options.claimMs } : {}),
    ...(options.retryBaseMs ? { retryBaseMs: options.retryBaseMs } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.resync ? { resync: options.resync } : {}),
  });
  const { queue } = served;
  let draining = false;

  const app = baseApp(metrics, () => (draining ? undefined : { hooks: hookSet.hooks.length, watches: watches.size }));
  const authenticate = (req: Request, _res: Response, next: NextFunction) => {
    next(tokenDigest && bearerError(req.headers.authorization, tokenDigest));
  };
  app.use(
    "/runs",
    runsApi(authenticate, () => served),
  );
  finishApp(app, { logger, metrics, drain: drainLimits(maxBody) });

  const target = { acceptor: served.acceptor, metrics, logger };
  const endpoint = new SensorEndpoint({
    resolve: (segments, authorization) => {
      const refused = tokenDigest && bearerError(authorization, tokenDigest);
      if (refused) throw refused;
      const route = decodeTrigger(segments);
      if (route.hookSet !== hookSet.name) throw httpError("unknown_hookset", hookSet.name, route.hookSet);
      // The route with a namespace (Sensors of this version) must name the HookSet's.
      if (route.namespace !== undefined && route.namespace !== hookSet.namespace)
        throw httpError("unknown_namespace", `${hookSet.namespace}/${hookSet.name}`, route.namespace);
      const watch = watches.get(route.watch);
      if (!watch) throw httpError("unknown_watch", route.watch, [...watches.keys()]);
      return { ...target, hooks: watch.hooks, observe: (event) => served.resync.observe(route.watch, event) };
    },
    logger,
    metrics,
    maxBodyBytes: maxBody,
    maxPendingRequests: maxPending,
    maxInflightBodyBytes: options.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES,
    draining: () => draining,
  });

  return {
    app,
    handle(req, res) {
      const segments = endpoint.match(req);
      if (segments) endpoint.handle(req, res, segments);
      else app(req, res);
    },
    metrics,
    queue,
    store,
    resync: served.resync,
    get draining() {
      return draining;
    },
    start: () => served.start(),
    async drain(graceMs: number) {
      draining = true;
      const until = Date.now() + graceMs;
      // Requests already admitted finish accepting (milliseconds) before the queue stops.
      while (endpoint.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await served.drain(until);
    },
  };
}

/**
 * The express routes every runner has: health, readiness (`ready()` is undefined while draining,
 * else what /readyz shows) and metrics.
 */
export function baseApp(
  metrics: { registry: Pick<Registry, "contentType" | "metrics"> },
  ready: () => object | undefined,
): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // express's query parser would turn ?a[b]=1 into objects; the runner reads plain strings only.
  app.set("query parser", "simple");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const shown = ready();
    if (!shown) res.status(503).setHeader("Retry-After", "5").json({ status: "draining" });
    else res.json({ status: "ready", ...shown });
  });
  app.get("/metrics", async (_req, res, next) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });
  return app;
}

/** The end of every runner's express app: 404 for any other route, every error one JSON answer with a reason. */
export function finishApp(app: express.Express, errors: Parameters<typeof answerError>[3]): void {
  app.use((_req, _res, next) => next(httpError("route_not_found")));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(err, req, res, errors));
}

/** What listen serves: the request listener, and the drain on stop. */
export type Servable = Pick<Runner, "handle" | "drain">;

export interface RunningRunner<R extends Servable = Runner> {
  url: string;
  server: Server;
  runner: R;
  /** Answers 503 while runs drain within graceMs, then closes the server. */
  stop(graceMs?: number): Promise<void>;
}

/** Slow senders: headers within 10s, the whole request within 30s; idle keep-alive as the Sensor's. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export function listen<R extends Servable = Runner>(
  runner: R,
  port: number,
  host = "0.0.0.0",
  timeouts: { headersMs?: number; requestMs?: number } = {},
): Promise<RunningRunner<R>> {
  return new Promise((resolve, reject) => {
    const requestMs = timeouts.requestMs ?? REQUEST_TIMEOUT_MS;
    // Node checks the request and headers timeouts every connectionsCheckingInterval (30s by
    // default); check often enough that a stalled sender is dropped close to its timeout.
    const server = createServer(
      {
        requestTimeout: requestMs,
        headersTimeout: timeouts.headersMs ?? HEADERS_TIMEOUT_MS,
        connectionsCheckingInterval: Math.min(1000, requestMs),
      },
      (req, res) => runner.handle(req, res),
    );
    server.listen(port, host);
    server.once("error", reject);
    server.once("listening", () => {
      server.keepAliveTimeout = 65_000;
      const address = server.address() as AddressInfo;
      const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host;
      resolve({
        url: `http://${shownHost}:${address.port}`,
        server,
        runner,
        async stop(graceMs = 30_000) {
          // Keep listening while draining: new requests get 503 + Retry-After (and /readyz 503,
          // so a Service stops routing here) instead of a refused connection.
          await runner.drain(graceMs);
          const closed = new Promise<void>((done) => server.close(() => done()));
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 1000).unref();
          await closed;
        },
      });
    });
  });
}
