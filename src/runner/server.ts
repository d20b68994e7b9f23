// The HTTP trigger target of the generated Sensors: POST /hooks/<hook> with a CloudEvent.
// Order of checks per request: token (401), hook (404), shutdown (503), capacity (429), body
// size (413), CloudEvent and data shape (400), trigger re-check (200 skipped), then the run
// (200 succeeded/duplicate, 500 failed so Argo Events retries and redelivers).
import { hash, randomUUID, timingSafeEqual } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv } from "ajv";
import { HTTP, type CloudEvent } from "cloudevents";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Hook, HookSet } from "../spec/types.js";
import type { StepRuntime } from "../steps/types.js";
import { decideArgoCD, argocdScope } from "../trigger/argocd.js";
import { objectOf, type ResourceEvent, type ResourceEventData } from "../trigger/event.js";
import { decideResource, eventScope } from "../trigger/resource.js";
import { waitForApplicationHealthy } from "./argocd-health.js";
import { executeHook, RunBusyError, type RunReport } from "./execute.js";
import type { KubeEventRecorder } from "./kube-events.js";
import { RunnerMetrics } from "./metrics.js";
import type { RunStore } from "./store.js";

export interface RunnerOptions {
  hookSet: HookSet;
  /** The bearer token Sensors must send; undefined only together with insecureNoAuth. */
  token?: string;
  insecureNoAuth?: boolean;
  runtime: StepRuntime;
  store: RunStore;
  logger: Logger;
  kubeEvents?: KubeEventRecorder;
  metrics?: RunnerMetrics;
  /** Runs executing at once; beyond it requests get 429 with Retry-After. */
  maxConcurrentRuns?: number;
  /** Request body limit; two objects near etcd's 1.5 MiB limit must fit. */
  maxBodyBytes?: number;
  recentRuns?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_CONCURRENT_RUNS = 32;

const dataValidator = new Ajv({ allErrors: false }).compile({
  type: "object",
  required: ["type", "body", "oldBody", "group", "version", "resource"],
  properties: {
    type: { enum: ["ADD", "UPDATE", "DELETE"] },
    body: { type: "object" },
    oldBody: { type: ["object", "null"] },
    group: { type: "string" },
    version: { type: "string" },
    resource: { type: "string" },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
});

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface Runner {
  app: express.Express;
  metrics: RunnerMetrics;
  /** Stops taking runs, waits for in-flight runs up to graceMs, then aborts the rest. */
  drain(graceMs: number): Promise<void>;
  readonly inFlight: number;
}

export function createRunner(options: RunnerOptions): Runner {
  if (!options.token && !options.insecureNoAuth) throw new Error("the runner needs a token (--token-file or RESOURCE_HOOKS_TOKEN), or --insecure-no-auth");
  const { logger } = options;
  const metrics = options.metrics ?? new RunnerMetrics();
  const hooks = new Map(options.hookSet.hooks.map((h) => [h.name, h]));
  const maxRuns = options.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const recent: RunReport[] = [];
  const recentLimit = options.recentRuns ?? 200;
  const shutdown = new AbortController();
  const running = new Set<Promise<unknown>>();
  let draining = false;
  const tokenDigest = options.token ? digest(options.token) : undefined;

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // No per-request logger (pino-http builds a child logger with the serialized request on every
  // request, the largest single cost of the hot path): a run logs one line with hook, runId and
  // eventId, and a rejected request logs one line in the error handler below.

  const authenticate = (req: Request, _res: Response, next: NextFunction) => {
    if (!tokenDigest) return next();
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Compare digests of equal length in constant time, so timing says nothing about the token.
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), tokenDigest)) {
      metrics.rejected.inc({ reason: "unauthorized" });
      return next(new RequestError(401, match ? "invalid bearer token" : "missing Authorization: Bearer <token>"));
    }
    next();
  };

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    if (draining) res.status(503).json({ status: "draining" });
    else res.json({ status: "ready", hooks: hooks.size });
  });
  app.get("/metrics", async (_req, res, next) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });
  app.get("/runs", authenticate, (req, res) => {
    const hook = typeof req.query.hook === "string" ? req.query.hook : undefined;
    res.json({ runs: hook ? recent.filter((r) => r.hook === hook) : recent });
  });

  const admit = (req: Request, res: Response, next: NextFunction) => {
    const hook = hooks.get(String(req.params.hook));
    if (!hook) {
      metrics.rejected.inc({ reason: "unknown_hook" });
      return next(new RequestError(404, `no hook named ${JSON.stringify(req.params.hook)}; hooks: ${[...hooks.keys()].join(", ")}`));
    }
    if (draining) {
      metrics.rejected.inc({ reason: "draining" });
      return next(new RequestError(503, "the runner is shutting down", 5));
    }
    if (running.size >= maxRuns) {
      metrics.rejected.inc({ reason: "saturated" });
      return next(new RequestError(429, `${running.size} runs in flight, the limit is ${maxRuns}`, 1));
    }
    res.locals.hook = hook;
    next();
  };

  app.post("/hooks/:hook", authenticate, admit, express.raw({ type: () => true, limit: maxBody }), (req, res, next) => {
    const hook = res.locals.hook as Hook;
    let event: ResourceEvent;
    try {
      event = parseEvent(req);
    } catch (err) {
      metrics.rejected.inc({ reason: "bad_request" });
      return next(err);
    }
    const work = handle(hook, event);
    running.add(work);
    metrics.inFlight.set(running.size);
    work
      .then(
        (run) => {
          const status = run.status === "failed" ? 500 : 200;
          res.status(status).json(run);
        },
        (err: unknown) => {
          if (err instanceof RunBusyError) return next(new RequestError(503, err.message, 5));
          logger.error({ err, hook: hook.name, eventId: event.context.id }, "run could not be executed");
          next(new RequestError(500, `run could not be executed: ${(err as Error).message}`));
        },
      )
      .finally(() => {
        running.delete(work);
        metrics.inFlight.set(running.size);
      });
  });

  app.use((_req, _res, next) => next(new RequestError(404, "not found")));
  // Every error ends as a JSON answer with a reason; body-parser errors carry their own status.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof RequestError ? err.status : typeof (err as { status?: unknown }).status === "number" ? (err as { status: number }).status : 500;
    const message =
      (err as { type?: string }).type === "entity.too.large" ? `request body over the limit of ${maxBody} bytes` : err instanceof Error ? err.message : String(err);
    const eventId = typeof req.headers["ce-id"] === "string" ? req.headers["ce-id"] : undefined;
    logger[status >= 500 ? "error" : "warn"]({ status, error: message, method: req.method, path: req.path, eventId }, "request rejected");
    if (err instanceof RequestError && err.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(err.retryAfterSeconds));
    res.status(status).json({ error: message });
  });

  async function handle(hook: Hook, event: ResourceEvent): Promise<RunReport> {
    const runId = randomUUID();
    const runLogger = logger.child({ hook: hook.name, runId, eventId: event.context.id });
    const started = Date.now();
    let identity = event.context.id;
    let scope: Record<string, unknown>;
    let prepare: ((signal: AbortSignal) => Promise<void>) | undefined;
    const object = objectOf(event.data.body);
    const oldObject = objectOf(event.data.oldBody) ?? null;
    let decision;
    if (hook.trigger.kind === "resource") {
      decision = decideResource(hook.trigger, event);
      scope = { object: object ?? null, oldObject, event: eventScope(event) };
    } else {
      const argo = decideArgoCD(hook.trigger, event);
      decision = argo.decision;
      identity = argo.identity ?? identity;
      scope = { ...argocdScope(argo), object: object ?? null, oldObject, event: eventScope(event) };
      if (hook.trigger.healthy && argo.application && argo.operation) {
        const app = argo.application;
        const operation = argo.operation;
        prepare = (signal) => waitForApplicationHealthy(options.runtime.kubeConfig, app, operation, hook, signal, runLogger);
      }
    }
    let run: RunReport;
    if (!decision.fires) {
      run = {
        runId,
        hook: hook.name,
        eventId: event.context.id,
        status: "skipped",
        steps: [],
        reason: decision.reason,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
      };
    } else {
      runLogger.debug({ reason: decision.reason }, "hook fires");
      run = await executeHook(
        {
          runtime: options.runtime,
          store: options.store,
          observer: {
            stepFinished: (h, step, report) => metrics.stepDuration.observe({ hook: h, step: step.name, status: report.status }, report.durationMs / 1000),
            retried: (h, step) => metrics.retries.inc({ hook: h, step: step.name }),
          },
        },
        { hook, runId, eventId: event.context.id, identity, scope, logger: runLogger, signal: shutdown.signal, ...(prepare ? { prepare } : {}) },
      );
      if (options.kubeEvents) void options.kubeEvents.record(object, run);
    }
    metrics.runs.inc({ hook: hook.name, status: run.status });
    runLogger.info({ status: run.status, reason: run.reason, durationMs: run.durationMs, steps: run.steps.map((s) => `${s.name}:${s.status}`) }, `run ${run.status}`);
    recent.unshift(run);
    if (recent.length > recentLimit) recent.length = recentLimit;
    return run;
  }

  return {
    app,
    metrics,
    get inFlight() {
      return running.size;
    },
    async drain(graceMs: number) {
      draining = true;
      const timer = setTimeout(() => shutdown.abort(new Error("the runner is shutting down")), graceMs);
      await Promise.allSettled([...running]);
      clearTimeout(timer);
    },
  };
}

