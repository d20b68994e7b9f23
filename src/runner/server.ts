// The HTTP layer: authenticates, admits, reads and parses; the run lives elsewhere. The Sensor's
// trigger of each watch posts a CloudEvent to POST /hooksets/<hookset>/watches/<watch>; the
// event is evaluated for every hook of that watch and one HookRun per firing hook is persisted
// (accept.ts) before the answer, so the answer comes in milliseconds whatever the steps do, and
// the queue (queue.ts) executes the runs. Order of checks: token (401), route (404), shutdown
// (503), admission before the body is read (429, 413), CloudEvent and data (400), accept (200 or
// 202; 503 only when the runs could not be persisted, so the Sensor retries exactly then).
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv } from "ajv";
import { HTTP, type CloudEvent } from "cloudevents";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Hook, HookSet } from "../spec/types.js";
import type { StepRuntime } from "../steps/types.js";
import { watchesOf, type ResourceEvent } from "../trigger/index.js";
import type { ResourceEventData } from "../trigger/event.js";
import { Acceptor } from "./accept.js";
import { ContextTooLargeError, isMarker, type HookRun } from "./hookrun.js";
import type { KubeEventRecorder } from "./kube-events.js";
import { RunnerMetrics } from "./metrics.js";
import { NotFoundError, RunQueue, StateError, type RetentionPolicy } from "./queue.js";
import { RunIndex } from "./run-index.js";
import { ConflictError, type RunStore } from "./store/types.js";

