// The harness's Kubernetes client: the runner's own Kubernetes layer (src/k8s: one REST transport
// with credentials from the KubeConfig, discovery, server-side apply, read, delete, one error type
// KubeApiError), plus raw requests by path that never throw on an error status (status
// subresources, TokenRequest, /metrics, self-reviews, permission checks).
import { KubeConfig } from "@kubernetes/client-node";

import { KubeClient } from "../../src/k8s/client.js";
import { RestClient, type RestOptions } from "../../src/k8s/rest.js";
import { KubeApiError, type KubeObject, type ResourceInfo } from "../../src/k8s/types.js";

export { KubeApiError, type KubeObject };

export interface KubeResponse {
  status: number;
  body: string;
  /** Parsed JSON body, or undefined. */
  json: unknown;
}

type CallOptions = Pick<RestOptions, "body" | "contentType" | "timeoutMs">;

export class KubeRest {
  readonly kubeConfig: KubeConfig;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** The kubeconfig context's namespace (default "default"). */
  readonly namespace: string;
  private readonly rest: RestClient;
  private readonly objects: KubeClient;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/$/, "");
    this.rest = new RestClient(kubeConfig);
    this.objects = new KubeClient(kubeConfig);
    this.namespace = this.objects.defaultNamespace();
  }

  static fromKubeconfig(file: string): KubeRest {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    return new KubeRest(kc);
  }

  /** A raw request by path (a JSON body); never throws on HTTP errors. */
  async request(method: string, path: string, opts: CallOptions = {}): Promise<KubeResponse> {
    const r = await this.rest.exchange(method, path, opts);
    let json: unknown;
    try {
      json = r.text ? JSON.parse(r.text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: r.status, body: r.text, json };
  }

  /** Like request(), but throws KubeApiError unless 2xx; returns the JSON body. */
  call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    return this.rest.request<T>(method, path, opts);
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  /** Server-side apply (force) of one object. */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, fieldManager: string): Promise<T> {
    const { info, namespace, name } = await this.locate(obj);
    return (await this.objects.apply(info, namespace, name, obj, { fieldManager, force: true })) as T;
  }

  /** Deletes an object; false when it did not exist. */
  async delete(obj: KubeObject): Promise<boolean> {
    const { info, namespace, name } = await this.locate(obj);
    try {
      await this.objects.delete(info, namespace, name, undefined);
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  /** Reads an object by apiVersion/kind/namespace/name; undefined when not found. */
  async read<T extends KubeObject = KubeObject>(obj: KubeObject): Promise<T | undefined> {
    const { info, namespace, name } = await this.locate(obj);
    try {
      return (await this.objects.get(info, namespace, name)) as T;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Where the object lives (discovery); the kubeconfig's namespace when a namespaced object names none. */
  private async locate(obj: KubeObject): Promise<{ info: ResourceInfo; namespace: string | undefined; name: string }> {
    const name = obj.metadata?.name;
    if (!obj.apiVersion || !obj.kind || !name) throw new Error("apiVersion, kind and metadata.name are needed");
    const info = await this.objects.resolve(obj.apiVersion, obj.kind);
    return { info, namespace: info.namespaced ? obj.metadata?.namespace || this.namespace : undefined, name };
  }
}
