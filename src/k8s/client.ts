// Object operations for the kubernetes and waitFor steps: discovery (cached, with client-go's
// plural guess when discovery is forbidden), get, create, server-side apply, merge / JSON /
// strategic merge patches, delete and an informer on one object (src/k8s/informer.ts), all over
// the one REST transport (src/k8s/rest.ts) that the HookRun store, the Event recorder and the
// Argo CD health wait use too: one set of credentials handling, one error type (KubeApiError), every call abortable
// through the step's AbortSignal.
//
// @kubernetes/client-node is used for KubeConfig loading and auth only. Its KubernetesObjectApi
// needed middleware over protected members to be usable here (it lowercases whole paths, names
// included; serializes built-in kinds through generated models that drop unknown fields,
// kubernetes-client/javascript #2483, #2962; cannot send a JSON patch; deserializes answers into
// model classes), so the steps build paths and bodies themselves and see objects as the API
// server and `kubectl get -o json` show them.
//
// src/steps/common/kube.ts loads this module with import() the first time a step talks to the API
// server: validate, generate and simulate never load client-node.
import type { KubeConfig } from "@kubernetes/client-node";
import { isKnownClusterScoped, kindToResource, splitApiVersion } from "./kinds.js";
import { Informer, type InformerHandlers, type InformerOptions } from "./informer.js";
import { RestClient } from "./rest.js";
import { KubeApiError, type KubeObject, type PatchType, type ResourceInfo } from "./types.js";

const PATCH_CONTENT_TYPE: Record<PatchType | "apply", string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  // Server-side apply takes YAML; JSON is YAML.
  apply: "application/apply-patch+yaml",
};

/** Discovery answers are reused this long (a CRD may change its versions or scope). */
const DISCOVERY_TTL_MS = 5 * 60_000;

/** One entry of an APIResourceList (discovery). */
interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
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
  private discovery = new Map<string, ApiResource[]>();
  private discoveryStarted = Date.now();
  private transport: RestClient | undefined;

  constructor(private readonly kubeConfig: KubeConfig) {}

  /** The namespace of the kubeconfig's current context (in-cluster: the service account's), else "default". */
  defaultNamespace(): string {
    return this.kubeConfig.getContextObject(this.kubeConfig.getCurrentContext())?.namespace || "default";
  }

  /**
   * Resolves a kind through discovery. A group version or kind the server does not serve is a 404
   * KubeApiError (reason NotFound); if discovery itself is forbidden (401/403), the plural is
   * guessed as client-go does.
   */
  async resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ResourceInfo> {
    const { group, version } = splitApiVersion(apiVersion);
    // Subresources ("pods/status") carry their parent's kind.
    const find = (resources: ApiResource[]) => resources.find((r) => r.kind === kind && !r.name.includes("/"));
    let found: ApiResource | undefined;
    try {
      // A kind missing from a cached answer is asked for again: its CRD may be new.
      const answer = await this.discover(group, version, signal, false);
      found =
        find(answer.resources) ??
        (answer.cached ? find((await this.discover(group, version, signal, true)).resources) : undefined);
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      if (err.status === 401 || err.status === 403) {
        return {
          apiVersion,
          kind,
          group,
          version,
          resource: kindToResource(group, kind),
          namespaced: !isKnownClusterScoped(group, kind),
        };
      }
      if (err.status === 404)
        throw new KubeApiError(`apiVersion ${apiVersion} is not served by the API server`, 404, "NotFound", undefined, {
          cause: err,
        });
      throw err;
    }
    if (!found) throw new KubeApiError(`kind ${kind} is not served under apiVersion ${apiVersion}`, 404, "NotFound");
    return { apiVersion, kind, group, version, resource: found.name, namespaced: found.namespaced };
  }

  async get(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    return await this.rest().request<KubeObject>("GET", this.objectPath(info, namespace, name), withSignal({}, signal));
  }

  async create(
    info: ResourceInfo,
    namespace: string | undefined,
    object: KubeObject,
    fieldManager: string,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    return await this.rest().request<KubeObject>(
      "POST",
      this.collectionPath(info, namespace),
      withSignal({ query: { fieldManager }, body: object }, signal),
    );
  }

  /** Server-side apply. */
  async apply(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    object: KubeObject,
    options: { fieldManager: string; force: boolean; signal?: AbortSignal },
  ): Promise<KubeObject> {
    const query = { fieldManager: options.fieldManager, force: options.force };
    return await this.rest().request<KubeObject>(
      "PATCH",
      this.objectPath(info, namespace, name),
      withSignal({ query, body: object, contentType: PATCH_CONTENT_TYPE.apply }, options.signal),
    );
  }

  async patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    patch: { type: PatchType; body: unknown },
    options: { fieldManager: string; signal?: AbortSignal },
  ): Promise<KubeObject> {
    const { fieldManager, signal } = options;
    return await this.rest().request<KubeObject>(
      "PATCH",
      this.objectPath(info, namespace, name),
      withSignal({ query: { fieldManager }, body: patch.body, contentType: PATCH_CONTENT_TYPE[patch.type] }, signal),
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
    return await this.rest().request<KubeObject>(
      "DELETE",
      this.objectPath(info, namespace, name),
      withSignal({ query: { propagationPolicy } }, signal),
    );
  }

  /**
   * An informer on one object by name (src/k8s/informer.ts): RBAC needs `get` and `watch` on its
   * resource, not `list`.
   */
  objectInformer(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    options: Omit<InformerOptions, "path" | "name" | "labelSelector">,
    handlers: InformerHandlers,
  ): Informer {
    return new Informer(this.rest(), { ...options, path: this.collectionPath(info, namespace), name }, handlers);
  }

  /** One transport per client, made on first use (a kubeconfig without a cluster fails the call, not the runner). */
  private rest(): RestClient {
    this.transport ??= new RestClient(this.kubeConfig);
    return this.transport;
  }

  /**
   * The group version's resources, from discovery, cached for DISCOVERY_TTL_MS. Only answers are
   * cached, not requests in flight: a request carries one step's signal, and another step must not
   * fail because that one was aborted.
   */
  private async discover(
    group: string,
    version: string,
    signal: AbortSignal | undefined,
    fresh: boolean,
  ): Promise<{ resources: ApiResource[]; cached: boolean }> {
    if (Date.now() - this.discoveryStarted > DISCOVERY_TTL_MS) {
      this.discovery.clear();
      this.discoveryStarted = Date.now();
    }
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const cached = fresh ? undefined : this.discovery.get(path);
    if (cached) return { resources: cached, cached: true };
    const resources =
      (await this.rest().request<{ resources?: ApiResource[] }>("GET", path, withSignal({}, signal))).resources ?? [];
    this.discovery.set(path, resources);
    return { resources, cached: false };
  }

  /** The kind's collection: in `namespace` (else the kubeconfig's) for namespaced kinds. */
  private collectionPath(info: ResourceInfo, namespace: string | undefined): string {
    const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    return info.namespaced
      ? `${base}/namespaces/${encodeURIComponent(namespace || this.defaultNamespace())}/${info.resource}`
      : `${base}/${info.resource}`;
  }

  private objectPath(info: ResourceInfo, namespace: string | undefined, name: string): string {
    return `${this.collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
  }
}

function withSignal<T extends object>(options: T, signal: AbortSignal | undefined): T & { signal?: AbortSignal } {
  return signal ? { ...options, signal } : options;
}
