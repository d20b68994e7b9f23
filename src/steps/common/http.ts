// HTTP for the step types that call web APIs (http, githubWorkflow, slack, cdnPurge): one sender
// over fetch with ctx.signal, capped response reading, and one classification of failures:
//   network errors, 5xx, 408 and 429 are retryable; other 4xx are not;
//   429 and 503 carry Retry-After (seconds or an HTTP-date) as retryAfterMs.
// Uses the global fetch (undici inside Node), so nothing here loads the undici package.
//
// Secrets are not this module's business: the executor scrubs every message and output. What
// this module owes is never to quote a downstream's answer at length in a failure message.
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
export function classifyStatus(status: number, headers?: Headers): Classification {
  const retryable = status >= 500 || status === 408 || status === 429;
  if ((status === 429 || status === 503) && headers) {
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
    if (retryAfterMs !== undefined) return { retryable, retryAfterMs };
  }
  return { retryable };
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
   * Default "manual": a 3xx is returned as is. fetch drops only Authorization on cross-origin
   * redirects, so following them would forward other credential headers (Fastly-Key, X-Api-Key).
   */
  redirect?: "follow" | "manual";
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: Headers;
  /** Parsed JSON when the response says JSON (and parses), else text. */
  body: unknown;
  text: string;
  truncated: boolean;
}

/**
 * Sends one request with ctx.signal and the Idempotency-Key header. Throws StepFailure only for
 * network errors (retryable) and aborts (not retryable); any HTTP status is returned.
 */
export async function sendHttp(ctx: StepContext, request: HttpRequest): Promise<HttpResponse> {
  const headers = new Headers();
  headers.set("User-Agent", USER_AGENT);
  headers.set("Idempotency-Key", ctx.idempotencyKey);
  for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value);
  if (ctx.signal.aborted) throw abortFailure(ctx.signal, `calling ${request.label}`);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      redirect: request.redirect ?? "manual",
      signal: ctx.signal,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `calling ${request.label}`);
    throw networkFailure(err, request.label);
  }
  let read: { text: string; truncated: boolean };
  try {
    read = await readCapped(response, request.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  } catch (err) {
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, `reading the answer of ${request.label}`);
    throw networkFailure(err, request.label);
  }
  const text = read.text;
  return {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    body: parseBody(text, response.headers.get("content-type"), read.truncated),
    text,
    truncated: read.truncated,
  };
}

export function jsonBody(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

function networkFailure(err: unknown, label: string): StepFailure {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new StepFailure(`${label} could not be reached: ${excerpt(detail)}`, { retryable: true });
}

async function readCapped(response: Response, limit: number): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: "", truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > limit) {
      chunks.push(value.subarray(0, limit - size));
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  // A multi-byte character cut at the limit decodes as U+FFFD; that is fine for a capped body.
  return { text: Buffer.concat(chunks).toString("utf8"), truncated };
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
export function safeHeaders(headers: Headers): Record<string, string> {
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
