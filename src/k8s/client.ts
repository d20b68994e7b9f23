// Kubernetes access for the kubernetes and waitFor steps, on @kubernetes/client-node: its
// KubernetesObjectApi for discovery and for reading, creating, patching (server-side apply, merge,
// JSON and strategic merge patches) and deleting any object, and its Watch. Credentials, TLS and
// exec/OIDC plugins come from the KubeConfig (a file, $KUBECONFIG or in-cluster).
//
// src/steps/common/kube.ts loads this module with import() the first time a step talks to the API
// server: validate, generate and simulate never load client-node.
//
// Each call adds a request middleware (client-node's extension point) that
//  - gives every request, discovery included, the step's AbortSignal, so requests in flight abort;
//  - puts capitals back into object names (KubernetesObjectApi lowercases the whole path);
//  - sends the body as we built it: KubernetesObjectApi serializes built-in kinds through its
//    generated models, which drop fields the model does not know (kubernetes-client/javascript
//    #2483, #2962), and it cannot serialize a JSON patch (an array has no kind to find the path by);
//  - keeps the answer as the server sent it: KubernetesObjectApi deserializes into model classes
//    (unknown fields dropped, timestamps turned into Dates); wait conditions and CEL expressions
//    see the object as the API server and `kubectl get -o json` show it.
import { STATUS_CODES } from "node:http";
import {
  ApiException,
  createConfiguration,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  ResponseContext,
  ServerConfiguration,
  Watch,
  type Configuration,
  type KubeConfig,
  type V1APIResource,
  type V1APIResourceList,
} from "@kubernetes/client-node";
import { isKnownClusterScoped, kindToResource, splitApiVersion } from "./names.js";
import { KubeApiError, type KubeObject, type PatchType, type ResourceInfo, type WatchEvent } from "./types.js";

const PATCH_STRATEGY: Record<PatchType, PatchStrategy> = {
  merge: PatchStrategy.MergePatch,
  json: PatchStrategy.JsonPatch,
  strategic: PatchStrategy.StrategicMergePatch,
};

/** Names the runner in the API server's audit log (client-node's Watch sends node-fetch's own). */
const USER_AGENT = "resource-hooks";

/** Discovery answers are reused this long (a CRD may change its versions or scope). */
const DISCOVERY_TTL_MS = 5 * 60_000;

/** One call as its middleware sees it. */
interface Exchange {
  signal?: AbortSignal | undefined;
  /** The object's path ending as KubernetesObjectApi writes it (lowercased) and as it must be. */
  path?: { lowercased: string; exact: string };
  /** The request body, sent as JSON instead of what KubernetesObjectApi serialized. */
  body?: unknown;
  /** The body of the last answer, as received. */
  answer?: string;
}

/**
 * KubernetesObjectApi sharing one discovery cache between calls, with its path lookup opened up,
 * and guessing the resource as client-go does when discovery is forbidden (401/403).
 */
class ObjectApi extends KubernetesObjectApi {
  constructor(configuration: Configuration, cache: Record<string, V1APIResourceList>) {
    super(configuration);
    this.apiVersionResourceCache = cache;
  }

  /** The kind's resource from discovery; undefined when its group version does not serve it. */
  async lookup(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return await this.resource(apiVersion, kind);
  }

  /** The REST path of the kind's collection, in `namespace` for namespaced kinds. */
  async collectionPath(apiVersion: string, kind: string, namespace: string | undefined): Promise<string> {
    return await this.specUriPath({ apiVersion, kind, metadata: namespace ? { namespace } : {} }, "list");
  }

  protected override async resource(apiVersion: string, kind: string, options?: Configuration): Promise<V1APIResource | undefined> {
    try {
      return await super.resource(apiVersion, kind, options);
    } catch (err) {
      if (!(err instanceof ApiException) || (err.code !== 401 && err.code !== 403)) throw err;
      const { group } = splitApiVersion(apiVersion);
      return { name: kindToResource(group, kind), kind, namespaced: !isKnownClusterScoped(group, kind), singularName: kind.toLowerCase(), verbs: [] };
    }
  }
}

const clients = new WeakMap<KubeConfig, KubeClient>();

