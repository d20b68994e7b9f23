// A small Kubernetes REST client on node:https, so that the harness itself does
// not depend on @kubernetes/client-node (2.0.1 pulls undici 8, which does not
// load on Node 20). Bearer-token auth and a CA, as in the kubeconfigs the stack
// writes.
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";

import { parse as parseYaml } from "yaml";

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

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

export interface KubeRestOptions {
  server: string;
  caPem: string;
  token: string;
  /** Namespace for namespaced objects without metadata.namespace (default "default"). */
  namespace?: string;
}

export class KubeRest {
  readonly server: string;
  readonly namespace: string;
  private readonly caPem: string;
  private readonly token: string;
  private readonly discovery = new Map<string, ApiResource[]>();

  constructor(opts: KubeRestOptions) {
    this.server = opts.server.replace(/\/$/, "");
    this.caPem = opts.caPem;
    this.token = opts.token;
    this.namespace = opts.namespace ?? "default";
  }

  /** Reads a kubeconfig of the form the stack writes (token user, CA data). */
  static fromKubeconfig(file: string): KubeRest {
    const kc = parseYaml(readFileSync(file, "utf8")) as {
      "current-context"?: string;
      contexts?: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>;
      clusters?: Array<{ name: string; cluster: { server: string; "certificate-authority-data"?: string } }>;
      users?: Array<{ name: string; user: { token?: string } }>;
    };
    const ctx = kc.contexts?.find((c) => c.name === kc["current-context"])?.context;
    const cluster = kc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
    const user = kc.users?.find((u) => u.name === ctx?.user)?.user;
    if (!ctx || !cluster || !user?.token || !cluster["certificate-authority-data"]) {
      throw new Error(`${file}: not a token kubeconfig with certificate-authority-data`);
    }
    return new KubeRest({
      server: cluster.server,
      caPem: Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8"),
      token: user.token,
      namespace: ctx.namespace,
    });
  }

  request(
    method: string,
    path: string,
    opts: { body?: unknown; contentType?: string; timeoutMs?: number } = {},
  ): Promise<KubeResponse> {
    const payload =
      opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.token}`,
        accept: "application/json",
      };
      if (payload !== undefined) {
        headers["content-type"] = opts.contentType ?? "application/json";
        headers["content-length"] = String(Buffer.byteLength(payload));
      }
      const req = httpsRequest(
        new URL(this.server + path),
        { method, headers, ca: this.caPem, timeout: opts.timeoutMs ?? 30_000 },
        (res) => {
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
        },
      );
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

  private static groupVersionPath(apiVersion: string): string {
    return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  }

  private async resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let list = this.discovery.get(apiVersion);
      if (!list || attempt > 0) {
        const r = await this.request("GET", KubeRest.groupVersionPath(apiVersion));
        if (r.status === 200) {
          const j = r.json as { resources?: ApiResource[] };
          list = (j.resources ?? []).filter((x) => !x.name.includes("/"));
          this.discovery.set(apiVersion, list);
        } else {
          list = [];
        }
      }
      const hit = list.find((x) => x.kind === kind);
      if (hit) return hit;
    }
    throw new KubeApiError("GET", KubeRest.groupVersionPath(apiVersion), 404, `no resource for kind ${kind} in ${apiVersion}`);
  }

  /** URL path of an object (or of its collection when it has no name). */
  async pathFor(obj: KubeObject): Promise<string> {
    if (!obj.apiVersion || !obj.kind) throw new Error("object needs apiVersion and kind");
    const res = await this.resourceFor(obj.apiVersion, obj.kind);
    const base = KubeRest.groupVersionPath(obj.apiVersion);
    const ns = res.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata?.namespace ?? this.namespace)}` : "";
    const name = obj.metadata?.name ? `/${encodeURIComponent(obj.metadata.name)}` : "";
    return `${base}${ns}/${res.name}${name}`;
  }

  /** Server-side apply (force) of one object. */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, fieldManager: string): Promise<T> {
    const p = await this.pathFor(obj);
    const q = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return this.call<T>("PATCH", p + q, { body: obj, contentType: "application/apply-patch+yaml" });
  }

  /** Deletes an object; false when it did not exist. */
  async delete(obj: KubeObject): Promise<boolean> {
    const r = await this.request("DELETE", await this.pathFor(obj));
    if (r.status === 404) return false;
    if (r.status < 200 || r.status > 299) throw new KubeApiError("DELETE", await this.pathFor(obj), r.status, r.body);
    return true;
  }

  /** Reads an object by apiVersion/kind/namespace/name; undefined when not found. */
  async read<T extends KubeObject = KubeObject>(obj: KubeObject): Promise<T | undefined> {
    const p = await this.pathFor(obj);
    const r = await this.request("GET", p);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new KubeApiError("GET", p, r.status, r.body);
    return r.json as T;
  }
}
