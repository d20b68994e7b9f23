// The sensor endpoint: POST /namespaces/<ns>/hooksets/<hookset>/watches/<watch> (or, from Sensors
// of earlier versions, /hooksets/<hookset>/watches/<watch>: route.ts), where each watch's Sensor
// trigger posts one CloudEvent per change. Which HookSet serves a route, and with which token, is
// the resolver's: one HookSet (serve -f, server.ts) or every HookSet resource (tenants/). It
// authenticates, admits, reads and parses (cloudevent.ts); the Acceptor (accept.ts) decides and
// persists, and the queue executes. Order of checks: the resolver's route and token (404, 401;
// serve -f checks the token first), shutdown (503), admission before the body is read (429, 413),
// CloudEvent and data (400, 415), accept (200 or 202, with what was accepted, or no body when the
// request prefers return=minimal, as the generated Sensor does: http-answer.ts; 503 only when the
// runs could not be persisted, so the Sensor retries exactly then). Every refusal is an HttpError
// of the catalog (http-errors.ts), answered and counted there.
//
// It is served on node:http directly, beside the express app that serves every other route:
// express's routing, body parser and response helpers cost more per request on this path than
// deciding and persisting the runs (docs/performance.md). The request is read with raw-body, the
// library body-parser itself uses.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import getRawBody from "raw-body";
import type { Hook } from "../hookset/types.js";
import type { Acceptor } from "./accept.js";
import { parseEvent } from "./cloudevent.js";
import { ContextTooLargeError } from "./hookrun.js";
import { answerJson, answerMinimal, drainLimits, prefersMinimal, type DrainLimits } from "./http-answer.js";
import { answerError, bodyReadError, httpError } from "./http-errors.js";
import type { RunnerMetrics } from "./metrics.js";
import { matchTrigger } from "./route.js";

/** Who takes a route's events: the watch's hooks, the HookSet's Acceptor, the metrics to count in. */
export interface RouteTarget {
  hooks: readonly Hook[];
  acceptor: Acceptor;
  metrics: RunnerMetrics;
  logger: Logger;
  /** Told of each event accepted (the resync learns of replays from their ADDs). */
  observe?: (event: Parameters<Acceptor["accept"]>[1]) => void;
}

/**
 * The target of a request's route (its raw segments, route.ts) once its Authorization header
 * carries the token of that route; else throws the HttpError to answer (401, 404, 400).
 */
export type RouteResolver = (segments: readonly string[], authorization: string | undefined) => RouteTarget;

export interface SensorEndpointOptions {
  resolve: RouteResolver;
  logger: Logger;
  metrics: RunnerMetrics;
  maxBodyBytes: number;
  maxPendingRequests: number;
  maxInflightBodyBytes: number;
  draining: () => boolean;
}

export class SensorEndpoint {
  private pendingRequests = 0;
  private inflightBytes = 0;
  /** One body of the largest size must always fit. */
  private readonly maxInflightBytes: number;
  private readonly drain: DrainLimits;

  constructor(private readonly options: SensorEndpointOptions) {
    this.maxInflightBytes = Math.max(options.maxInflightBodyBytes, options.maxBodyBytes);
    this.drain = drainLimits(options.maxBodyBytes);
  }

  /** Requests being read or accepted now. */
  get pending(): number {
    return this.pendingRequests;
  }

  /** The route's path segments when this request is for the endpoint; else undefined (express serves it). */
  match(req: IncomingMessage): string[] | undefined {
    return matchTrigger(req);
  }

  handle(req: IncomingMessage, res: ServerResponse, segments: readonly string[]): void {
    let target: RouteTarget | undefined;
    this.serve(req, res, segments, (found) => (target = found)).catch((err: unknown) =>
      // Counted in the metrics of the HookSet the route resolved to, else in the runner's.
      answerError(err, req, res, {
        logger: target?.logger ?? this.options.logger,
        metrics: target?.metrics ?? this.options.metrics,
        drain: this.drain,
      }),
    );
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    segments: readonly string[],
    resolved: (target: RouteTarget) => void,
  ): Promise<void> {
    const target = this.options.resolve(segments, req.headers.authorization);
    resolved(target);
    if (this.options.draining()) throw httpError("draining");
    const reserved = this.admit(req);
    const started = process.hrtime.bigint();
    try {
      const event = parseEvent(req.headers, (await this.read(req)).toString("utf8"), req.headersDistinct);
      const result = await this.accept(target, event);
      target.observe?.(event);
      const fired = result.runs.some((r) => r.phase !== "Skipped");
      target.metrics.acceptDuration.observe(
        { outcome: result.runs.some((r) => r.created) ? "persisted" : "none" },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      if (prefersMinimal(req)) answerMinimal(res, fired ? 202 : 200);
      else
        answerJson(
          req,
          res,
          fired ? 202 : 200,
          { ...result, skipped: result.skipped.slice(0, 50), skippedCount: result.skipped.length },
          { drain: this.drain },
        );
    } finally {
      this.pendingRequests--;
      this.inflightBytes -= reserved;
    }
  }

  /**
   * Admission happens before a byte of the body is read: a request that cannot be taken is
   * refused at once, slow senders hold at most maxPendingRequests slots and maxInflightBodyBytes.
   * Answers the bytes reserved, which the caller gives back when it is done.
   */
  private admit(req: IncomingMessage): number {
    const { maxBodyBytes, maxPendingRequests } = this.options;
    const length = req.headers["content-length"];
    const declared = length === undefined ? undefined : Number(length);
    if (declared !== undefined && (!Number.isFinite(declared) || declared > maxBodyBytes))
      throw httpError("body_too_large", maxBodyBytes);
    const reserve = declared ?? maxBodyBytes;
    if (this.pendingRequests >= maxPendingRequests || this.inflightBytes + reserve > this.maxInflightBytes)
      throw httpError("saturated", this.pendingRequests, maxPendingRequests, this.maxInflightBytes);
    this.pendingRequests++;
    this.inflightBytes += reserve;
    return reserve;
  }

  private async read(req: IncomingMessage): Promise<Buffer> {
    const encoding = String(req.headers["content-encoding"] ?? "identity")
      .trim()
      .toLowerCase();
    // Argo Events' HTTP trigger never compresses; decompressing here would only let a small
    // request expand past the limits admission counted.
    if (encoding !== "identity") throw httpError("encoding_not_accepted", encoding);
    const length = req.headers["content-length"];
    try {
      return await getRawBody(req, { limit: this.options.maxBodyBytes, ...(length !== undefined ? { length } : {}) });
    } catch (err) {
      throw bodyReadError(err, this.options.maxBodyBytes);
    }
  }

  private async accept({ acceptor, hooks, logger }: RouteTarget, event: Parameters<Acceptor["accept"]>[1]) {
    try {
      return await acceptor.accept(hooks, event);
    } catch (err) {
      if (err instanceof ContextTooLargeError) throw httpError("context_too_large", err.message);
      logger.error(
        { err: (err as Error).message, eventId: event.context.id },
        "could not persist the runs of an event",
      );
      throw httpError("store_unavailable", (err as Error).message);
    }
  }
}
