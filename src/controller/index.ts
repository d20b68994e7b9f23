// The HookSet controller: list+watch HookSets (all namespaces, or the ones given) with the
// project's informer, and the EventSources and Sensors it owns (their status says whether Argo
// Events accepted them) and EventBuses; every event queues the owning HookSet's key, and the work queue runs
// reconcile (reconcile.ts) per key, one at a time per key, retrying failures with backoff. A
// periodic resync queues every known HookSet again, so nothing depends on one event arriving.
import type { Logger } from "pino";
import { Informer } from "../k8s/informer.js";
import type { RestClient } from "../k8s/rest.js";
import type { KubeObject } from "../k8s/types.js";
import { LABEL_MANAGED_BY, MANAGER } from "../model/constants.js";
import { KIND } from "../hookset/types.js";
import { ControllerApi, PATHS } from "./api.js";
import { WorkQueue } from "./queue.js";
import { reconcile } from "./reconcile.js";

export interface ControllerOptions {
  rest: RestClient;
  runnerUrl: string;
  key: Uint8Array;
  /** Namespaces to serve; empty: all. */
  namespaces: string[];
  log: Logger;
  workers?: number;
  resyncMs?: number;
  signal: AbortSignal;
}

const BACKOFF = { initialMs: 1_000, maxMs: 5 * 60_000 };
const RESYNC_MS = 10 * 60_000;

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The HookSet that owns an EventSource or Sensor, as a queue key; undefined for objects of no HookSet. */
function ownerKey(object: KubeObject): string | undefined {
  const owners = (object.metadata?.ownerReferences ?? []) as Array<{
    kind?: string;
    name?: string;
    controller?: boolean;
  }>;
  const owner = owners.find((o) => o.kind === KIND && o.controller);
  return owner?.name && object.metadata?.namespace ? keyOf(object.metadata.namespace, owner.name) : undefined;
}

/** Runs until `signal` aborts. */
export async function runController(options: ControllerOptions): Promise<void> {
  const { rest, log, signal } = options;
  const api = new ControllerApi(rest);
  const ctx = { api, runnerUrl: options.runnerUrl, key: options.key, log };
  const known = new Set<string>();
  const queue = new WorkQueue(
    async (key) => {
      const slash = key.indexOf("/");
      const started = performance.now();
      const result = await reconcile(ctx, key.slice(0, slash), key.slice(slash + 1));
      log.debug({ hookset: key, ms: Math.round(performance.now() - started) }, "reconciled");
      return result;
    },
    { workers: options.workers ?? 4, backoff: BACKOFF },
    (key, err, retryInMs) =>
      log.warn({ hookset: key, err: (err as Error).message, retryInMs }, "reconcile failed; retrying"),
  );
  const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
  const informers: Informer[] = [];
  const watchSeconds = (): number => 240 + Math.floor(Math.random() * 120);
  const onRetry = (what: string) => (err: unknown) =>
    log.warn({ err: (err as Error).message, what }, "watch failed; listing again");
  for (const namespace of scopes) {
    informers.push(
      new Informer(
        rest,
        { path: PATHS.hookSets(namespace), watchSeconds, backoff: BACKOFF, signal, onRetry: onRetry("hooksets") },
        {
          onList: (objects) => {
            for (const o of objects) {
              const key = keyOf(o.metadata?.namespace ?? "", o.metadata?.name ?? "");
              known.add(key);
              queue.add(key);
            }
          },
          onEvent: (type, o) => {
            if (type === "ERROR") return;
            const key = keyOf(o.metadata?.namespace ?? "", o.metadata?.name ?? "");
            if (type === "DELETED") known.delete(key);
            else known.add(key);
            queue.add(key);
          },
        },
      ),
    );
    for (const [what, path] of [
      ["eventsources", PATHS.eventSources(namespace)],
      ["sensors", PATHS.sensors(namespace)],
    ] as const) {
      const requeueOwner = (o: KubeObject): void => {
        const key = ownerKey(o);
        if (key) queue.add(key);
      };
      informers.push(
        new Informer(
          rest,
          {
            path,
            labelSelector: `${LABEL_MANAGED_BY}=${MANAGER}`,
            watchSeconds,
            backoff: BACKOFF,
            signal,
            onRetry: onRetry(what),
          },
          // A list adds nothing the HookSets' list has not queued; a change of status or a deletion does.
          { onList: () => {}, onEvent: (type, o) => (type === "ERROR" ? undefined : requeueOwner(o)) },
        ),
      );
    }
    // A HookSet waits for its namespace's EventBus (Ready=False, EventBusMissing): look again when one comes or goes.
    informers.push(
      new Informer(
        rest,
        { path: PATHS.eventBuses(namespace), watchSeconds, backoff: BACKOFF, signal, onRetry: onRetry("eventbus") },
        {
          onList: () => {},
          onEvent: (type, o) => {
            if (type === "ERROR" || type === "MODIFIED") return;
            const prefix = `${o.metadata?.namespace ?? ""}/`;
            for (const key of known) if (key.startsWith(prefix)) queue.add(key);
          },
        },
      ),
    );
  }
  const resync = setInterval(() => {
    for (const key of known) queue.add(key);
  }, options.resyncMs ?? RESYNC_MS);
  resync.unref();
  log.info(
    { namespaces: options.namespaces.length ? options.namespaces : "all", runnerUrl: options.runnerUrl },
    "controller started",
  );
  try {
    // No list first: a watch without a resourceVersion starts with every existing object as ADDED,
    // and the informer retries (and lists) after a failure, e.g. while the CRDs are not installed.
    await Promise.all(informers.map((informer) => informer.run()));
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    clearInterval(resync);
    queue.stop();
  }
}