/** One client per KubeConfig, so discovery results are shared by all steps of a runner. */
export function kubeClientFor(kubeConfig: KubeConfig): KubeClient {
  let client = clients.get(kubeConfig);
  if (!client) {
    client = new KubeClient(kubeConfig);
    clients.set(kubeConfig, client);
  }
  return client;
}

export class KubeClient {
  private discovery: Record<string, V1APIResourceList> = {};
  private discoveryStarted = Date.now();

  constructor(private readonly kubeConfig: KubeConfig) {}

  /** The namespace of the kubeconfig's current context (in-cluster: the service account's), else "default". */
  defaultNamespace(): string {
    return this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace || "default";
  }

  /**
   * Resolves a kind through discovery. A group version or kind the server does not serve is a 404
   * KubeApiError (reason NotFound); if discovery itself is forbidden, the plural is guessed.
   */
  async resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ResourceInfo> {
    let found: V1APIResource | undefined;
    try {
      found = await this.api({ signal }).lookup(apiVersion, kind);
    } catch (err) {
      const error = kubeError(err);
      if (error instanceof KubeApiError && error.status === 404) {
        throw new KubeApiError(`apiVersion ${apiVersion} is not served by the API server`, 404, "NotFound", undefined, { cause: err });
      }
      throw error;
    }
    if (!found) throw new KubeApiError(`kind ${kind} is not served under apiVersion ${apiVersion}`, 404, "NotFound");
    const { group, version } = splitApiVersion(apiVersion);
    return { apiVersion, kind, group, version, resource: found.name, namespaced: found.namespaced };
  }

  async get(info: ResourceInfo, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<KubeObject> {
    return await this.call({ signal, path: exactPath(info, name) }, (api) => api.read(target(info, namespace, name)));
  }

  async create(info: ResourceInfo, namespace: string | undefined, object: KubeObject, fieldManager: string, signal?: AbortSignal): Promise<KubeObject> {
    const name = object.metadata?.name ?? "";
    return await this.call({ signal, body: object }, (api) => api.create(target(info, namespace, name), undefined, undefined, fieldManager));
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
    return await this.call({ signal, body: object, path: exactPath(info, name) }, (api) =>
      api.patch(target(info, namespace, name), undefined, undefined, options.fieldManager, options.force, PatchStrategy.ServerSideApply),
    );
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
    return await this.call({ signal, body: patch, path: exactPath(info, name) }, (api) =>
      api.patch(target(info, namespace, name), undefined, undefined, fieldManager, undefined, PATCH_STRATEGY[type]),
    );
  }

  /** Returns the object (while finalizers or grace periods keep it) or a Status. */
  async delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    propagationPolicy: string | undefined,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    return await this.call({ signal, path: exactPath(info, name) }, (api) => api.delete(target(info, namespace, name), undefined, undefined, undefined, undefined, propagationPolicy));
  }

