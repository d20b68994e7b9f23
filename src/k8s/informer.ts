// List+watch of a collection (or of one object by name) over the REST transport, as client-go's
// reflector does it: list, watch from the list's resourceVersion with bookmarks, follow the
// resourceVersion of every event, start the next watch where the last one ended, list again when
// the server says the resourceVersion is gone (410) or after a failure (with backoff). The HookRun
// store keeps its cache with it; the steps' waits watch the object they wait for with it.
import { setTimeout as sleep } from "node:timers/promises";
import type { Query, RestClient } from "./rest.js";
import { KubeApiError, type KubeObject, type WatchEvent } from "./types.js";

export interface InformerOptions {
  /** The collection, e.g. /apis/apps/v1/namespaces/prod/deployments. */
  path: string;
  /** Sent with the list and every watch. */
  labelSelector?: string;
  /**
   * One object of the collection: read with a GET of it (RBAC `get`, not `list`), a 404 read as
   * none, and watched through a field selector on its name.
   */
  name?: string;
  /** timeoutSeconds of the next watch: the server ends it then and the informer starts another. */
  watchSeconds(): number;
  /** Delay before listing again after a failure: doubles up to maxMs; a watch that ends well resets it. */
  backoff: { initialMs: number; maxMs: number };
  /** Whether to list again after this failure (default: always); run() rejects with one that is not. */
  retryable?(err: unknown): boolean;
  /** Told of each failure it lists again after: the watch's, or that of the list after it. */
  onRetry?(err: unknown, failed: "watch" | "list"): void;
  /** Aborts list(), run() and what they wait for; run() then rejects with its reason. */
  signal?: AbortSignal;
}

/** A handler that throws fails the watch (or the list) it was called from, as the server failing it would. */
export interface InformerHandlers {
  /** What a list found (for one object: it, or nothing); it replaces whatever was known before. */
  onList(objects: KubeObject[]): void;
  /** ADDED, MODIFIED, DELETED, or an ERROR other than 410 Gone; bookmarks only move the resourceVersion. */
  onEvent(type: WatchEvent["type"], object: KubeObject): void;
}

/** A watch the server ends sooner than this is restarted only this long after it started, not in a busy loop. */
const MIN_WATCH_MS = 1_000;

export class Informer {
  private resourceVersion: string | undefined;
  private running: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly rest: RestClient,
    private readonly options: InformerOptions,
    private readonly handlers: InformerHandlers,
  ) {}

  /** run() watches from this resourceVersion: what a list the caller made itself saw. */
  startFrom(resourceVersion: string | undefined): void {
    this.resourceVersion = resourceVersion;
  }

  /** Lists once and hands the result to onList; run() watches from what it saw. */
  async list(): Promise<void> {
    await this.relist(this.options.signal);
  }

  /**
   * Watches until stop() (resolves) or options.signal (rejects with its reason), listing again
   * whenever a watch cannot go on. A failure that is not retryable rejects.
   */
  async run(): Promise<void> {
    const running = new AbortController();
    this.running = running;
    const signal = this.options.signal;
    const abort = (): void => running.abort(signal?.reason);
    if (signal?.aborted || this.stopped) abort();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      await this.loop(running.signal);
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    if (signal?.aborted) throw signal.reason;
  }

  /** Ends run(): the current watch is closed, a pending list or delay abandoned. */
  stop(): void {
    this.stopped = true;
    this.running?.abort();
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff;
    let delay = initialMs;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const ended = await this.watch(signal);
        if (signal.aborted) return;
        delay = initialMs;
        if (ended === "gone") await this.relist(signal);
        else await pause(started + MIN_WATCH_MS - Date.now(), signal);
      } catch (err) {
        if (signal.aborted) return;
        this.giveUpUnlessRetryable(err);
        this.options.onRetry?.(err, "watch");
        await pause(delay, signal).catch(() => undefined);
        delay = Math.min(delay * 2, maxMs);
        await this.relistAfterFailure(signal);
      }
    }
  }

  private async relistAfterFailure(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    try {
      await this.relist(signal);
    } catch (err) {
      if (signal.aborted) return;
      this.giveUpUnlessRetryable(err);
      this.options.onRetry?.(err, "list");
    }
  }

  private giveUpUnlessRetryable(err: unknown): void {
    if (this.options.retryable && !this.options.retryable(err)) throw err;
  }

  private async relist(signal: AbortSignal | undefined): Promise<void> {
    const { path, name, labelSelector } = this.options;
    const options = { ...(signal ? { signal } : {}) };
    if (name === undefined) {
      const list = await this.rest.request<{ items?: KubeObject[]; metadata?: { resourceVersion?: string } }>(
        "GET",
        path,
        { ...options, query: { labelSelector } },
      );
      this.handlers.onList(list.items ?? []);
      this.resourceVersion = list.metadata?.resourceVersion;
      return;
    }
    let object: KubeObject | undefined;
    try {
      object = await this.rest.request<KubeObject>("GET", `${path}/${encodeURIComponent(name)}`, options);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    this.handlers.onList(object ? [object] : []);
    // Nothing to start from when it does not exist: the watch starts at the server's current state.
    this.resourceVersion = object?.metadata?.resourceVersion;
  }

  /** One watch, until the server ends it ("ended") or says the resourceVersion is "gone". */
  private async watch(signal: AbortSignal): Promise<"ended" | "gone"> {
    const { path, name, labelSelector } = this.options;
    const query: Query = {
      labelSelector,
      fieldSelector: name === undefined ? undefined : `metadata.name=${name}`,
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.max(1, Math.floor(this.options.watchSeconds())),
    };
    const watch = new AbortController();
    const abort = (): void => watch.abort();
    signal.addEventListener("abort", abort, { once: true });
    let gone = false;
    let failure: { err: unknown } | undefined;
    const onEvent = (type: string, object: Record<string, unknown>): void => {
      if (watch.signal.aborted) return;
      if (type === "ERROR" && (object as { code?: unknown }).code === 410) {
        gone = true;
        watch.abort();
        return;
      }
      try {
        this.deliver(type as WatchEvent["type"], object as KubeObject);
      } catch (err) {
        failure = { err };
        watch.abort();
      }
    };
    try {
      await (
        await this.rest.watch(path, query, onEvent, { signal: watch.signal })
      ).done;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 410)) throw err;
      gone = true;
    } finally {
      signal.removeEventListener("abort", abort);
    }
    if (failure) throw failure.err;
    return gone ? "gone" : "ended";
  }

  private deliver(type: WatchEvent["type"], object: KubeObject): void {
    if (type !== "ERROR") this.resourceVersion = object.metadata?.resourceVersion || this.resourceVersion;
    if (type !== "BOOKMARK") this.handlers.onEvent(type, object);
  }
}

/** Waits `ms` (nothing when not positive) unless `signal` aborts first; the timer does not hold the process open. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal, ref: false });
}
