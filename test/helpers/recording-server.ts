// A real HTTP server on 127.0.0.1 that records every request it gets, for unit and e2e tests:
// the stand-in for GitHub / Slack / CDN APIs and a fake Kubernetes API server in unit tests, the
// target of Sensor HTTP triggers and the runner's front door in e2e tests.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { pollUntil } from "./poll.js";

export interface RecordedRequest {
  method: string;
  /** Path plus query string, as sent. */
  path: string;
  /** Header names lower-cased (Node's view). */
  headers: IncomingHttpHeaders;
  /** Header names exactly as sent, in order: [name, value, name, value, ...]. */
  rawHeaders: string[];
  body: Buffer;
  bodyText: string;
  /** JSON.parse(bodyText), or undefined when the body is not JSON. */
  json: unknown;
  /** Date.now() when the request head arrived. */
  receivedAt: number;
  /** performance.now() when the request head arrived (same clock as timers in tests). */
  receivedAtPerf: number;
  /** Date.now() when the whole body had arrived. */
  completedAt: number;
}

export interface Reply {
  status?: number;
  /** Default content-type: text/plain for a string or Buffer body, application/json otherwise. */
  headers?: Record<string, string>;
  /** A string or Buffer is sent as it is; anything else as JSON. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

/**
 * How to answer: a fixed reply, or a function of the request. A function that returns undefined
 * answers on `res` itself (a streamed watch, a connection left hanging).
 */
export type Responder =
  Reply | ((req: RecordedRequest, res: ServerResponse) => Reply | undefined | Promise<Reply | undefined>);

export interface RecordingServerOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Default: 200 "ok". */
  responder?: Responder;
}

export interface RecordingServer {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Requests in arrival order (live array; tests may empty it). */
  readonly requests: RecordedRequest[];
  /** Resolves with the requests once at least `n` have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Resolves once no request has arrived for `quietMs` (at most `timeoutMs`). */
  waitQuiet(quietMs: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** How to answer from now on. */
  respondWith(responder: Responder): void;
  close(): Promise<void>;
}

export async function startRecordingServer(opts: RecordingServerOptions = {}): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  let responder: Responder = opts.responder ?? { status: 200, body: "ok" };
  let lastArrival = performance.now();

  const answer = async (recorded: RecordedRequest, res: ServerResponse): Promise<void> => {
    let reply: Reply | undefined;
    try {
      reply = typeof responder === "function" ? await responder(recorded, res) : responder;
    } catch (err) {
      reply = { status: 500, body: String(err) };
    }
    if (!reply) return;
    if (reply.delayMs) await sleep(reply.delayMs);
    const raw = typeof reply.body === "string" || Buffer.isBuffer(reply.body);
    const headers = { "content-type": raw ? "text/plain" : "application/json", ...reply.headers };
    res.writeHead(reply.status ?? 200, headers);
    res.end(reply.body === undefined ? undefined : raw ? (reply.body as string | Buffer) : JSON.stringify(reply.body));
  };

  const server: Server = createServer((req, res) => {
    const receivedAt = Date.now();
    const receivedAtPerf = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const bodyText = body.toString("utf8");
      let json: unknown;
      try {
        json = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
      } catch {
        json = undefined;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        bodyText,
        json,
        receivedAt,
        receivedAtPerf,
        completedAt: Date.now(),
      };
      requests.push(recorded);
      lastArrival = performance.now();
      void answer(recorded, res);
    });
  });
  // Node's default keep-alive (5 s), as most receivers announce one: a 1 s announcement makes
  // undici's fetch (which keeps a connection 1 s less than announced) open one per request.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    requests,
    waitFor: (n, timeoutMs = 30_000) =>
      pollUntil(`${n} request(s) at ${url}`, timeoutMs, async () => (requests.length >= n ? requests : undefined), 20),
    waitQuiet: (quietMs, timeoutMs = quietMs + 30_000) =>
      pollUntil(
        `${quietMs}ms without requests at ${url}`,
        timeoutMs,
        async () => (performance.now() - lastArrival >= quietMs ? requests : undefined),
        20,
      ),
    respondWith: (r) => {
      responder = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
