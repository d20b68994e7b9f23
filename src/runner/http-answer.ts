// How the runner writes a JSON answer.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Writes `body` as the JSON answer. */
export function answerJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  options: { retryAfterSeconds?: number } = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...(options.retryAfterSeconds !== undefined ? { "retry-after": String(options.retryAfterSeconds) } : {}),
    // A body left unread (refused before or while reading it) is not read to its end just to keep
    // the connection: the sender opens a new one.
    ...(bodyLeftUnread(req) ? { connection: "close" } : {}),
  });
  res.end(text);
}

function bodyLeftUnread(req: IncomingMessage): boolean {
  const declared = req.headers["content-length"];
  return (
    !req.complete && ((declared !== undefined && declared !== "0") || req.headers["transfer-encoding"] !== undefined)
  );
}
