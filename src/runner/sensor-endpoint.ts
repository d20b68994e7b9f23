// The sensor endpoint: POST /hooksets/<hookset>/watches/<watch>, where each watch's Sensor
// trigger posts one CloudEvent per change. It authenticates, admits, reads and parses
// (cloudevent.ts); the Acceptor (accept.ts) decides and persists, and the queue executes. Order of
// checks: token (401), route (404), shutdown (503), admission before the body is read (429, 413),
// CloudEvent and data (400, 415), accept (200 or 202; 503 only when the runs could not be
// persisted, so the Sensor retries exactly then). Every refusal is an HttpError of the catalog
// (http-errors.ts), answered and counted there.
//
// It is served on node:http directly, beside the express app that serves every other route:
// express's routing, body parser and response helpers cost more per request on this path than
// deciding and persisting the runs (docs/performance.md). The request is read with raw-body, the
// library body-parser itself uses.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import getRawBody from "raw-body";
import type { Hook, HookSet } from "../hookset/types.js";
import type { WatchPlan } from "../trigger/index.js";
import type { Acceptor } from "./accept.js";
import { bearerError } from "./auth.js";
import { parseEvent } from "./cloudevent.js";
import { ContextTooLargeError } from "./hookrun.js";
import { answerJson, drainLimits, type DrainLimits } from "./http-answer.js";
import { answerError, bodyReadError, httpError } from "./http-errors.js";
import type { RunnerMetrics } from "./metrics.js";

export interface SensorEndpointOptions {
  hookSet: HookSet;
  watches: ReadonlyMap<string, WatchPlan>;
  acceptor: Acceptor;
  /** Undefined only with --insecure-no-auth. */
  tokenDigest: Buffer | undefined;
  logger: Logger;
  metrics: RunnerMetrics;
  maxBodyBytes: number;
  maxPendingRequests: number;
  maxInflightBodyBytes: number;
  draining: () => boolean;
}

/** Matches express's `/hooksets/:hookset/watches/:watch` (case-insensitive, optional trailing slash). */
const TRIGGER_PATH = /^\/hooksets\/([^/]+)\/watches\/([^/]+)\/?$/i;

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

  /** The route's two path segments when this request is for the endpoint; else undefined (express serves it). */
  match(req: IncomingMessage): [string, string] | undefined {
    if (req.method !== "POST") return undefined;
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const found = TRIGGER_PATH.exec(query < 0 ? url : url.slice(0, query));
    return found ? [found[1]!, found[2]!] : undefined;
  }

  handle(req: IncomingMessage, res: ServerResponse, segments: [string, string]): void {
    const { logger, metrics } = this.options;
    this.serve(req, res, segments).catch((err: unknown) =>
      answerError(err, req, res, { logger, metrics, drain: this.drain }),
    );
  }

  private async serve(req: IncomingMessage, res: ServerResponse, segments: [string, string]): Promise<void> {
    const hooks = this.route(req, segments);
    const reserved = this.admit(req);
    const started = process.hrtime.bigint();
    try {
      const event = parseEvent(req.headers, (await this.read(req)).toString("utf8"), req.headersDistinct);
      const result = await this.accept(hooks, event);
      const fired = result.runs.some((r) => r.phase !== "Skipped");
      this.options.metrics.acceptDuration.observe(
        { outcome: result.runs.some((r) => r.created) ? "persisted" : "none" },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
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

  /** The hooks of the watch the request is for, once it is authenticated and the runner takes events. */
  private route(req: IncomingMessage, [rawHookSet, rawWatch]: [string, string]): readonly Hook[] {
    const { hookSet, watches, tokenDigest: expected } = this.options;
    const refused = expected && bearerError(req.headers.authorization, expected);
    if (refused) throw refused;
    const name = decodeSegment(rawHookSet);
    if (name !== hookSet.name) throw httpError("unknown_hookset", hookSet.name, name);
    const watchName = decodeSegment(rawWatch);
    const watch = watches.get(watchName);
    if (!watch) throw httpError("unknown_watch", watchName, [...watches.keys()]);
    if (this.options.draining()) throw httpError("draining");
    return watch.hooks;
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

  private async accept(hooks: readonly Hook[], event: Parameters<Acceptor["accept"]>[1]) {
    try {
      return await this.options.acceptor.accept(hooks, event);
    } catch (err) {
      if (err instanceof ContextTooLargeError) throw httpError("context_too_large", err.message);
      this.options.logger.error(
        { err: (err as Error).message, eventId: event.context.id },
        "could not persist the runs of an event",
      );
      throw httpError("store_unavailable", (err as Error).message);
    }
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw httpError("bad_path_segment", segment);
  }
}
