// HTTP for the step types that call web APIs (http, githubWorkflow, slack, cdnPurge): one sender
// with ctx.signal, capped response reading, and one classification of failures:
//   network errors, 5xx, 408 and 429 are retryable; other 4xx are not;
//   429 and 503 carry Retry-After (seconds or an HTTP-date) as retryAfterMs.
//
// Requests go through the undici package's request() on one keep-alive Agent, not the global
// fetch: fetch runs the same undici client underneath but wraps every call in WHATWG Headers,
// Request, Response, AbortSignal and ReadableStream layers, and this call is on every step's hot
// path. request() costs a fraction of fetch's CPU per call (on a local server about 35-50 vs
// 210-240 µs sequential, 27-35 vs 185-200 µs with 50 in flight); node:http with a keep-alive
// agent measured between the two. undici is the client Node itself ships, so connection
// handling, timeouts (300 s for headers and for body gaps) and error codes stay fetch's. Major
// version 6 because its engine range covers every Node 20 (7 needs 20.18.1); it still gets fixes.
// What fetch did on top and callers rely on is done here: the Accept and Content-Type defaults,
// redirects (see redirected()), and the reason phrase, which request() does not expose, is the
// standard one for the status (RFC 9110 tells clients to ignore the one sent; HTTP/2 has none).
//
// Secrets are not this module's business: the executor scrubs every message and output. What
// this module owes is never to quote a downstream's answer at length in a failure message.
import { STATUS_CODES } from "node:http";
import { Agent, request as undiciRequest, type Dispatcher } from "undici";
import { encodePathSegment, isDotSegment } from "../../expr/template.js";
import { StepFailure, type StepContext } from "../types.js";
import { abortFailure } from "./abort.js";

export const USER_AGENT = "resource-hooks";
/** Response bodies kept in outputs are cut at this many bytes. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** What a failure message quotes of a downstream's answer, at most (characters). */
export const MAX_QUOTED_CHARS = 512;

