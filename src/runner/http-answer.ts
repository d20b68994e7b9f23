// How the runner writes a JSON answer, and how it answers a request before reading its body.
//
// A request refused before its body is read (413 by its Content-Length, 429 at admission, 401, …)
// is answered at once with `Connection: close`. Closing a socket with received data unread makes
// the kernel reset the connection, and a sender that writes its whole body before it reads the
// answer (Go's net/http does) then sees EPIPE or ECONNRESET instead of the answer. So the rest of
// the body is read and dropped first (nothing is kept: memory stays flat), at most maxBytes and
// for at most maxMs; only then does the response end and node close the connection.
import type { IncomingMessage, ServerResponse } from "node:http";
import { finished } from "node:stream";

export interface DrainLimits {
  /** Bytes of an unread body read (and dropped) after the answer before the connection is closed anyway. */
  maxBytes: number;
  /** How long they are read for. */
  maxMs: number;
}

/** How long the rest of a refused body is read for: a few megabytes on a slow link. */
const DRAIN_MS = 5_000;

/** The drain of an endpoint whose bodies may be maxBodyBytes: a sender of up to twice that gets its answer. */
export function drainLimits(maxBodyBytes: number): DrainLimits {
  return { maxBytes: 2 * maxBodyBytes, maxMs: DRAIN_MS };
}

/** Writes `body` as the JSON answer; a body the request still has unread is drained first (see above). */
export function answerJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  options: { drain: DrainLimits; retryAfterSeconds?: number },
): void {
  const text = JSON.stringify(body);
  const unread = bodyLeftUnread(req);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...(options.retryAfterSeconds !== undefined ? { "retry-after": String(options.retryAfterSeconds) } : {}),
    // A body left unread may be longer than the drain reads: the connection ends with this answer.
    ...(unread ? { connection: "close" } : {}),
  });
  if (!unread) {
    res.end(text);
    return;
  }
  // The whole answer goes out now; ending the response, which closes the connection, waits.
  res.write(text);
  drainBody(req, options.drain, () => res.end());
}

/**
 * Whether the request asks for an answer without a body (RFC 7240 `Prefer: return=minimal`), as
 * the generated Sensor's trigger does: Argo Events v1.9.11's HTTP trigger never reads or closes
 * the answer's body, so Go's transport can neither reuse the connection nor release it before the
 * trigger's timeout, and every event opened a connection of its own (two thousand open at the
 * runner in a burst). An answer whose Content-Length is 0 goes back to Go's pool at once.
 */
export function prefersMinimal(req: IncomingMessage): boolean {
  const prefer = req.headersDistinct.prefer;
  if (!prefer) return false;
  return prefer
    .flatMap((value) => value.split(","))
    .some((preference) => {
      const [token] = preference.split(";");
      return token!.replace(/\s+/g, "").replace(/"/g, "").toLowerCase() === "return=minimal";
    });
}

/** Answers `status` without a body (see prefersMinimal), once the request's body has been read. */
export function answerMinimal(res: ServerResponse, status: number): void {
  res.writeHead(status, { "content-length": 0, "preference-applied": "return=minimal" });
  res.end();
}

function bodyLeftUnread(req: IncomingMessage): boolean {
  const declared = req.headers["content-length"];
  return (
    !req.complete && ((declared !== undefined && declared !== "0") || req.headers["transfer-encoding"] !== undefined)
  );
}

/**
 * Reads what is left of the request's body and drops it; calls `done` once, when the body has
 * ended, the request is gone, or the limits are reached.
 */
function drainBody(req: IncomingMessage, limits: DrainLimits, done: () => void): void {
  let left = limits.maxBytes;
  let stopped = false;
  const count = (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) stop();
  };
  const timer = setTimeout(stop, limits.maxMs).unref();
  const stopWatching = finished(req, stop);
  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    stopWatching();
    req.off("data", count);
    done();
  }
  req.on("data", count);
  req.resume();
}
