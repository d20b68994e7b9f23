// HookRuns as custom resources in the runner's namespace, shared by every replica. An informer
// (list+watch, src/k8s/informer.ts) keeps a local cache so the accept path and the queue read
// without a round trip; every write goes to the API server, and status updates carry the
// resourceVersion they were computed from, so two replicas can never both claim a run.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Informer } from "../../k8s/informer.js";
import { RestClient } from "../../k8s/rest.js";
import { retryWhileStarting } from "../../k8s/start-retry.js";
import { KubeApiError, type KubeObject } from "../../k8s/types.js";
import {
  HOOKRUN_API_VERSION,
  HOOKRUN_GROUP,
  HOOKRUN_KIND,
  HOOKRUN_PLURAL,
  HOOKRUN_VERSION,
  LABEL_HOOKSET,
  LABEL_HOOKSET_NAMESPACE,
} from "../../model/constants.js";
import type { HookRun } from "../hookrun.js";
import { compareResourceVersions } from "../../model/resource-version.js";
import { ConflictError, withStatusDefaults, type RunChange, type RunStore } from "./types.js";

/** A watch the server has not ended by itself is restarted after this long (as client-go does). */
const WATCH_TIMEOUT_SECONDS = 300;
/** After a failed watch: wait this long, then list again. */
const RELIST_DELAY_MS = 1_000;
/**
 * A HookRun is written from the runner's own types: the API server's search for unknown fields
 * (fieldValidation Warn, its default) could find none, and costs it CPU on the hottest writes.
 */
const OWN_WRITE = { fieldValidation: "Ignore" };

/** How long a run created here counts as this replica's own (createdHere); far past any hand-off. */
const CREATED_HERE_MS = 60_000;