function digest(token: string): Buffer {
  return hash("sha256", token, "buffer");
}

const REQUIRED_BINARY_HEADERS = ["ce-specversion", "ce-id", "ce-source", "ce-type"];

function parseEvent(req: Request): ResourceEvent {
  const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
  const contentType = String(req.headers["content-type"] ?? "");
  if (!contentType.startsWith("application/cloudevents")) {
    const missing = REQUIRED_BINARY_HEADERS.filter((h) => !req.headers[h]);
    if (missing.length > 0) throw new RequestError(400, `not a CloudEvent: missing header(s) ${missing.join(", ")} (binary mode), or send Content-Type: application/cloudevents+json (structured mode)`);
    if (!contentType.includes("json")) throw new RequestError(400, `expected Content-Type application/json, got ${JSON.stringify(contentType) || "none"}`);
  }
  const structured = contentType.startsWith("application/cloudevents");
  let ce: CloudEvent<unknown>;
  try {
    // Binary mode: the SDK reads the attributes from the headers, and the data is parsed here
    // once (the SDK's JSON parser costs twice as much for the same result).
    const parsed = HTTP.toEvent({ headers: req.headers as Record<string, string>, body: structured ? body : undefined });
    if (Array.isArray(parsed)) throw new RequestError(400, "batched CloudEvents are not accepted: send one event per request");
    ce = parsed as CloudEvent<unknown>;
  } catch (err) {
    if (err instanceof RequestError) throw err;
    const detail = (err as { errors?: unknown[] }).errors?.length ? `: ${JSON.stringify((err as { errors: unknown[] }).errors)}` : "";
    throw new RequestError(400, `invalid CloudEvent: ${(err as Error).message}${detail}`);
  }
  const data = structured ? (typeof ce.data === "string" ? safeJson(ce.data) : ce.data) : safeJson(body);
  if (!dataValidator(data)) {
    const first = dataValidator.errors?.[0];
    throw new RequestError(400, `event data is not a resource event: ${first ? `${first.instancePath || "(root)"} ${first.message}` : "invalid"}`);
  }
  return {
    context: {
      id: ce.id,
      source: ce.source,
      subject: ce.subject ?? "",
      type: ce.type,
      ...(ce.time ? { time: ce.time } : {}),
    },
    data: data as ResourceEventData,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `event data is not valid JSON: ${(err as Error).message}`);
  }
}

export interface RunningRunner {
  url: string;
  server: Server;
  runner: Runner;
  /** Stops accepting connections, drains runs within graceMs, closes the server. */
  stop(graceMs?: number): Promise<void>;
}

export function listen(runner: Runner, port: number, host = "0.0.0.0"): Promise<RunningRunner> {
  return new Promise((resolve, reject) => {
    const server = runner.app.listen(port, host);
    server.once("error", reject);
    server.once("listening", () => {
      // Headers and keep-alive timeouts must outlast the Sensor's idle connections.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      server.requestTimeout = 0;
      const address = server.address() as AddressInfo;
      const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host;
      resolve({
        url: `http://${shownHost}:${address.port}`,
        server,
        runner,
        async stop(graceMs = 30_000) {
          const closed = new Promise<void>((done) => server.close(() => done()));
          await runner.drain(graceMs);
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 1000).unref();
          await closed;
        },
      });
    });
  });
}
