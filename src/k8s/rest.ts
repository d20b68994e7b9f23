// The one HTTP transport to the API server, used by everything that talks to Kubernetes: the
// kubernetes and waitFor steps (through src/k8s/client.ts), the HookRun store, the Event recorder
// and the Argo CD health wait. JSON in, JSON out, every failure as the one KubeApiError, every
// request abortable. client-node's typed clients deserialize into model classes (timestamps become
// Dates, unknown fields are dropped) and its CustomObjectsApi has no status-subresource replace
// with a precondition we can rely on; the runner needs objects exactly as the API server stores
// them, so it speaks HTTP itself and takes only credentials, TLS and auth plugins (exec, OIDC)
// from the KubeConfig (applyToHTTPSOptions).
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError } from "./types.js";

type RequestAgent = https.RequestOptions["agent"];

export type Query = Record<string, string | number | boolean | undefined>;

export interface RestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request timeout (the API server answers reads in milliseconds; a hung connection must not hold a run). */
  timeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves when the server ends the watch or it is aborted; rejects on a connection error or an error status. */
  done: Promise<void>;
  abort(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Names the runner in the API server's audit log. */
const USER_AGENT = "resource-hooks";
/**
 * Idle kept-alive connections close after this: well before kube-apiserver's 90 s idle timeout,
 * so a request never reuses a connection the server is closing at that moment.
 */
const IDLE_CONNECTION_MS = 30_000;
/**
 * How long one applyToHTTPSOptions answer (TLS material, auth headers, agent) serves requests.
 * Applying it reads the CA and key files and builds an agent to hash, a tenth of a request's CPU;
 * credentials rotate far slower: client-go re-reads a token file about once a minute, and a 401
 * drops the answer at once (exec and OIDC tokens that expired in the meantime).
 */
const CREDENTIALS_TTL_MS = 10_000;

interface Credentials {
  /** Connection options without method and path: applyToHTTPSOptions' answer with the kept-alive agent. */
  options: Promise<https.RequestOptions>;
  expires: number;
}

export interface RestClientOptions {
  /** Milliseconds of a monotonic clock, for the credentials' lifetime (tests set it). */
  now?: () => number;
}

export class RestClient {
  private readonly server: URL;
  private readonly agents = new Map<string, http.Agent>();
  private credentials: Credentials | undefined;
  private readonly now: () => number;

  constructor(
    private readonly kubeConfig: KubeConfig,
    options: RestClientOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeApiError("the kubeconfig has no current cluster", 0, "InvalidConfig");
    this.server = new URL(cluster.server);
  }

  async request<T = unknown>(method: string, path: string, options: RestOptions = {}): Promise<T> {
    const { status, text, headers } = await this.exchange(method, path, options);
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw apiError(status, text, headers);
  }

  /**
   * Streams watch events of a collection (`?watch=true`) to `onEvent` until the server closes the
   * watch (timeoutSeconds), the handle or `options.signal` aborts it, or the connection fails.
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (type: string, object: Record<string, unknown>) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<WatchHandle> {
    const { request, credentials } = await this.requestOptions("GET", path, { watch: true, ...query });
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    const streamed = new Promise<void>((resolve, reject) => {
      const req = this.transport().request({ ...request, signal: controller.signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          if (res.statusCode === 401) this.forget(credentials);
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c.slice(0, 4096)));
          res.on("end", () => reject(apiError(res.statusCode ?? 0, text, res.headers)));
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
              onEvent(event.type, event.object ?? {});
            } catch {
              // a torn line cannot happen on a healthy stream; a broken one ends below
            }
          }
        });
        res.on("end", () => resolve());
        res.on("error", (err) => (controller.signal.aborted ? resolve() : reject(networkError(`WATCH ${path}`, err))));
      });
      req.on("error", (err) => (controller.signal.aborted ? resolve() : reject(networkError(`WATCH ${path}`, err))));
      req.end();
    });
    const done = streamed.finally(() => options.signal?.removeEventListener("abort", abort));
    return { done, abort };
  }

  private transport(): typeof https | typeof http {
    return this.server.protocol === "https:" ? https : http;
  }

  private async requestOptions(
    method: string,
    path: string,
    query: Query | undefined,
  ): Promise<{ request: https.RequestOptions; credentials: Credentials; reused: boolean }> {
    const url = new URL(this.server.pathname.replace(/\/$/, "") + path, this.server);
    for (const [key, value] of Object.entries(query ?? {}))
      if (value !== undefined) url.searchParams.set(key, String(value));
    let credentials = this.credentials;
    const reused = credentials !== undefined && this.now() < credentials.expires;
    if (!reused || !credentials) credentials = this.refreshCredentials();
    const connection = await credentials.options;
    const headers = { ...connection.headers };
    return { request: { ...connection, method, path: url.pathname + url.search, headers }, credentials, reused };
  }

  /** One applyToHTTPSOptions for every request until CREDENTIALS_TTL_MS; a failed one is not kept. */
  private refreshCredentials(): Credentials {
    const apply = async (): Promise<https.RequestOptions> => {
      const options: https.RequestOptions = {
        protocol: this.server.protocol,
        hostname: this.server.hostname,
        port: this.server.port,
        headers: { Accept: "application/json", "User-Agent": USER_AGENT },
      };
      await this.kubeConfig.applyToHTTPSOptions(options);
      options.agent = this.keptAlive(options.agent);
      return options;
    };
    const credentials: Credentials = { options: apply(), expires: this.now() + CREDENTIALS_TTL_MS };
    credentials.options.catch(() => this.forget(credentials));
    this.credentials = credentials;
    return credentials;
  }

  /** After a 401: the next request applies the KubeConfig again (a token may have expired or rotated). */
  private forget(credentials: Credentials): void {
    if (this.credentials === credentials) this.credentials = undefined;
  }

  /**
   * client-node builds a new Agent for every request, so every request opened a new TCP and TLS
   * connection to the API server: on a busy node that handshake was most of a HookRun create,
   * which the Sensor waits for on every event. Requests with the same TLS material share one
   * keep-alive agent instead (auth headers are in the request options, so a rotated token still
   * applies). Proxy agents are left as client-node built them.
   */
  private keptAlive(agent: RequestAgent): RequestAgent {
    if (!agent || (agent.constructor !== https.Agent && agent.constructor !== http.Agent)) return agent;
    const options = (agent as http.Agent & { options: https.AgentOptions }).options;
    const hash = createHash("sha256").update(agent.constructor === https.Agent ? "https" : "http");
    for (const part of [
      options.ca,
      options.cert,
      options.key,
      options.pfx,
      options.passphrase,
      options.servername,
      options.rejectUnauthorized,
      options.ciphers,
    ]) {
      for (const value of Array.isArray(part) ? part : [part]) {
        hash.update("\0");
        if (value === undefined) continue;
        if (Buffer.isBuffer(value)) hash.update(value);
        else hash.update(typeof value === "object" ? JSON.stringify(value) : String(value));
      }
    }
    const key = hash.digest("hex");
    let shared = this.agents.get(key);
    if (!shared) {
      const keepAlive = { ...options, keepAlive: true, timeout: IDLE_CONNECTION_MS };
      shared = agent.constructor === https.Agent ? new https.Agent(keepAlive) : new http.Agent(keepAlive);
      this.agents.set(key, shared);
    }
    agent.destroy();
    return shared;
  }

  /**
   * One request, any answer: the status, headers and body as text (only no answer at all throws,
   * as a NetworkError).
   */
  async exchange(
    method: string,
    path: string,
    options: RestOptions = {},
  ): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
    const what = `${method} ${path}`;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    for (let attempt = 1; ; attempt++) {
      const { request, credentials, reused } = await this.requestOptions(method, path, options.query);
      if (body !== undefined)
        request.headers = {
          ...request.headers,
          "Content-Type": options.contentType ?? "application/json",
          "Content-Length": Buffer.byteLength(body),
        };
      const answer = await this.send(what, request, body, options);
      if (answer.status !== 401) return answer;
      this.forget(credentials);
      // The API server authenticates before anything else, so a request refused with reused
      // credentials did nothing and is sent once more with credentials applied again.
      if (!reused || attempt > 1) return answer;
    }
  }

  private send(
    what: string,
    request: https.RequestOptions,
    body: string | undefined,
    options: RestOptions,
  ): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const req = this.transport().request(
        { ...request, ...(options.signal ? { signal: options.signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString("utf8"),
              headers: res.headers,
            }),
          );
          res.on("error", (err) => reject(networkError(what, err)));
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
      req.on("error", (err) => reject(networkError(what, err)));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

/** No answer (refused, reset, timed out, aborted): status 0, so callers can tell it from an error status. */
function networkError(what: string, err: Error): KubeApiError {
  return new KubeApiError(`${what}: ${err.message}`, 0, "NetworkError", undefined, { cause: err });
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { retryAfterSeconds?: number };
}

/**
 * An error status as KubeApiError: message and reason from the Status object the API server sends
 * (as kubectl shows them), else the body's start and the HTTP reason phrase ("Not Found" ->
 * "NotFound", as Kubernetes spells reasons); retryAfterSeconds from the Status details or the
 * Retry-After header.
 */
function apiError(status: number, text: string, headers: http.IncomingHttpHeaders): KubeApiError {
  let parsed: StatusBody | undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object") parsed = value as StatusBody;
  } catch {
    // not a Status object
  }
  const reason = parsed?.reason || (http.STATUS_CODES[status] ?? "Unknown").replace(/[^A-Za-z]/g, "");
  const message = parsed?.message || text.slice(0, 300) || `HTTP ${status}`;
  const header = Number(headers["retry-after"] ?? Number.NaN);
  const retryAfter =
    parsed?.details?.retryAfterSeconds ?? (Number.isFinite(header) && header >= 0 ? header : undefined);
  return new KubeApiError(message, status, reason, retryAfter);
}
