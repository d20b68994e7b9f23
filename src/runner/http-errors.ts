// Every error the runner answers over HTTP, in one catalog: its code, the status a client gets,
// the template of the reason it reads, and the reason label it is counted under in
// resource_hooks_requests_rejected_total. The sensor endpoint and the express routes (server.ts)
// throw these and answer them through answerError, so one refusal reads the same on every route
// and is counted as what it is.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { answerJson, type DrainLimits } from "./http-answer.js";
import type { RunnerMetrics } from "./metrics.js";

/** The reason label of resource_hooks_requests_rejected_total. */
export type RejectReason =
  "unauthorized" | "unknown_route" | "draining" | "too_large" | "saturated" | "bad_request" | "store_unavailable";

interface Entry<P extends unknown[]> {
  status: number;
  /** Counted under this reason; errors of the /runs API other than 401 are not counted. */
  reason?: RejectReason;
  retryAfterSeconds?: number;
  message: (...params: P) => string;
}

const entry = <P extends unknown[] = []>(e: Entry<P>): Entry<P> => e;
const quote = (text: string, max: number) => JSON.stringify(text.slice(0, max));

export const HTTP_ERRORS = {
  // Authentication (every route but /healthz, /readyz and /metrics).
  missing_token: entry({
    status: 401,
    reason: "unauthorized",
    message: () => "missing Authorization: Bearer <token>",
  }),
  invalid_token: entry({ status: 401, reason: "unauthorized", message: () => "invalid bearer token" }),

  // The sensor endpoint, in the order it checks: route, shutdown, admission, body, event, persist.
  unknown_hookset: entry<[served: string, asked: string]>({
    status: 404,
    reason: "unknown_route",
    message: (served, asked) => `this runner serves hook set ${JSON.stringify(served)}, not ${JSON.stringify(asked)}`,
  }),
  unknown_namespace: entry<[served: string, asked: string]>({
    status: 404,
    reason: "unknown_route",
    message: (served, asked) =>
      `this runner serves hook set ${JSON.stringify(served)}, not one of namespace ${JSON.stringify(asked)}`,
  }),
  /** A runner serving HookSet resources: no HookSet of that namespace and name is served. */
  hookset_not_served: entry<[hookSet: string, why: string]>({
    status: 404,
    reason: "unknown_route",
    message: (hookSet, why) => `hook set ${JSON.stringify(hookSet)} is not served: ${why}`,
  }),
  /** A HookSet resource whose runs and memory are still being loaded: the Sensor retries. */
  hookset_starting: entry<[hookSet: string]>({
    status: 503,
    reason: "draining",
    retryAfterSeconds: 2,
    message: (hookSet) => `hook set ${JSON.stringify(hookSet)} is starting`,
  }),
  unknown_watch: entry<[watch: string, watches: readonly string[]]>({
    status: 404,
    reason: "unknown_route",
    message: (watch, watches) => `no watch named ${JSON.stringify(watch)}; watches: ${watches.join(", ")}`,
  }),
  bad_path_segment: entry<[segment: string]>({
    status: 400,
    reason: "bad_request",
    message: (segment) => `the path segment ${quote(segment, 100)} is not valid percent-encoding`,
  }),
  draining: entry({
    status: 503,
    reason: "draining",
    retryAfterSeconds: 5,
    message: () => "the runner is shutting down",
  }),
  body_too_large: entry<[limit: number]>({
    status: 413,
    reason: "too_large",
    message: (limit) => `request body over the limit of ${limit} bytes`,
  }),
  saturated: entry<[pending: number, maxRequests: number, maxBytes: number]>({
    status: 429,
    reason: "saturated",
    retryAfterSeconds: 1,
    message: (pending, maxRequests, maxBytes) =>
      `${pending} requests being read or accepted; the limit is ${maxRequests} requests and ${maxBytes} bytes`,
  }),
  encoding_not_accepted: entry<[encoding: string]>({
    status: 415,
    reason: "bad_request",
    message: (encoding) => `Content-Encoding ${quote(encoding, 40)} is not accepted: send the body uncompressed`,
  }),
  body_aborted: entry({
    status: 400,
    reason: "bad_request",
    message: () => "the request was aborted before its body arrived",
  }),
  body_size_mismatch: entry({
    status: 400,
    reason: "bad_request",
    message: () => "request size did not match content length",
  }),
  batch_not_accepted: entry({
    status: 400,
    reason: "bad_request",
    message: () => "batched CloudEvents are not accepted: send one event per request",
  }),
  not_a_cloudevent: entry<[missing: readonly string[]]>({
    status: 400,
    reason: "bad_request",
    message: (missing) =>
      `not a CloudEvent: missing header(s) ${missing.join(", ")} (binary mode), ` +
      "or send Content-Type: application/cloudevents+json (structured mode)",
  }),
  wrong_content_type: entry<[contentType: string]>({
    status: 400,
    reason: "bad_request",
    message: (contentType) => `expected Content-Type application/json, got ${quote(contentType, 100)}`,
  }),
  invalid_cloudevent: entry<[problem: string]>({
    status: 400,
    reason: "bad_request",
    message: (problem) => `invalid CloudEvent: ${problem}`,
  }),
  not_a_resource_event: entry<[problem: string]>({
    status: 400,
    reason: "bad_request",
    message: (problem) => `event data is not a resource event: ${problem}`,
  }),
  too_deep: entry<[what: string, maxDepth: number]>({
    status: 400,
    reason: "bad_request",
    message: (what, maxDepth) => `${what} is nested deeper than ${maxDepth} levels`,
  }),
  invalid_json: entry<[what: string, problem: string]>({
    status: 400,
    reason: "bad_request",
    message: (what, problem) => `${what} is not valid JSON: ${problem.slice(0, 200)}`,
  }),
  /** The event's objects do not fit a HookRun even compressed: ContextTooLargeError's message. */
  context_too_large: entry<[problem: string]>({ status: 413, reason: "too_large", message: (problem) => problem }),
  store_unavailable: entry<[problem: string]>({
    status: 503,
    reason: "store_unavailable",
    retryAfterSeconds: 2,
    message: (problem) => `could not persist the runs: ${problem}`,
  }),

  // The /runs API.
  run_not_found: entry<[name: string]>({ status: 404, message: (name) => `no run named ${JSON.stringify(name)}` }),
  retry_run_not_found: entry<[name: string]>({ status: 404, message: (name) => `no hookrun ${name}` }),
  not_retryable: entry<[name: string, phase: string]>({
    status: 409,
    message: (name, phase) => `hookrun ${name} is ${phase}; only a Failed run can be retried`,
  }),
  /** The run changed while it was being retried: ConflictError's message. */
  run_conflict: entry<[problem: string]>({ status: 409, message: (problem) => problem }),
  route_not_found: entry({ status: 404, message: () => "not found" }),
  /** A runner serving HookSet resources has no /runs of its own: each HookSet's are under its route. */
  runs_of_a_hookset: entry({
    status: 404,
    message: () => "this runner serves HookSet resources: ask /namespaces/<ns>/hooksets/<name>/runs with its token",
  }),

  /** An error of a library (express) that carries its own 4xx or 5xx status: its status and message. */
  unclassified: entry<[problem: string]>({ status: 400, message: (problem) => problem }),
  /** Anything else is a bug: logged with its message, answered without it. */
  internal: entry({ status: 500, message: () => "internal error" }),
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;
type ParamsOf<C extends HttpErrorCode> = Parameters<(typeof HTTP_ERRORS)[C]["message"]>;

export class HttpError extends Error {
  override name = "HttpError";

  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly status: number = HTTP_ERRORS[code].status,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get reason(): RejectReason | undefined {
    const found: { reason?: RejectReason } = HTTP_ERRORS[this.code];
    return found.reason;
  }

  get retryAfterSeconds(): number | undefined {
    const found: { retryAfterSeconds?: number } = HTTP_ERRORS[this.code];
    return found.retryAfterSeconds;
  }
}

/** The catalog's error `code` with its message made from `params`. */
export function httpError<C extends HttpErrorCode>(code: C, ...params: ParamsOf<C>): HttpError {
  const message = (HTTP_ERRORS[code].message as (...p: ParamsOf<C>) => string)(...params);
  return new HttpError(code, message);
}

/**
 * What an error becomes in an answer: an HttpError stays itself; an error with an HTTP status
 * of its own (express's) keeps it; anything else is an internal error.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status <= 599 && status !== 500)
    return new HttpError("unclassified", err instanceof Error ? err.message : "bad request", status, { cause: err });
  return new HttpError("internal", HTTP_ERRORS.internal.message(), 500, { cause: err });
}

/**
 * What the request body reader (raw-body) failed with, in the catalog. An error without an HTTP
 * status is the connection failing under the read: the body never arrived.
 */
export function bodyReadError(err: unknown, limit: number): HttpError {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === "entity.too.large") return httpError("body_too_large", limit);
  if (type === "request.size.invalid") return httpError("body_size_mismatch");
  if (type === "request.aborted" || (err as { status?: unknown } | null)?.status === undefined)
    return httpError("body_aborted");
  return toHttpError(err);
}

