// A small Kubernetes REST client for the kubernetes and waitFor steps: discovery, get, create,
// server-side apply, patch, delete and watch of any resource, every call abortable.
//
// It speaks HTTP with node:http/node:https and takes credentials from a client-node KubeConfig
// through applyToHTTPSOptions (CA, client certificate, bearer token, exec/OIDC plugins,
// impersonation), or from src/k8s/kubeconfig.ts. It only imports client-node's types: at run time
// it loads neither @kubernetes/client-node nor undici.
import * as http from "node:http";
import * as https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { kindToResource, isKnownClusterScoped, splitApiVersion } from "./names.js";

/** The part of client-node's KubeConfig this client uses. */
export type KubeAccess = Pick<
  KubeConfig,
  "getCurrentCluster" | "getCurrentUser" | "getCurrentContext" | "getContextObject" | "applyToHTTPSOptions"
>;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** Where a kind is served: from discovery, or guessed when discovery could not be asked. */
export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  group: string;
  version: string;
  /** Plural resource name, e.g. "deployments". */
  resource: string;
  namespaced: boolean;
}

export type PatchType = "merge" | "json" | "strategic";

const PATCH_CONTENT_TYPE: Record<PatchType | "apply", string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/**
 * A failed API call. `status` is the HTTP status, 0 when the server was not reached (a network
 * error). `reason` is the Kubernetes Status reason (AlreadyExists, NotFound, Conflict, ...).
 */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const DISCOVERY_TTL_MS = 5 * 60_000;
const DISCOVERY_MISS_REFRESH_MS = 10_000;

interface DiscoveredResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

interface DiscoveryEntry {
  at: number;
  /** Undefined: the group version is not served (404). */
  resources?: DiscoveredResource[];
}

const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });
const clients = new WeakMap<KubeAccess, KubeClient>();

/** One client per KubeConfig, so discovery results are shared by all steps of a runner. */
export function kubeClientFor(access: KubeAccess): KubeClient {
  let client = clients.get(access);
  if (!client) {
    client = new KubeClient(access);
    clients.set(access, client);
  }
  return client;
}

export class KubeClient {
  private readonly discovery = new Map<string, DiscoveryEntry>();

  constructor(private readonly access: KubeAccess) {}

  /** The namespace of the kubeconfig's current context, else "default". */
  defaultNamespace(): string {
    const context = this.access.getContextObject(this.access.getCurrentContext());
    return context?.namespace || "default";
  }

  /**
   * Resolves a kind through discovery. A group version or kind the server does not serve is a
   * 404 KubeApiError (reason NotFound); if discovery itself cannot be read (forbidden), the plural
   * is guessed as client-go does.
   */
  async resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ResourceInfo> {
    const { group, version } = splitApiVersion(apiVersion);
    const fallback: ResourceInfo = {
      apiVersion,
      kind,
      group,
      version,
      resource: kindToResource(group, kind),
      namespaced: !isKnownClusterScoped(group, kind),
    };
    let entry = this.discovery.get(apiVersion);
    const now = Date.now();
    const stale = !entry || now - entry.at > DISCOVERY_TTL_MS;
    const missing = entry && !findKind(entry, kind) && now - entry.at > DISCOVERY_MISS_REFRESH_MS;
    if (stale || missing) {
      try {
        entry = await this.discover(apiVersion, signal);
        this.discovery.set(apiVersion, entry);
      } catch (err) {
        if (err instanceof KubeApiError && (err.status === 401 || err.status === 403)) return fallback;
        throw err;
      }
    }
    if (!entry?.resources) {
      throw new KubeApiError(`apiVersion ${apiVersion} is not served by the API server`, 404, "NotFound");
    }
    const found = findKind(entry, kind);
    if (!found) throw new KubeApiError(`kind ${kind} is not served under apiVersion ${apiVersion}`, 404, "NotFound");
    return { apiVersion, kind, group, version, resource: found.name, namespaced: found.namespaced };
  }

  private async discover(apiVersion: string, signal?: AbortSignal): Promise<DiscoveryEntry> {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    try {
      const list = (await this.request("GET", path, { signal })) as { resources?: DiscoveredResource[] } | undefined;
      const resources = (list?.resources ?? []).filter((r) => typeof r.name === "string" && !r.name.includes("/"));
      return { at: Date.now(), resources };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return { at: Date.now() };
      throw err;
    }
  }

