// The trigger endpoint: POST /hooksets/<hookset>/watches/<watch>, where each watch's Sensor
// trigger posts one CloudEvent per change. It authenticates, admits, reads and parses; the
// Acceptor (accept.ts) decides and persists, and the queue executes. Order of checks: token (401),
// route (404), shutdown (503), admission before the body is read (429, 413), CloudEvent and data
// (400, 415), accept (200 or 202; 503 only when the runs could not be persisted, so the Sensor
// retries exactly then).
//
// It is served on node:http directly, beside the express app that serves every other route:
// express's routing, body-parser and response helpers cost about 300 µs per request on this path
// (bare node answers the same request with about 130 µs of CPU, bare express with about 430), more
// than deciding and persisting the runs. The request is read with raw-body, the library
// body-parser itself uses.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Ajv } from "ajv";
import type { Logger } from "pino";
import getRawBody from "raw-body";
import type { Hook, HookSet } from "../hookset/types.js";
import type { ResourceEvent, WatchPlan } from "../trigger/index.js";
import type { ResourceEventData } from "../trigger/event.js";
import type { Acceptor } from "./accept.js";
import { ContextTooLargeError } from "./hookrun.js";
import type { RunnerMetrics } from "./metrics.js";

/** Deeper JSON is refused before it is parsed: nothing downstream recurses without a bound. */
export const MAX_JSON_DEPTH = 128;

export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

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

/**
 * CloudEvents 1.0 attributes, in either mode: the required ones are non-empty strings,
 * extensions are string, integer or boolean. Binary mode validates its ce-* headers with the same
 * schema. (The CloudEvents SDK's HTTP.toEvent was a fifth of the accept path's CPU and validated
 * nothing: it took specversion 2.0 and replaced an unparsable ce-time with the time of receipt.)
 */