export interface RunnerOptions {
  hookSet: HookSet;
  /** The bearer token Sensors must send; undefined only together with insecureNoAuth. */
  token?: string;
  insecureNoAuth?: boolean;
  runtime: StepRuntime;
  store: RunStore;
  /** Namespace the runs are recorded in. */
  namespace: string;
  /** This replica's identity in claims. */
  holder: string;
  logger: Logger;
  kubeEvents?: KubeEventRecorder;
  metrics?: RunnerMetrics;
  /** Runs executing at once in this replica. */
  maxConcurrentRuns?: number;
  /** Requests being read or accepted at once; beyond it 429 with Retry-After. */
  maxPendingRequests?: number;
  /** Request body limit; two objects near etcd's 1.5 MiB limit must fit. */
  maxBodyBytes?: number;
  /** Bytes of request bodies held at once, counted before they are read. */
  maxInflightBodyBytes?: number;
  retention?: RetentionPolicy;
  claimMs?: number;
  /** First run-level retry delay; tests shorten it. */
  retryBaseMs?: number;
  /** Injected for tests (step sleeps). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_RUNS = 32;
export const DEFAULT_MAX_PENDING_REQUESTS = 64;
export const DEFAULT_MAX_INFLIGHT_BODY_BYTES = 64 * 1024 * 1024;
/** Deeper JSON is refused before it is parsed: nothing downstream recurses without a bound. */
export const MAX_JSON_DEPTH = 128;

const dataValidator = new Ajv({ allErrors: false, allowUnionTypes: true }).compile({
  type: "object",
  required: ["type", "body", "oldBody", "group", "version", "resource"],
  properties: {
    type: { enum: ["ADD", "UPDATE", "DELETE"] },
    body: { type: ["object", "null"] },
    oldBody: { type: ["object", "null"] },
    group: { type: "string" },
    version: { type: "string" },
    resource: { type: "string" },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
});

/** CloudEvents 1.0, structured mode: the required attributes are non-empty strings, extensions are string, integer or boolean. */
const structuredValidator = new Ajv({ allErrors: false, allowUnionTypes: true }).compile({
  type: "object",
  required: ["specversion", "id", "source", "type"],
  properties: {
    specversion: { const: "1.0" },
    id: { type: "string", minLength: 1 },
    source: { type: "string", minLength: 1 },
    type: { type: "string", minLength: 1 },
    subject: { type: "string" },
    time: { type: "string" },
    datacontenttype: { type: "string" },
    dataschema: { type: "string" },
    data: {},
    data_base64: { type: "string" },
  },
  additionalProperties: { type: ["string", "integer", "boolean"] },
});

export class RequestError extends Error {
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
  queue: RunQueue;
  store: RunStore;
  /** Loads the store, records first-served markers and starts the queue. */
  start(): Promise<void>;
  /** Answers 503 from now on, lets running runs finish within graceMs, then aborts the rest. */
  drain(graceMs: number): Promise<void>;
  readonly draining: boolean;
}

export function createRunner(options: RunnerOptions): Runner {
  if (!options.token && !options.insecureNoAuth) throw new Error("the runner needs a token (--token-file or RESOURCE_HOOKS_TOKEN), or --insecure-no-auth");
  const { logger, hookSet, store } = options;
  const metrics = options.metrics ?? new RunnerMetrics();
  const watches = watchesOf(hookSet);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxPending = options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS;
  const maxInflightBytes = Math.max(options.maxInflightBodyBytes ?? DEFAULT_MAX_INFLIGHT_BODY_BYTES, maxBody);
  const tokenDigest = options.token ? digest(options.token) : undefined;
  const index = new RunIndex(store);
  const acceptor = new Acceptor({ hookSet, store, index, namespace: options.namespace, logger, metrics });
  const queue = new RunQueue({
    hookSet,
    store,
    index,
    runtime: options.runtime,
    ...(options.sleep ? { executor: { sleep: options.sleep } } : {}),
    holder: options.holder,
    maxConcurrentRuns: options.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS,
    ...(options.claimMs ? { claimMs: options.claimMs } : {}),
    ...(options.retryBaseMs ? { retryBaseMs: options.retryBaseMs } : {}),
    ...(options.retention ? { retention: options.retention } : {}),
    logger,
    metrics,
    ...(options.kubeEvents ? { kubeEvents: options.kubeEvents } : {}),
  });
  let draining = false;
  let pendingRequests = 0;
  let inflightBytes = 0;

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // express's query parser would turn ?a[b]=1 into objects; the runner reads plain strings only.
  app.set("query parser", "simple");

  const authenticate = (req: Request, _res: Response, next: NextFunction) => {
    if (!tokenDigest) return next();
    const header = req.headers.authorization ?? "";
    // Scheme case-insensitive (RFC 9110 §11.1) and surrounding whitespace ignored, as documented.
    const match = /^\s*Bearer\s+(.+?)\s*$/i.exec(header);
    // Compare digests of equal length in constant time, so timing says nothing about the token.
    if (!match || !timingSafeEqual(digest(match[1]!), tokenDigest)) {
      metrics.rejected.inc({ reason: "unauthorized" });
      return next(new RequestError(401, match ? "invalid bearer token" : "missing Authorization: Bearer <token>"));
    }
    next();
  };

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    if (draining) res.status(503).setHeader("Retry-After", "5").json({ status: "draining" });
    else res.json({ status: "ready", hooks: hookSet.hooks.length, watches: watches.size });
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
    const runs = [...store.list()]
      .filter((r) => !isMarker(r) && (!hook || r.spec.hook === hook))
      .sort((a, b) => (a.spec.acceptedAt < b.spec.acceptedAt ? 1 : a.spec.acceptedAt > b.spec.acceptedAt ? -1 : 0))
      .slice(0, 500)
      .map(publicRun);
    res.json({ runs });
  });
  app.get("/runs/:name", authenticate, (req, res, next) => {
    const run = store.get(String(req.params.name));
    if (!run || isMarker(run)) return next(new RequestError(404, `no run named ${JSON.stringify(String(req.params.name))}`));
    res.json(publicRun(run));
  });
  app.post("/runs/:name/retry", authenticate, (req, res, next) => {
    queue.retry(String(req.params.name)).then(
      (run) => res.json(publicRun(run)),
      (err: unknown) => {
        if (err instanceof NotFoundError) return next(new RequestError(404, err.message));
        if (err instanceof StateError || err instanceof ConflictError) return next(new RequestError(409, err.message));
        next(err);
      },
    );
  });