  /** The REST path of a collection (no name) or of one object. */
  path(info: ResourceInfo, namespace: string | undefined, name?: string): string {
    const base = info.group === "" ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${base}${ns}/${info.resource}${name !== undefined ? `/${encodeURIComponent(name)}` : ""}`;
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<KubeObject> {
    return (await this.request("GET", this.path(info, namespace, name), { signal })) as KubeObject;
  }

  async create(info: ResourceInfo, namespace: string | undefined, object: KubeObject, fieldManager: string, signal?: AbortSignal): Promise<KubeObject> {
    return (await this.request("POST", this.path(info, namespace), {
      query: { fieldManager },
      body: object,
      signal,
    })) as KubeObject;
  }

  /** Server-side apply (PATCH application/apply-patch+yaml; JSON is YAML). */
  async apply(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    object: KubeObject,
    options: { fieldManager: string; force: boolean },
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    return (await this.request("PATCH", this.path(info, namespace, name), {
      query: { fieldManager: options.fieldManager, force: options.force },
      body: object,
      contentType: PATCH_CONTENT_TYPE.apply,
      signal,
    })) as KubeObject;
  }

  async patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    fieldManager: string,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    return (await this.request("PATCH", this.path(info, namespace, name), {
      query: { fieldManager },
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      signal,
    })) as KubeObject;
  }

  /** Returns the object (while finalizers or grace periods keep it) or a Status. */
  async delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    propagationPolicy: string | undefined,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const body = propagationPolicy ? { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy } : undefined;
    return (await this.request("DELETE", this.path(info, namespace, name), { body, signal })) as KubeObject;
  }

  /**
   * Watches one object by name (a fieldSelector on metadata.name, so RBAC needs only `watch`).
   * Without resourceVersion the server first sends the current object as ADDED. Ends when the
   * server closes the watch (timeoutSeconds) or the signal aborts.
   */
  async *watchObject(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string; timeoutSeconds: number },
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    const response = await this.send("GET", this.path(info, namespace), {
      query: {
        watch: true,
        fieldSelector: `metadata.name=${name}`,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.max(1, Math.floor(options.timeoutSeconds)),
        resourceVersion: options.resourceVersion,
      },
      signal,
    });
    if ((response.statusCode ?? 0) >= 300) {
      throw apiError(response, await readText(response, MAX_RESPONSE_BYTES));
    }
    response.setEncoding("utf8");
    let buffer = "";
    try {
      for await (const chunk of response as AsyncIterable<string>) {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line) yield parseWatchLine(line);
        }
        if (buffer.length > MAX_RESPONSE_BYTES) throw new KubeApiError("watch event larger than 16 MiB", 0, "InternalError");
      }
    } finally {
      response.destroy();
    }
    if (buffer.trim()) yield parseWatchLine(buffer.trim());
  }

  /** One JSON request; a non-2xx answer throws KubeApiError. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const response = await this.send(method, path, options);
    const text = await readText(response, MAX_RESPONSE_BYTES);
    if ((response.statusCode ?? 0) >= 300) throw apiError(response, text);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new KubeApiError(`${method} ${path}: the API server answered with invalid JSON`, response.statusCode ?? 0, "InternalError", undefined, {
        cause: err,
      });
    }
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<http.IncomingMessage> {
    const cluster = this.access.getCurrentCluster();
    if (!cluster) throw new KubeApiError("the kubeconfig has no current cluster", 0, "InvalidConfig");
    const tls: https.RequestOptions = {};
    await this.access.applyToHTTPSOptions(tls);
    const server = new URL(cluster.server);
    const url = new URL(server.href);
    url.pathname = `${server.pathname.replace(/\/+$/, "")}${path}`;
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: http.OutgoingHttpHeaders = { Accept: "application/json", "User-Agent": "resource-hooks" };
    for (const [key, value] of Object.entries(tls.headers ?? {})) {
      if (value !== undefined) headers[key] = value;
    }
    if (tls.auth) headers.Authorization = `Basic ${Buffer.from(tls.auth).toString("base64")}`;
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers["Content-Type"] = options.contentType ?? "application/json";
      headers["Content-Length"] = payload.length;
    }
    const secure = url.protocol === "https:";
    const requestOptions: https.RequestOptions = {
      method,
      headers,
      agent: secure ? httpsAgent : httpAgent,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    if (secure) {
      for (const key of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"] as const) {
        if (tls[key] !== undefined) Object.assign(requestOptions, { [key]: tls[key] });
      }
    }
    return await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = (secure ? https : http).request(url, requestOptions, resolve);
      request.on("error", (err: NodeJS.ErrnoException) => {
        if (options.signal?.aborted || err.name === "AbortError") reject(options.signal?.reason ?? err);
        else reject(new KubeApiError(`${method} ${url.host}${path}: ${err.code ?? err.message}`, 0, "NetworkError", undefined, { cause: err }));
      });
      request.end(payload);
    });
  }
}

function findKind(entry: DiscoveryEntry, kind: string): DiscoveredResource | undefined {
  return entry.resources?.find((r) => r.kind === kind);
}

function parseWatchLine(line: string): WatchEvent {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch (err) {
    throw new KubeApiError("the API server sent an invalid watch event", 0, "InternalError", undefined, { cause: err });
  }
  const { type, object } = (event ?? {}) as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || !object || typeof object !== "object") {
    throw new KubeApiError("the API server sent an invalid watch event", 0, "InternalError");
  }
  return { type: type as WatchEvent["type"], object: object as KubeObject };
}

async function readText(response: http.IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new KubeApiError(`response larger than ${limit} bytes`, 0, "InternalError");
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  details?: { retryAfterSeconds?: number };
}

function apiError(response: http.IncomingMessage, text: string): KubeApiError {
  const status = response.statusCode ?? 0;
  let body: StatusBody | undefined;
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    body = undefined;
  }
  const retryAfterHeader = Number(response.headers["retry-after"]);
  const retryAfter =
    body?.details?.retryAfterSeconds ?? (Number.isFinite(retryAfterHeader) && retryAfterHeader >= 0 ? retryAfterHeader : undefined);
  const message = body?.message || text.slice(0, 300) || response.statusMessage || `HTTP ${status}`;
  return new KubeApiError(message, status, body?.reason || response.statusMessage || "Unknown", retryAfter);
}
