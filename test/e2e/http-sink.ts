// A real HTTP server on 127.0.0.1 that records every request it gets: the
// target of Sensor HTTP triggers in e2e tests.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

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

export interface SinkResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export type SinkResponder = SinkResponse | ((req: RecordedRequest) => SinkResponse | Promise<SinkResponse>);

export interface HttpSink {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Requests in arrival order (live array). */
  readonly requests: RecordedRequest[];
  /** Resolves with the requests once at least `n` have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Resolves once no request has arrived for `quietMs` (at most `timeoutMs`). */
  waitQuiet(quietMs: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** How to answer from now on (default: 200 "ok"). */
  respondWith(responder: SinkResponder): void;
  close(): Promise<void>;
}

export interface HttpSinkOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  responder?: SinkResponder;
}

export async function startHttpSink(opts: HttpSinkOptions = {}): Promise<HttpSink> {
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();
  let responder: SinkResponder = opts.responder ?? { status: 200, body: "ok" };
  let lastArrival = performance.now();

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
      for (const w of waiters) w();
      void answer(recorded);
    });
    const answer = async (recorded: RecordedRequest): Promise<void> => {
      let r: SinkResponse;
      try {
        r = typeof responder === "function" ? await responder(recorded) : responder;
      } catch (err) {
        r = { status: 500, body: String(err) };
      }
      if (r.delayMs) await new Promise((ok) => setTimeout(ok, r.delayMs));
      res.writeHead(r.status ?? 200, r.headers ?? { "content-type": "text/plain" });
      res.end(r.body ?? "");
    };
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const waitUntil = (cond: () => boolean, timeoutMs: number, what: string): Promise<RecordedRequest[]> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) {
          done();
          resolve(requests);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`http sink :${port}: timed out after ${timeoutMs}ms waiting for ${what}; got ${requests.length} request(s)`));
      }, timeoutMs);
      const poll = setInterval(check, 50);
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    waitFor: (n, timeoutMs = 30_000) => waitUntil(() => requests.length >= n, timeoutMs, `${n} request(s)`),
    waitQuiet: (quietMs, timeoutMs = quietMs + 30_000) =>
      waitUntil(() => performance.now() - lastArrival >= quietMs, timeoutMs, `${quietMs}ms without requests`),
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