const attributesValidator = new Ajv({ allErrors: false, allowUnionTypes: true }).compile({
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

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** The 401 for an Authorization header that does not carry the token; undefined when it does. */
export function bearerError(header: string | undefined, expected: Buffer): RequestError | undefined {
  // Scheme case-insensitive (RFC 9110 §11.1) and surrounding whitespace ignored, as documented.
  const match = /^\s*Bearer\s+(.+?)\s*$/i.exec(header ?? "");
  // Compare digests of equal length in constant time, so timing says nothing about the token.
  if (match && timingSafeEqual(tokenDigest(match[1]!), expected)) return undefined;
  return new RequestError(401, match ? "invalid bearer token" : "missing Authorization: Bearer <token>");
}

/** Turns any error of a request into its answer: a status, a reason and a log line. Never throws. */
export function answerError(
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger,
  maxBody: number,
): void {
  const type = (err as { type?: unknown } | null)?.type;
  let status =
    err instanceof RequestError
      ? err.status
      : typeof (err as { status?: unknown } | null)?.status === "number"
        ? (err as { status: number }).status
        : 500;
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
  const path = (req.url ?? "").split("?")[0]!.slice(0, 200);
  logger[status >= 500 ? "error" : "warn"](
    {
      status,
      error: status === 500 ? String((err as Error)?.message ?? err) : message,
      method: req.method,
      path,
      eventId,
    },
    "request rejected",
  );
  if (res.headersSent || res.destroyed) return;
  answer(
    res,
    status,
    { error: message },
    err instanceof RequestError ? err.retryAfterSeconds : undefined,
    bodyLeftUnread(req),
  );
}

function bodyLeftUnread(req: IncomingMessage): boolean {
  const declared = req.headers["content-length"];
  return (
    !req.complete && ((declared !== undefined && declared !== "0") || req.headers["transfer-encoding"] !== undefined)
  );
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  retryAfterSeconds?: number,
  closeConnection = false,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...(retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : {}),
    // A body left unread (refused before or while reading it) is not read to its end just to keep
    // the connection: the sender opens a new one.
    ...(closeConnection ? { connection: "close" } : {}),
  });
  res.end(text);
}

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

  constructor(private readonly options: SensorEndpointOptions) {
    this.maxInflightBytes = Math.max(options.maxInflightBodyBytes, options.maxBodyBytes);
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
    const { logger, maxBodyBytes } = this.options;
    this.serve(req, res, segments).catch((err: unknown) => answerError(err, req, res, logger, maxBodyBytes));
  }

  private async serve(req: IncomingMessage, res: ServerResponse, segments: [string, string]): Promise<void> {
    const { metrics, acceptor } = this.options;
    const hooks = this.admit(req, res, segments);
    let body: Buffer;
    let event: ResourceEvent;
    try {
      body = await this.read(req);
      event = parseEvent(req.headers, body.toString("utf8"));
    } catch (err) {
      metrics.rejected.inc({ reason: "bad_request" });
      throw err;
    }
    let result: Awaited<ReturnType<Acceptor["accept"]>>;
    try {
      result = await acceptor.accept(hooks, event);
    } catch (err) {
      if (err instanceof ContextTooLargeError) throw new RequestError(413, err.message);
      this.options.logger.error(
        { err: (err as Error).message, eventId: event.context.id },
        "could not persist the runs of an event",
      );
      metrics.rejected.inc({ reason: "store_unavailable" });
      throw new RequestError(503, `could not persist the runs: ${(err as Error).message}`, 2);
    }
    const fired = result.runs.some((r) => r.phase !== "Skipped");
    answer(res, fired ? 202 : 200, {
      ...result,
      skipped: result.skipped.slice(0, 50),
      skippedCount: result.skipped.length,
    });
  }

  /**
   * Admission happens before a byte of the body is read: a request that cannot be taken is
   * refused at once, slow senders hold at most maxPendingRequests slots and maxInflightBodyBytes.
   */
  private admit(req: IncomingMessage, res: ServerResponse, [rawHookSet, rawWatch]: [string, string]): readonly Hook[] {
    const { hookSet, watches, metrics, maxBodyBytes, maxPendingRequests, tokenDigest: expected } = this.options;
    if (expected) {
      const refused = bearerError(req.headers.authorization, expected);
      if (refused) {
        metrics.rejected.inc({ reason: "unauthorized" });
        throw refused;
      }
    }
    const name = decodeSegment(rawHookSet);
    if (name !== hookSet.name) {
      metrics.rejected.inc({ reason: "unknown_route" });
      throw new RequestError(
        404,
        `this runner serves hook set ${JSON.stringify(hookSet.name)}, not ${JSON.stringify(name)}`,
      );
    }
    const watchName = decodeSegment(rawWatch);
    const watch = watches.get(watchName);
    if (!watch) {
      metrics.rejected.inc({ reason: "unknown_route" });
      throw new RequestError(
        404,
        `no watch named ${JSON.stringify(watchName)}; watches: ${[...watches.keys()].join(", ")}`,
      );
    }
    if (this.options.draining()) {
      metrics.rejected.inc({ reason: "draining" });
      throw new RequestError(503, "the runner is shutting down", 5);
    }
    const declared = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
    if (declared !== undefined && (!Number.isFinite(declared) || declared > maxBodyBytes)) {
      metrics.rejected.inc({ reason: "too_large" });
      throw new RequestError(413, `request body over the limit of ${maxBodyBytes} bytes`);
    }
    const reserve = declared ?? maxBodyBytes;
    if (this.pendingRequests >= maxPendingRequests || this.inflightBytes + reserve > this.maxInflightBytes) {
      metrics.rejected.inc({ reason: "saturated" });
      throw new RequestError(
        429,
        `${this.pendingRequests} requests being read or accepted; the limit is ${maxPendingRequests} requests and ${this.maxInflightBytes} bytes`,
        1,
      );
    }
    this.pendingRequests++;
    this.inflightBytes += reserve;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.pendingRequests--;
      this.inflightBytes -= reserve;
    };
    res.once("finish", release);
    res.once("close", release);
    return watch.hooks;
  }

  private read(req: IncomingMessage): Promise<Buffer> {
    const encoding = String(req.headers["content-encoding"] ?? "identity")
      .trim()
      .toLowerCase();
    // Argo Events' HTTP trigger never compresses; decompressing here would only let a small
    // request expand past the limits admission counted.
    if (encoding !== "identity") {
      throw new RequestError(
        415,
        `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted: send the body uncompressed`,
      );
    }
    const length = req.headers["content-length"];
    return getRawBody(req, { limit: this.options.maxBodyBytes, ...(length !== undefined ? { length } : {}) });
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RequestError(
      400,
      `the path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding`,
    );
  }
}