export interface Classification {
  retryable: boolean;
  retryAfterMs?: number;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP-date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The shared classification of an unsuccessful HTTP status. */
export function classifyStatus(status: number, headers?: ResponseHeaders): Classification {
  const retryable = status >= 500 || status === 408 || status === 429;
  if ((status === 429 || status === 503) && headers) {
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
    if (retryAfterMs !== undefined) return { retryable, retryAfterMs };
  }
  return { retryable };
}

/** Response headers by name, case-insensitive (a WHATWG Headers fits too). */
export interface ResponseHeaders {
  /** The value, repeated headers joined with ", "; null when absent. */
  get(name: string): string | null;
}

/** Node's view of response headers (names lower-cased) behind get(), without copying them. */
class IncomingHeaders implements ResponseHeaders {
  constructor(private readonly headers: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(", ") : value;
  }
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Sent as is; use jsonBody() for JSON. */
  body?: string;
  /**
   * How the peer is named in messages, e.g. "GitHub" or "POST https://example.com/hook". Never
   * derived from a secret URL.
   */
  label: string;
  maxBodyBytes?: number;
  /**
   * Default "manual": a 3xx is returned as is. "follow" follows up to 20 redirects; one to another
   * origin carries only the headers in CROSS_ORIGIN_HEADERS, never a credential header.
   */
  redirect?: "follow" | "manual";
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  /** Parsed JSON when the response says JSON (and parses), else text. */
  body: unknown;
  text: string;
  truncated: boolean;
}

/** Keep-alive connections to every peer; idle ones close after undici's default 4 s, as with fetch. */
const dispatcher = new Agent();

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/**
 * The headers a redirect to another origin keeps. A list of credential headers to drop (fetch
 * drops only Authorization) would let Fastly-Key, X-Api-Key or any custom token header through;
 * an allowlist cannot miss one.
 */
const CROSS_ORIGIN_HEADERS = new Set([
  "user-agent",
  "idempotency-key",
  "accept",
  "accept-language",
  "content-type",
  "content-language",
  "content-encoding",
]);
/** The request-body headers a redirect that turns the request into a GET drops (Fetch standard). */
const BODY_HEADERS = ["content-type", "content-language", "content-location", "content-encoding"];

interface Hop {
  method: string;
  url: URL;
  /** Names lower-cased. */
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * Sends one request with ctx.signal and the Idempotency-Key header. Throws StepFailure only for
 * network errors (retryable) and aborts (not retryable); any HTTP status is returned.
 */
export async function sendHttp(ctx: StepContext, request: HttpRequest): Promise<HttpResponse> {
  // Accept and the text Content-Type are what fetch sent when the caller set none.
  const headers: Record<string, string> = { "user-agent": USER_AGENT, accept: "*/*" };
  if (request.body !== undefined) headers["content-type"] = "text/plain;charset=UTF-8";
  headers["idempotency-key"] = ctx.idempotencyKey;
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  if (ctx.signal.aborted) throw abortFailure(ctx.signal, `calling ${request.label}`);
  let url: URL;
  try {
    url = new URL(request.url);
  } catch (err) {
    throw networkFailure(err, request.label);
  }
  let hop: Hop = { method: request.method, url, headers, body: request.body };
  for (let redirects = 0; ; redirects++) {
    const response = await send(ctx, hop, request.label);
    if (request.redirect !== "follow" || !isRedirect(response)) return await answer(ctx, response, request);
    await response.body.dump().catch(() => undefined);
    if (redirects === MAX_REDIRECTS) throw networkFailure(new Error("redirect count exceeded"), request.label);
    try {
      hop = redirected(hop, response);
    } catch (err) {
      throw networkFailure(err, request.label);
    }
  }
}

/** A 3xx with a Location to follow; any other answer is returned as is, as fetch does. */
function isRedirect(response: Dispatcher.ResponseData): boolean {
  return REDIRECT_STATUSES.has(response.statusCode) && typeof response.headers.location === "string";
}

async function send(ctx: StepContext, hop: Hop, label: string): Promise<Dispatcher.ResponseData> {
  try {
    return await undiciRequest(hop.url, {
      dispatcher,
      method: hop.method as Dispatcher.HttpMethod,
      headers: hop.headers,
      ...(hop.body !== undefined ? { body: hop.body } : {}),
      signal: ctx.signal,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `calling ${label}`);
    // A header value with a line break: the request is wrong, not the network, so no retry.
    if ((err as { code?: unknown }).code === "UND_ERR_INVALID_ARG") {
      throw new StepFailure(`${label} could not be called: ${excerpt((err as Error).message)}`, {
        retryable: false,
      });
    }
    throw networkFailure(err, label);
  }
}

/**
 * The request a redirect asks for, as fetch makes it: a 303 (and a 301/302 after a POST) becomes
 * a GET without body; another origin gets only CROSS_ORIGIN_HEADERS. Throws (a network error, as
 * with fetch) when the Location is no http(s) URL.
 */
function redirected(hop: Hop, response: Dispatcher.ResponseData): Hop {
  const location = String(response.headers.location);
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new Error("the redirect Location is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("URL scheme must be a HTTP(S) scheme");
  const status = response.statusCode;
  const toGet =
    ((status === 301 || status === 302) && hop.method === "POST") ||
    (status === 303 && hop.method !== "GET" && hop.method !== "HEAD");
  const headers = { ...hop.headers };
  if (toGet) for (const name of BODY_HEADERS) delete headers[name];
  if (url.origin !== hop.url.origin)
    for (const name of Object.keys(headers)) if (!CROSS_ORIGIN_HEADERS.has(name)) delete headers[name];
  return { method: toGet ? "GET" : hop.method, url, headers, body: toGet ? undefined : hop.body };
}

async function answer(
  ctx: StepContext,
  response: Dispatcher.ResponseData,
  request: HttpRequest,
): Promise<HttpResponse> {
  let read: { text: string; truncated: boolean };
  try {
    read = await readCapped(response.body, request.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  } catch (err) {
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `reading the answer of ${request.label}`);
    throw networkFailure(err, request.label);
  }
  const headers = new IncomingHeaders(response.headers);
  return {
    status: response.statusCode,
    statusText: STATUS_CODES[response.statusCode] ?? "",
    headers,
    body: parseBody(read.text, headers.get("content-type"), read.truncated),
    text: read.text,
    truncated: read.truncated,
  };
}

export function jsonBody(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

/** The message names the error code when there is one (ECONNREFUSED, UND_ERR_SOCKET), as fetch's cause did. */
function networkFailure(err: unknown, label: string): StepFailure {
  const error = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const pick = (value: unknown): string | undefined => (typeof value === "string" && value ? value : undefined);
  const detail =
    pick(error?.code) ?? pick(error?.cause?.code) ?? pick(error?.cause?.message) ?? pick(error?.message) ?? String(err);
  return new StepFailure(`${label} could not be reached: ${excerpt(detail)}`, { retryable: true });
}

/** Reads at most `limit` bytes; a longer body is cut there and its connection closed. */
function readCapped(
  body: Dispatcher.ResponseData["body"],
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // A multi-byte character cut at the limit decodes as U+FFFD; that is fine for a capped body.
    const done = (truncated: boolean): void => resolve({ text: Buffer.concat(chunks).toString("utf8"), truncated });
    body.on("data", (chunk: Buffer) => {
      if (size + chunk.byteLength > limit) {
        chunks.push(chunk.subarray(0, limit - size));
        body.destroy();
        done(true);
        return;
      }
      chunks.push(chunk);
      size += chunk.byteLength;
    });
    body.on("end", () => done(false));
    body.on("error", reject);
  });
}

function parseBody(text: string, contentType: string | null, truncated: boolean): unknown {
  if (!truncated && contentType && /\bjson\b/i.test(contentType) && text.trim()) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** A short, single-line excerpt of a response body (or a message from it) for failure messages. */
export function excerpt(text: string, max = MAX_QUOTED_CHARS): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * The StepFailure for an unsuccessful status, classified by classifyStatus unless `override`
 * (per API: e.g. GitHub's rate-limit 403s) says otherwise.
 */
export function statusFailure(
  response: HttpResponse,
  label: string,
  detail?: string,
  override?: Classification,
): StepFailure {
  const how = override ?? classifyStatus(response.status, response.headers);
  const said = excerpt(detail ?? response.text);
  const statusText = response.statusText ? ` ${response.statusText}` : "";
  const message = `${label} answered ${response.status}${statusText}${said ? `: ${said}` : ""}`;
  return new StepFailure(message, {
    retryable: how.retryable,
    ...(how.retryAfterMs !== undefined ? { retryAfterMs: how.retryAfterMs } : {}),
  });
}

const SAFE_RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-language",
  "content-location",
  "location",
  "etag",
  "last-modified",
  "cache-control",
  "date",
  "retry-after",
  "x-request-id",
  "x-correlation-id",
];

/** Response headers safe to expose in outputs (no cookies, no auth material). */
export function safeHeaders(headers: ResponseHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** origin + path of a URL, for messages (query strings may carry tokens). */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The base URL of an endpoint a step type declares (StepType.endpoints), as the runner resolved it. */
export function endpointUrl(ctx: StepContext, name: string): string {
  const url = ctx.runtime.endpoints[name];
  if (!url)
    throw new StepFailure(`the runner has no URL for the endpoint ${name} (--endpoint ${name}=<url>)`, {
      retryable: false,
    });
  return url;
}

/**
 * One URL path segment from a rendered value: percent-encoded (RFC 6570 `{var}`), and refused
 * when it is "." or "..", which no encoding keeps a URL parser from resolving.
 */
export function pathSegment(value: string, field: string): string {
  if (value === "" || isDotSegment(value)) {
    throw new StepFailure(`${field}: ${JSON.stringify(value)} cannot be a URL path segment`, { retryable: false });
  }
  return encodePathSegment(value);
}

/** Joins a configured base URL (which may have a path, e.g. GitHub Enterprise /api/v3) and a path. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path.startsWith("/") ? path : `/${path}`}`;
}