export interface AnswerErrorDeps {
  logger: Logger;
  /** Counts the refusal under the error's reason, if it has one. */
  metrics: Pick<RunnerMetrics, "rejected">;
  /** How much of a body left unread is read (and dropped) so that its sender gets the answer. */
  drain: DrainLimits;
}

/** Turns any error of a request into its answer: a status, a reason, a count and a log line. Never throws. */
export function answerError(err: unknown, req: IncomingMessage, res: ServerResponse, deps: AnswerErrorDeps): void {
  const error = toHttpError(err);
  if (error.reason) deps.metrics.rejected.inc({ reason: error.reason });
  const cause: unknown = error.cause;
  const eventId = typeof req.headers["ce-id"] === "string" ? req.headers["ce-id"].slice(0, 200) : undefined;
  deps.logger[error.status >= 500 ? "error" : "warn"](
    {
      status: error.status,
      code: error.code,
      error: error.code === "internal" ? String((cause as Error | undefined)?.message ?? cause) : error.message,
      method: req.method,
      path: (req.url ?? "").split("?")[0]!.slice(0, 200),
      eventId,
    },
    "request rejected",
  );
  if (res.headersSent || res.destroyed) return;
  answerJson(
    req,
    res,
    error.status,
    { error: error.message },
    { retryAfterSeconds: error.retryAfterSeconds, drain: deps.drain },
  );
}