  // Admission happens before a byte of the body is read: a request that cannot be taken is
  // refused at once, slow senders hold at most maxPendingRequests slots and maxInflightBytes.
  const admit = (req: Request, res: Response, next: NextFunction) => {
    if (req.params.hookset !== hookSet.name) {
      metrics.rejected.inc({ reason: "unknown_route" });
      return next(new RequestError(404, `this runner serves hook set ${JSON.stringify(hookSet.name)}, not ${JSON.stringify(req.params.hookset)}`));
    }
    const watch = watches.get(String(req.params.watch));
    if (!watch) {
      metrics.rejected.inc({ reason: "unknown_route" });
      return next(new RequestError(404, `no watch named ${JSON.stringify(req.params.watch)}; watches: ${[...watches.keys()].join(", ")}`));
    }
    if (draining) {
      metrics.rejected.inc({ reason: "draining" });
      return next(new RequestError(503, "the runner is shutting down", 5));
    }
    const declared = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
    if (declared !== undefined && (!Number.isFinite(declared) || declared > maxBody)) {
      metrics.rejected.inc({ reason: "too_large" });
      return next(new RequestError(413, `request body over the limit of ${maxBody} bytes`));
    }
    const reserve = declared ?? maxBody;
    if (pendingRequests >= maxPending || inflightBytes + reserve > maxInflightBytes) {
      metrics.rejected.inc({ reason: "saturated" });
      return next(new RequestError(429, `${pendingRequests} requests being read or accepted; the limit is ${maxPending} requests and ${maxInflightBytes} bytes`, 1));
    }
    pendingRequests++;
    inflightBytes += reserve;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      pendingRequests--;
      inflightBytes -= reserve;
    };
    res.once("finish", release);
    res.once("close", release);
    res.locals.hooks = watch.hooks;
    next();
  };

  app.post("/hooksets/:hookset/watches/:watch", authenticate, admit, express.raw({ type: () => true, limit: maxBody }), (req, res, next) => {
    let event: ResourceEvent;
    try {
      event = parseEvent(req);
    } catch (err) {
      metrics.rejected.inc({ reason: "bad_request" });
      return next(err);
    }
    acceptor.accept(res.locals.hooks as Hook[], event).then(
      (result) => {
        const fired = result.runs.some((r) => r.phase !== "Skipped");
        res.status(fired ? 202 : 200).json({ ...result, skipped: result.skipped.slice(0, 50), skippedCount: result.skipped.length });
      },
      (err: unknown) => {
        if (err instanceof ContextTooLargeError) return next(new RequestError(413, err.message));
        logger.error({ err: (err as Error).message, eventId: event.context.id }, "could not persist the runs of an event");
        metrics.rejected.inc({ reason: "store_unavailable" });
        next(new RequestError(503, `could not persist the runs: ${(err as Error).message}`, 2));
      },
    );
  });

  app.use((_req, _res, next) => next(new RequestError(404, "not found")));
  // Every error ends as one JSON answer with a reason; body-parser errors carry their own status.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: unknown } | null)?.type;
    let status = err instanceof RequestError ? err.status : typeof (err as { status?: unknown } | null)?.status === "number" ? (err as { status: number }).status : 500;
    if (status < 400 || status > 599) status = 500;
    const message =
      type === "entity.too.large"
        ? `request body over the limit of ${maxBody} bytes`
        : type === "request.aborted"
          ? "the request was aborted before its body arrived"
          : status === 500
            ? "internal error"
            : err instanceof Error
              ? err.message
              : "bad request";
    const eventId = typeof req.headers["ce-id"] === "string" ? req.headers["ce-id"].slice(0, 200) : undefined;
    logger[status >= 500 ? "error" : "warn"]({ status, error: status === 500 ? String((err as Error)?.message ?? err) : message, method: req.method, path: req.path.slice(0, 200), eventId }, "request rejected");
    if (res.headersSent) return;
    if (err instanceof RequestError && err.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(err.retryAfterSeconds));
    res.status(status).json({ error: message });
  });

  return {
    app,
    metrics,
    queue,
    store,
    get draining() {
      return draining;
    },
    async start() {
      await store.start();
      await acceptor.recordFirstServed();
      queue.start();
    },
    async drain(graceMs: number) {
      draining = true;
      const until = Date.now() + graceMs;
      // Requests already admitted finish accepting (milliseconds) before the queue stops.
      while (pendingRequests > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await queue.drain(Math.max(0, until - Date.now()));
      store.stop();
    },
  };
}