export class KubernetesRunStore implements RunStore {
  private readonly rest: RestClient;
  private readonly cache = new Map<string, HookRun>();
  private readonly listeners: Array<(run: HookRun, change: RunChange) => void> = [];
  private readonly collection: string;
  private readonly informer: Informer;
  /** Runs this process created, with when: insertion order is age order. */
  private readonly createdAt = new Map<string, number>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    /** The HookSet's name (serve -f), or a HookSet resource's namespace and name (its runs carry both labels). */
    hookSet: string | { namespace: string; name: string },
    private readonly logger: Logger,
  ) {
    this.rest = new RestClient(kubeConfig);
    const group = `/apis/${HOOKRUN_GROUP}/${HOOKRUN_VERSION}`;
    this.collection = `${group}/namespaces/${encodeURIComponent(namespace)}/${HOOKRUN_PLURAL}`;
    this.informer = new Informer(
      this.rest,
      {
        path: this.collection,
        labelSelector:
          typeof hookSet === "string"
            ? `${LABEL_HOOKSET}=${hookSet}`
            : `${LABEL_HOOKSET_NAMESPACE}=${hookSet.namespace},${LABEL_HOOKSET}=${hookSet.name}`,
        watchSeconds: () => WATCH_TIMEOUT_SECONDS,
        backoff: { initialMs: RELIST_DELAY_MS, maxMs: RELIST_DELAY_MS },
        onRetry: (err, failed) =>
          this.logger.warn(
            { err: (err as Error).message },
            failed === "watch" ? "hookrun watch failed; listing again" : "hookrun list failed",
          ),
      },
      { onList: (items) => this.applyList(items), onEvent: (type, object) => this.applyEvent(type, object) },
    );
  }

  /**
   * Lists the runs, retrying what an API server says while it starts or is busy (429, 5xx, no
   * answer) for up to startTimeoutMs; a 403 or 404 (no RBAC, no CRD) fails at once.
   */
  async start(startTimeoutMs = 120_000): Promise<void> {
    await retryWhileStarting(() => this.informer.list(), {
      timeoutMs: startTimeoutMs,
      logger: this.logger,
      what: "listing the HookRuns",
    });
    void this.informer.run();
  }

  stop(): void {
    this.informer.stop();
  }

  async create(run: HookRun): Promise<{ run: HookRun; created: boolean }> {
    try {
      const { status: _status, ...withoutStatus } = run;
      const created = withStatusDefaults(
        await this.rest.request<HookRun>("POST", this.collection, { body: withoutStatus, query: OWN_WRITE }),
      );
      this.noteCreated(created.metadata.name);
      // The status subresource ignores a status sent on create; a run is Pending until claimed.
      this.remember(created, "added");
      if (!run.status || run.status.phase === "Pending") return { run: created, created: true };
      // A run created finished (a baseline): its status details; the annotation already says Skipped.
      let current = created;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          return { run: await this.updateStatus({ ...current, status: run.status }), created: true };
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          current = (await this.fetch(run.metadata.name)) ?? current;
        }
      }
      return { run: current, created: true };
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    }
    const existing = await this.fetch(run.metadata.name);
    if (!existing) throw new KubeApiError(`hookrun ${run.metadata.name} exists and vanished at once`, 409, "Conflict");
    return { run: existing, created: false };
  }

  get(name: string): HookRun | undefined {
    return this.cache.get(name);
  }

  createdHere(name: string): boolean {
    const at = this.createdAt.get(name);
    return at !== undefined && Date.now() - at < CREATED_HERE_MS;
  }

  private noteCreated(name: string): void {
    const now = Date.now();
    this.createdAt.set(name, now);
    for (const [old, at] of this.createdAt) {
      if (now - at < CREATED_HERE_MS) break;
      this.createdAt.delete(old);
    }
  }

  async fetch(name: string): Promise<HookRun | undefined> {
    try {
      const run = withStatusDefaults(
        await this.rest.request<HookRun>("GET", `${this.collection}/${encodeURIComponent(name)}`),
      );
      this.remember(run, "modified");
      return run;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        const cached = this.cache.get(name);
        if (cached) {
          this.cache.delete(name);
          this.emit(cached, "deleted");
        }
        return undefined;
      }
      throw err;
    }
  }

  *list(): Iterable<HookRun> {
    yield* this.cache.values();
  }

  async updateStatus(run: HookRun): Promise<HookRun> {
    try {
      const updated = withStatusDefaults(
        await this.rest.request<HookRun>("PUT", `${this.collection}/${encodeURIComponent(run.metadata.name)}/status`, {
          body: statusOnly(run),
          query: OWN_WRITE,
        }),
      );
      this.remember(updated, "modified");
      return updated;
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404))
        throw new ConflictError(err.message);
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.rest.request("DELETE", `${this.collection}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
    }
    const cached = this.cache.get(name);
    if (cached) {
      this.cache.delete(name);
      this.emit(cached, "deleted");
    }
  }

  subscribe(listener: (run: HookRun, change: RunChange) => void): void {
    this.listeners.push(listener);
  }

  /** A list's runs replace the cache: each is remembered, a cached run the list lacks is deleted. */
  private applyList(items: KubeObject[]): void {
    const seen = new Set<string>();
    for (const item of items as unknown as HookRun[]) {
      seen.add(item.metadata.name);
      this.remember(withStatusDefaults({ ...item, apiVersion: HOOKRUN_API_VERSION, kind: HOOKRUN_KIND }), "modified");
    }
    for (const [name, run] of this.cache) {
      if (!seen.has(name)) {
        this.cache.delete(name);
        this.emit(run, "deleted");
      }
    }
  }

  /**
   * A watch event. The server ends a watch after an ERROR (a 410 Gone the informer answers by
   * listing again); the next watch starts from the last resourceVersion.
   */
  private applyEvent(type: string, object: KubeObject): void {
    if (type === "ERROR") return;
    const run = withStatusDefaults(object as unknown as HookRun);
    if (type === "DELETED") {
      if (this.cache.delete(run.metadata.name)) this.emit(run, "deleted");
    } else {
      this.remember(run, type === "ADDED" ? "added" : "modified");
    }
  }

  /** Keeps the newer of the cached and the given object: a watch event may trail our own write. */
  private remember(run: HookRun, change: RunChange): void {
    const cached = this.cache.get(run.metadata.name);
    // Not comparable (not kube-apiserver's): the given object is taken as newer.
    if (cached && (compareResourceVersions(run.metadata.resourceVersion, cached.metadata.resourceVersion) ?? 0) < 0)
      return;
    this.cache.set(run.metadata.name, run);
    // A run already cached was modified, whatever the caller saw; one not cached yet was added.
    const seen: RunChange = change === "added" ? "modified" : change;
    this.emit(run, cached ? seen : "added");
  }

  private emit(run: HookRun, change: RunChange): void {
    for (const listener of this.listeners) listener(run, change);
  }
}

/**
 * What a status update needs to send. The status subresource takes the new status and keeps the
 * rest of the stored object (spec, labels, annotations, managedFields); the resourceVersion makes
 * it a compare-and-swap. Sending the whole run had the API server decode the spec (the steps'
 * variables: two objects) on every status write only to drop it.
 */
function statusOnly(run: HookRun): Pick<HookRun, "apiVersion" | "kind" | "status"> & { metadata: object } {
  const { name, namespace, uid, resourceVersion } = run.metadata;
  return {
    apiVersion: run.apiVersion,
    kind: run.kind,
    metadata: { name, namespace, ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) },
    status: run.status,
  };
}
