// The harness's Kubernetes client: @kubernetes/client-node does the work (kubeconfig loading,
// TLS and bearer-token auth, API discovery, server-side apply, read, delete); this class only
// keeps the small surface the e2e tests use, plus raw requests by path (status subresources,
// TokenRequest, /metrics, self-reviews) authenticated the same way (KubeConfig.applyToHTTPSOptions).
import { request as httpsRequest, type RequestOptions } from "node:https";

import { ApiException, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeResponse {
  status: number;
  body: string;
  /** Parsed JSON body, or undefined. */
  json: unknown;
}

export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${extractMessage(body)}`);
    this.name = "KubeApiError";
  }
}

function extractMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: string };
    if (typeof j.message === "string") return j.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 500);
}

/** client-node's errors as KubeApiError (status + message), so failures read the same everywhere. */
function asKubeApiError(err: unknown, method: string, obj: KubeObject): unknown {
  // discovery found no such kind (yet: a CRD just created takes a moment to be served)
  const message = err instanceof Error ? err.message : "";
  if (/^Unrecognized API version and kind|^Failed to fetch resource metadata/.test(message)) {
    return new Error(`no resource for kind ${obj.kind ?? "?"} in ${obj.apiVersion ?? "?"} (${message.split("\n")[0] ?? ""})`);
  }
  if (!(err instanceof ApiException)) return err;
  const body = typeof err.body === "string" ? err.body : JSON.stringify(err.body);
  const what = `${obj.apiVersion ?? "?"} ${obj.kind ?? "?"} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata?.name ?? ""}`;
  return new KubeApiError(method, what, err.code, body);
}

export class KubeRest {
  readonly kubeConfig: KubeConfig;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** The kubeconfig context's namespace (default "default"). */
  readonly namespace: string;
  private readonly objects: KubernetesObjectApi;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/$/, "");
    this.namespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  static fromKubeconfig(file: string): KubeRest {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return new KubeRest(kc);
  }

  /** A raw request by path (JSON body unless `body` is a string); never throws on HTTP errors. */
  async request(
    method: string,
    path: string,
    opts: { body?: unknown; contentType?: string; timeoutMs?: number } = {},
  ): Promise<KubeResponse> {
    const payload =
      opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    const options: RequestOptions = { method, headers: { accept: "application/json" }, timeout: opts.timeoutMs ?? 30_000 };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const headers = options.headers as Record<string, string>;
    if (payload !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(this.server + path), options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = body ? JSON.parse(body) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, json });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like request(), but throws KubeApiError unless 2xx; returns the JSON body. */
  async call<T = unknown>(method: string, path: string, opts: { body?: unknown; contentType?: string } = {}): Promise<T> {
    const r = await this.request(method, path, opts);
    if (r.status < 200 || r.status > 299) throw new KubeApiError(method, path, r.status, r.body);
    return r.json as T;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  /** Server-side apply (force) of one object. */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, fieldManager: string): Promise<T> {
    try {
      // client-node's ObjectApi mutates its argument (default namespace); give it a copy
      const spec = structuredClone(obj) as KubernetesObject;
      return (await this.objects.patch(spec, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply)) as T;
    } catch (err) {
      throw asKubeApiError(err, "APPLY", obj);
    }
  }

  /** Deletes an object; false when it did not exist. */
  async delete(obj: KubeObject): Promise<boolean> {
    try {
      await this.objects.delete(structuredClone(obj) as KubernetesObject);
      return true;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return false;
      throw asKubeApiError(err, "DELETE", obj);
    }
  }

  /** Reads an object by apiVersion/kind/namespace/name; undefined when not found. */
  async read<T extends KubeObject = KubeObject>(obj: KubeObject): Promise<T | undefined> {
    const name = obj.metadata?.name;
    if (!obj.apiVersion || !obj.kind || !name) throw new Error("read needs apiVersion, kind and metadata.name");
    try {
      const header = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) } };
      return (await this.objects.read(header)) as unknown as T;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw asKubeApiError(err, "GET", obj);
    }
  }
}