const REQUIRED_BINARY_HEADERS = ["ce-specversion", "ce-id", "ce-source", "ce-type"];

/** The request's CloudEvent, binary or structured mode; RequestError (400) when it is not one. */
export function parseEvent(headers: IncomingHttpHeaders, body: string): ResourceEvent {
  const contentType = String(headers["content-type"] ?? "").toLowerCase();
  if (contentType.startsWith("application/cloudevents-batch"))
    throw new RequestError(400, "batched CloudEvents are not accepted: send one event per request");
  if (contentType.startsWith("application/cloudevents")) return parseStructured(body);
  const missing = REQUIRED_BINARY_HEADERS.filter((h) => !headers[h]);
  if (missing.length > 0)
    throw new RequestError(
      400,
      `not a CloudEvent: missing header(s) ${missing.join(", ")} (binary mode), or send Content-Type: application/cloudevents+json (structured mode)`,
    );
  if (!/^application\/(.+\+)?json\b/.test(contentType))
    throw new RequestError(
      400,
      `expected Content-Type application/json, got ${JSON.stringify(contentType.slice(0, 100)) || "none"}`,
    );
  const attributes = binaryAttributes(headers);
  if (!attributesValidator(attributes)) {
    const first = attributesValidator.errors?.[0];
    throw new RequestError(
      400,
      `invalid CloudEvent: ${first?.instancePath ? `header ce-${first.instancePath.slice(1)}` : "headers"} ${first?.message ?? "are invalid"}`,
    );
  }
  const ce = attributes as { id: string; source: string; subject?: string; type: string; time?: string };
  return toResourceEvent(
    { id: ce.id, source: ce.source, subject: ce.subject, type: ce.type, time: ce.time },
    parseJson(body, "event data"),
  );
}

/** Binary mode: every ce-* header is an attribute (CloudEvents HTTP protocol binding, binary content mode). */
function binaryAttributes(headers: IncomingHttpHeaders): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const name in headers) {
    if (name.length > 3 && name.startsWith("ce-")) attributes[name.slice(3)] = headers[name];
  }
  return attributes;
}

function parseStructured(body: string): ResourceEvent {
  const envelope = parseJson(body, "the CloudEvent");
  if (!attributesValidator(envelope)) {
    const first = attributesValidator.errors?.[0];
    throw new RequestError(
      400,
      `invalid CloudEvent: ${first ? `${first.instancePath || "(root)"} ${first.message ?? "is invalid"}` : "invalid"}`,
    );
  }
  const ce = envelope as unknown as Record<string, unknown>;
  let data: unknown = ce.data;
  if (typeof ce.data_base64 === "string")
    data = parseJson(Buffer.from(ce.data_base64, "base64").toString("utf8"), "data_base64");
  else if (typeof data === "string") data = parseJson(data, "data");
  return toResourceEvent(
    {
      id: ce.id as string,
      source: ce.source as string,
      subject: ce.subject as string | undefined,
      type: ce.type as string,
      time: ce.time as string | undefined,
    },
    data,
  );
}

function toResourceEvent(
  context: { id: string; source: string; subject: string | undefined; type: string; time: string | undefined },
  data: unknown,
): ResourceEvent {
  let time: string | undefined;
  if (context.time !== undefined) {
    const ms = Date.parse(context.time);
    if (Number.isNaN(ms))
      throw new RequestError(
        400,
        `invalid CloudEvent: time ${JSON.stringify(context.time.slice(0, 60))} is not an RFC 3339 timestamp`,
      );
    time = new Date(ms).toISOString();
  }
  if (!dataValidator(data)) {
    const first = dataValidator.errors?.[0];
    throw new RequestError(
      400,
      `event data is not a resource event: ${first ? `${first.instancePath || "(root)"} ${first.message ?? "is invalid"}` : "invalid"}`,
    );
  }
  return {
    context: {
      id: context.id,
      source: context.source,
      subject: context.subject ?? "",
      type: context.type,
      ...(time ? { time } : {}),
    },
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
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH)
        throw new RequestError(400, `${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
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
