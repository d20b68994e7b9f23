// HookMemory shards as custom resources in the runner's namespace (--store kubernetes), through
// the one transport to the API server (RestClient). A write is a JSON merge patch of the changed
// entries carrying the resourceVersion it was computed from: the API server refuses it with 409
// when the shard changed since, as an update would, while the request carries only the entries
// that changed instead of the whole shard.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Informer } from "../../k8s/informer.js";
import { RestClient } from "../../k8s/rest.js";
import { retryWhileStarting } from "../../k8s/start-retry.js";
import { KubeApiError } from "../../k8s/types.js";
import {
  HOOKMEMORY_API_VERSION,
  HOOKMEMORY_KIND,
  HOOKMEMORY_PLURAL,
  API_GROUP,
  API_VERSION_NAME,
  LABEL_HOOKSET,
  LABEL_HOOKSET_NAMESPACE,
} from "../../model/constants.js";
import { ConflictError } from "../store/types.js";
import type { HookMemoryObject, HookSetRef } from "./shard.js";
import type { EntriesPatch, ShardStore } from "./store.js";

/** Seconds a watch of the shards lasts before the informer starts the next (as client-go's reflector). */
const WATCH_SECONDS = 300;

function selectorOf(hookSet: HookSetRef): string {
  return `${LABEL_HOOKSET_NAMESPACE}=${hookSet.namespace},${LABEL_HOOKSET}=${hookSet.name}`;
}

function asShard(object: unknown): HookMemoryObject {
  return { ...(object as HookMemoryObject), apiVersion: HOOKMEMORY_API_VERSION, kind: HOOKMEMORY_KIND };
}

export class KubernetesShardStore implements ShardStore {
  private readonly rest: RestClient;
  private readonly collection: string;

  constructor(
    kubeConfig: KubeConfig,
    namespace: string,
    private readonly logger: Logger,
    /** How long the first list retries what an API server says while it starts or is busy. */
    private readonly startTimeoutMs = 120_000,
  ) {
    this.rest = new RestClient(kubeConfig);
    const group = `/apis/${API_GROUP}/${API_VERSION_NAME}`;
    this.collection = `${group}/namespaces/${encodeURIComponent(namespace)}/${HOOKMEMORY_PLURAL}`;
  }

  /**
   * The shards of the HookSet, then what the shared informer sees change from there, so this
   * replica's memory holds what another replica wrote without waiting for a write conflict.
   */
  async watch(hookSet: HookSetRef, onShard: (shard: HookMemoryObject) => void): Promise<{ stop(): void }> {
    const { items, resourceVersion } = await this.listOnce(hookSet);
    for (const item of items) onShard(item);
    const informer = new Informer(
      this.rest,
      {
        path: this.collection,
        labelSelector: selectorOf(hookSet),
        watchSeconds: () => WATCH_SECONDS,
        backoff: { initialMs: 1_000, maxMs: 30_000 },
        onRetry: (err, failed) =>
          this.logger.warn({ err: (err as Error).message, failed }, "watching the HookMemory shards failed; retrying"),
      },
      {
        onList: (objects) => {
          for (const object of objects) onShard(asShard(object));
        },
        // A deleted shard is written again, whole, with the next batch: nothing to forget here.
        onEvent: (type, object) => {
          if (type === "ADDED" || type === "MODIFIED") onShard(asShard(object));
        },
      },
    );
    informer.startFrom(resourceVersion);
    void informer.run().catch((err: unknown) => {
      this.logger.error({ err: (err as Error).message }, "the HookMemory watch stopped");
    });
    return { stop: () => informer.stop() };
  }

  async list(hookSet: HookSetRef): Promise<HookMemoryObject[]> {
    return (await this.listOnce(hookSet)).items;
  }

  /** Retries 429, 5xx and no answer until startTimeoutMs; a 403 or 404 (no RBAC, no CRD) fails at once. */
  private async listOnce(hookSet: HookSetRef): Promise<{ items: HookMemoryObject[]; resourceVersion?: string }> {
    const list = await retryWhileStarting(
      () =>
        this.rest.request<{ items: HookMemoryObject[]; metadata?: { resourceVersion?: string } }>(
          "GET",
          this.collection,
          { query: { labelSelector: selectorOf(hookSet) } },
        ),
      { timeoutMs: this.startTimeoutMs, logger: this.logger, what: "listing the HookMemory shards" },
    );
    const resourceVersion = list.metadata?.resourceVersion;
    return { items: list.items.map(asShard), ...(resourceVersion ? { resourceVersion } : {}) };
  }

  async read(name: string): Promise<HookMemoryObject | undefined> {
    try {
      return await this.rest.request<HookMemoryObject>("GET", this.path(name));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async create(shard: HookMemoryObject): Promise<HookMemoryObject> {
    try {
      return await this.rest.request<HookMemoryObject>("POST", this.collection, { body: shard });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) throw new ConflictError(err.message);
      throw err;
    }
  }

  async patch(name: string, resourceVersion: string, entries: EntriesPatch): Promise<HookMemoryObject> {
    try {
      return await this.rest.request<HookMemoryObject>("PATCH", this.path(name), {
        // A resourceVersion in a patch is a precondition: 409 Conflict when the shard changed since.
        body: { metadata: { resourceVersion }, entries },
        contentType: "application/merge-patch+json",
      });
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404))
        throw new ConflictError(err.message);
      throw err;
    }
  }

  private path(name: string): string {
    return `${this.collection}/${encodeURIComponent(name)}`;
  }
}