/** What /runs shows: the run without its encoded context (the objects). */
function publicRun(run: HookRun): Omit<HookRun, "spec"> & { spec: Omit<HookRun["spec"], "context"> } {
  const { context: _context, ...spec } = run.spec;
  return { ...run, spec };
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

const REQUIRED_BINARY_HEADERS = ["ce-specversion", "ce-id", "ce-source", "ce-type"];

export function parseEvent(req: Request): ResourceEvent {
  const body = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
  const contentType = String(req.headers["content-type"] ?? "").toLowerCase();
  if (contentType.startsWith("application/cloudevents-batch")) throw new RequestError(400, "batched CloudEvents are not accepted: send one event per request");
  if (contentType.startsWith("application/cloudevents")) return parseStructured(body);
  const missing = REQUIRED_BINARY_HEADERS.filter((h) => !req.headers[h]);
  if (missing.length > 0) throw new RequestError(400, `not a CloudEvent: missing header(s) ${missing.join(", ")} (binary mode), or send Content-Type: application/cloudevents+json (structured mode)`);
  if (!/^application\/(.+\+)?json\b/.test(contentType)) throw new RequestError(400, `expected Content-Type application/json, got ${JSON.stringify(contentType.slice(0, 100)) || "none"}`);
  let ce: CloudEvent<unknown>;
  try {
    // The SDK reads and validates the attributes from the headers; the data is parsed here once.
    ce = HTTP.toEvent({ headers: req.headers as Record<string, string>, body: undefined }) as CloudEvent<unknown>;
  } catch (err) {
    const detail = (err as { errors?: unknown[] }).errors?.length ? `: ${safeStringify((err as { errors: unknown[] }).errors)}` : "";
    throw new RequestError(400, `invalid CloudEvent: ${(err as Error).message}${detail}`);
  }
  return toResourceEvent({ id: ce.id, source: ce.source, subject: ce.subject, type: ce.type, time: ce.time }, parseJson(body, "event data"));
}

function parseStructured(body: string): ResourceEvent {
  const envelope = parseJson(body, "the CloudEvent");
  if (!structuredValidator(envelope)) {
    const first = structuredValidator.errors?.[0];
    throw new RequestError(400, `invalid CloudEvent: ${first ? `${first.instancePath || "(root)"} ${first.message ?? "is invalid"}` : "invalid"}`);
  }
  const ce = envelope as unknown as Record<string, unknown>;
  let data: unknown = ce.data;
  if (typeof ce.data_base64 === "string") data = parseJson(Buffer.from(ce.data_base64, "base64").toString("utf8"), "data_base64");
  else if (typeof data === "string") data = parseJson(data, "data");
  return toResourceEvent({ id: ce.id as string, source: ce.source as string, subject: ce.subject as string | undefined, type: ce.type as string, time: ce.time as string | undefined }, data);
}

function toResourceEvent(context: { id: string; source: string; subject: string | undefined; type: string; time: string | undefined }, data: unknown): ResourceEvent {
  if (!dataValidator(data)) {
    const first = dataValidator.errors?.[0];
    throw new RequestError(400, `event data is not a resource event: ${first ? `${first.instancePath || "(root)"} ${first.message ?? "is invalid"}` : "invalid"}`);
  }
  return {
    context: { id: context.id, source: context.source, subject: context.subject ?? "", type: context.type, ...(context.time ? { time: context.time } : {}) },
    data: data as ResourceEventData,
  };
}

/** Whether `text` has more than `limit` opening brackets (native indexOf, no per-character loop). */
function openBracketsExceed(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ["{", "["]) {
    for (let at = text.indexOf(bracket); at >= 0; at = text.indexOf(bracket, at + 1)) if (++count > limit) return true;
  }
  return false;
}

/** JSON.parse after a linear scan that refuses nesting deeper than MAX_JSON_DEPTH. */
export function parseJson(text: string, what: string): unknown {
  // Nesting deeper than the limit needs more brackets than the limit: most bodies skip the scan.
  if (!openBracketsExceed(text, MAX_JSON_DEPTH)) return parseChecked(text, what);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) throw new RequestError(400, `${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return parseChecked(text, what);
}

function parseChecked(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `${what} is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 500);
  } catch {
    return "";
  }
}

export interface RunningRunner {
  url: string;
  server: Server;
  runner: Runner;
  /** Answers 503 while runs drain within graceMs, then closes the server. */
  stop(graceMs?: number): Promise<void>;
}

/** Slow senders: headers within 10s, the whole request within 30s; idle keep-alive as the Sensor's. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export function listen(runner: Runner, port: number, host = "0.0.0.0", timeouts: { headersMs?: number; requestMs?: number } = {}): Promise<RunningRunner> {
  return new Promise((resolve, reject) => {
    const requestMs = timeouts.requestMs ?? REQUEST_TIMEOUT_MS;
    // Node checks the request and headers timeouts every connectionsCheckingInterval (30s by
    // default); check often enough that a stalled sender is dropped close to its timeout.
    const server = createServer(
      { requestTimeout: requestMs, headersTimeout: timeouts.headersMs ?? HEADERS_TIMEOUT_MS, connectionsCheckingInterval: Math.min(1000, requestMs) },
      runner.app,
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