  /**
   * Watches one object by name (a fieldSelector on metadata.name, so RBAC needs only `watch`).
   * Without resourceVersion the server first sends the current object as ADDED. Ends when the
   * server closes the watch (timeoutSeconds); throws the signal's reason when it aborts.
   */
  async *watchObject(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string | undefined; timeoutSeconds: number },
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    let path: string;
    try {
      path = await this.api({ signal }).collectionPath(info.apiVersion, info.kind, info.namespaced ? namespace : undefined);
    } catch (err) {
      throw kubeError(err);
    }
    const events: WatchEvent[] = [];
    let ended = false;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const end = (err: unknown): void => {
      if (!ended) {
        ended = true;
        failure = err ?? undefined;
      }
      wake?.();
    };
    const started = new Watch(this.kubeConfig).watch(
      path,
      {
        fieldSelector: `metadata.name=${name}`,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.max(1, Math.floor(options.timeoutSeconds)),
        resourceVersion: options.resourceVersion,
      },
      (type: string, object: unknown) => {
        events.push({ type: type as WatchEvent["type"], object: (object ?? {}) as KubeObject });
        wake?.();
      },
      end,
    );
    started.catch(end);
    const onAbort = (): void => wake?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const event = events.shift();
        if (event) yield event;
        else if (ended) break;
        else await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (failure !== undefined && failure !== null) throw kubeError(failure);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      started.then(
        (controller) => controller.abort(),
        () => undefined,
      );
    }
  }

  private async call(exchange: Exchange, request: (api: ObjectApi) => Promise<unknown>): Promise<KubeObject> {
    try {
      await request(this.api(exchange));
    } catch (err) {
      throw kubeError(err);
    }
    return exchange.answer ? (JSON.parse(exchange.answer) as KubeObject) : {};
  }

  /** A KubernetesObjectApi for one call: the shared discovery cache, and the call's middleware. */
  private api(exchange: Exchange): ObjectApi {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeApiError("the kubeconfig has no current cluster", 0, "InvalidConfig");
    if (Date.now() - this.discoveryStarted > DISCOVERY_TTL_MS) {
      this.discovery = {};
      this.discoveryStarted = Date.now();
    }
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: this.kubeConfig },
      promiseMiddleware: [
        {
          pre: async (request) => {
            if (exchange.signal) request.setSignal(exchange.signal);
            request.setHeaderParam("User-Agent", USER_AGENT);
            if (exchange.path) {
              const url = new URL(request.getUrl());
              if (url.pathname.endsWith(exchange.path.lowercased)) {
                url.pathname = url.pathname.slice(0, -exchange.path.lowercased.length) + exchange.path.exact;
                request.setUrl(url.toString());
              }
            }
            if (exchange.body !== undefined && request.getHttpMethod() !== HttpMethod.GET) request.setBody(JSON.stringify(exchange.body));
            return request;
          },
          post: async (response) => {
            const text = await response.body.text();
            exchange.answer = text;
            return new ResponseContext(response.httpStatusCode, response.headers, {
              text: async () => text,
              binary: async () => Buffer.from(text),
            });
          },
        },
      ],
    });
    return new ObjectApi(configuration, this.discovery);
  }
}

/** What KubernetesObjectApi needs to find an object: apiVersion, kind, name, namespace. */
function target(info: ResourceInfo, namespace: string | undefined, name: string) {
  return { apiVersion: info.apiVersion, kind: info.kind, metadata: { name, ...(info.namespaced && namespace ? { namespace } : {}) } };
}

/**
 * KubernetesObjectApi lowercases the whole path, name included; names of some kinds (RBAC roles,
 * path-segment names of custom resources) may have capitals, so the middleware puts them back.
 */
function exactPath(info: ResourceInfo, name: string): Exchange["path"] {
  const exact = `/${info.resource}/${encodeURIComponent(name)}`;
  const lowercased = exact.toLowerCase();
  return exact === lowercased ? undefined : { lowercased, exact };
}

interface StatusBody {
  message?: string;
  reason?: string;
  details?: { retryAfterSeconds?: number };
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (body && typeof body === "object" && !Buffer.isBuffer(body)) return body as StatusBody;
  try {
    const parsed = JSON.parse(String(body)) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as StatusBody) : undefined;
  } catch {
    return undefined;
  }
}

/** "Not Found" -> "NotFound", as Kubernetes spells reasons. */
function reasonOf(status: number): string {
  return (STATUS_CODES[status] ?? "Unknown").replace(/[^A-Za-z]/g, "");
}

/**
 * client-node's errors as KubeApiError: ApiException (an answer with an error status), the Watch's
 * error (statusCode), node-fetch's FetchError (no answer: status 0, NetworkError). An abort, and
 * anything else, is returned as it is.
 */
function kubeError(err: unknown): unknown {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const header = Number((err.headers as Record<string, string | undefined>)["retry-after"] ?? Number.NaN);
    const retryAfter = status?.details?.retryAfterSeconds ?? (Number.isFinite(header) && header >= 0 ? header : undefined);
    const text = typeof err.body === "string" ? err.body.slice(0, 300) : "";
    return new KubeApiError(status?.message || text || `HTTP ${err.code}`, err.code, status?.reason || reasonOf(err.code), retryAfter, { cause: err });
  }
  if (!err || typeof err !== "object") return err;
  const e = err as { name?: string; message?: string; statusCode?: unknown; code?: unknown };
  if (e.name === "AbortError") return err;
  if (typeof e.statusCode === "number") return new KubeApiError(e.message || `HTTP ${e.statusCode}`, e.statusCode, reasonOf(e.statusCode), undefined, { cause: err });
  if (e.name === "FetchError") return new KubeApiError(e.message ?? String(e.code), 0, "NetworkError", undefined, { cause: err });
  return err;
}
