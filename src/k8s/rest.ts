// Plain REST access to the API server for the runner's own objects (HookRuns, Events): JSON in,
// JSON out, errors as the one KubeApiError. client-node's typed clients deserialize into model
// classes (timestamps become Dates, unknown fields are dropped) and its CustomObjectsApi has no
// status-subresource replace with a precondition we can rely on; the runner needs the objects
// exactly as the API server stores them, so it speaks HTTP itself and takes only credentials,
// TLS and auth plugins from the KubeConfig (applyToHTTPSOptions).
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError } from "./types.js";

export interface RestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request timeout (the API server answers reads in milliseconds; a hung connection must not hold a run). */
  timeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves when the server ends the watch or it is aborted; rejects on a connection error. */
  done: Promise<void>;
  abort(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class RestClient {
  private readonly server: URL;

  constructor(private readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeApiError("the kubeconfig has no current cluster", 0, "InvalidConfig");
    this.server = new URL(cluster.server);
  }

  async request<T = unknown>(method: string, path: string, options: RestOptions = {}): Promise<T> {
    const { status, text, headers } = await this.send(method, path, options);
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw apiError(status, text, headers, `${method} ${path}`);
  }

  /**
   * Streams watch events of a collection (`?watch=true`) to `onEvent` until the server closes the
   * watch, the signal aborts, or the connection fails.
   */
  async watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, object: Record<string, unknown>) => void): Promise<WatchHandle> {
    const controller = new AbortController();
    const options = await this.requestOptions("GET", path, { query: { ...query, watch: true } });
    const done = new Promise<void>((resolve, reject) => {
      const req = this.transport().request({ ...options, signal: controller.signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c.slice(0, 4096)));
          res.on("end", () => reject(apiError(res.statusCode ?? 0, text, res.headers, `WATCH ${path}`)));
          return;
        }
        let buffered = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (!line) continue;
            try {
              const event = JSON.parse(line) as { type: string; object: Record<string, unknown> };
              onEvent(event.type, event.object);
            } catch {
              // a torn line cannot happen on a healthy stream; a broken one ends below
            }
          }
        });
        res.on("end", () => resolve());
        res.on("error", (err) => (controller.signal.aborted ? resolve() : reject(err)));
      });
      req.on("error", (err) => (controller.signal.aborted ? resolve() : reject(new KubeApiError(`WATCH ${path}: ${err.message}`, 0, "NetworkError", undefined, { cause: err }))));
      req.end();
    });
    return { done, abort: () => controller.abort() };
  }

  private transport(): typeof https | typeof http {
    return this.server.protocol === "https:" ? https : http;
  }

  private async requestOptions(method: string, path: string, options: RestOptions): Promise<https.RequestOptions> {
    const url = new URL(this.server.pathname.replace(/\/$/, "") + path, this.server);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const request: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: "application/json", "User-Agent": "resource-hooks" },
    };
    await this.kubeConfig.applyToHTTPSOptions(request);
    return request;
  }

  private async send(method: string, path: string, options: RestOptions): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
    const request = await this.requestOptions(method, path, options);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) request.headers = { ...request.headers, "Content-Type": options.contentType ?? "application/json", "Content-Length": Buffer.byteLength(body) };
    return await new Promise((resolve, reject) => {
      const req = this.transport().request({ ...request, ...(options.signal ? { signal: options.signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
        res.on("error", reject);
      });
      req.setTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS}ms`)));
      req.on("error", (err) => reject(new KubeApiError(`${method} ${path}: ${err.message}`, 0, "NetworkError", undefined, { cause: err })));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function apiError(status: number, text: string, headers: http.IncomingHttpHeaders, what: string): KubeApiError {
  let reason = http.STATUS_CODES[status] ?? "Unknown";
  let message = text.slice(0, 512);
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    if (parsed.reason) reason = parsed.reason;
    if (parsed.message) message = parsed.message;
  } catch {
    // not a Status object
  }
  const retryAfter = Number(headers["retry-after"]);
  return new KubeApiError(`${what}: ${status} ${reason}: ${message}`, status, reason, Number.isFinite(retryAfter) ? retryAfter : undefined);
}
