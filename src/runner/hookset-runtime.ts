// What serves one HookSet in a runner process: its run store and hooks' memory, the run index over
// both, the Acceptor that turns its events into HookRuns and the queue that executes them.
// `serve -f` builds one (server.ts); a runner serving HookSet resources builds one per HookSet
// (tenants/), each with the store and memory of the HookSet's namespace.
import type { Logger } from "pino";
import type { Hook, HookSet } from "../hookset/types.js";
import { RestClient } from "../k8s/rest.js";
import { eventSourceName } from "../model/names.js";
import type { StepRuntime } from "../steps/types.js";
import { eventTypesOf, resyncs, watchesOf, type WatchPlan } from "../trigger/index.js";
import { Acceptor } from "./accept.js";
import type { HookRun } from "./hookrun.js";
import type { KubeEventRecorder } from "./kube-events.js";
import { HookSetMemory } from "./memory/memory.js";
import type { ShardStore } from "./memory/store.js";
import type { RunnerMetrics } from "./metrics.js";
import { RunQueue } from "./queue.js";
import { Resync, type ResyncOptions } from "./resync.js";
import type { RetentionPolicy } from "./retention.js";
import { RunIndex } from "./run-index.js";
import type { RunSlots } from "./run-slots.js";
import type { RunStore } from "./store/types.js";

export interface HookSetRuntimeOptions {
  hookSet: HookSet;
  runtime: StepRuntime;
  store: RunStore;
  memoryShards: ShardStore;
  /** Namespace the runs and the memory are recorded in. */
  namespace: string;
  holder: string;
  logger: Logger;
  metrics: RunnerMetrics;
  kubeEvents?: KubeEventRecorder;
  maxConcurrentRuns: number;
  slots?: RunSlots;
  retention?: RetentionPolicy;
  claimMs?: number;
  retryBaseMs?: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** See AcceptorOptions. */
  runLabels?: () => Record<string, string>;
  markerName?: (hook: string) => string;
  /** See QueueOptions. */
  hookOf?: (run: HookRun) => Hook | undefined;
  /** The watches served now; by default the HookSet's. */
  watches?: () => ReadonlyMap<string, WatchPlan>;
  /** The resync's timing (resync.ts); by default RESYNC_DEFAULTS. */
  resync?: Pick<ResyncOptions, "quietMs" | "maxWaitMs" | "deferMs" | "intervalMs">;
}

export interface HookSetRuntime {
  readonly store: RunStore;
  readonly memory: HookSetMemory;
  readonly acceptor: Acceptor;
  readonly queue: RunQueue;
  readonly resync: Resync;
  /** Loads the store and the memory, records first-served markers and starts the queue. */
  start(): Promise<void>;
  /** Lets running runs finish until `until` (epoch ms), writes the memory's last batches, stops. */
  drain(until: number): Promise<void>;
}

export function createHookSetRuntime(options: HookSetRuntimeOptions): HookSetRuntime {
  const { hookSet, store, logger, metrics, namespace } = options;
  const memory = new HookSetMemory({ hookSet, shards: options.memoryShards, namespace, logger });
  const index = new RunIndex(store, memory);
  metrics.observeMemory(() => memory.unwritten);
  const acceptor = new Acceptor({
    hookSet,
    store,
    index,
    memory,
    namespace,
    logger,
    metrics,
    // the queue below: only called once events arrive
    startsHere: () => (queue.hasRoom ? options.holder : undefined),
    ...(options.claimMs ? { claimMs: options.claimMs } : {}),
    ...(options.runLabels ? { runLabels: options.runLabels } : {}),
    ...(options.markerName ? { markerName: options.markerName } : {}),
  });
  const queue = new RunQueue({
    hookSet,
    store,
    index,
    runtime: options.runtime,
    ...(options.sleep ? { executor: { sleep: options.sleep } } : {}),
    holder: options.holder,
    maxConcurrentRuns: options.maxConcurrentRuns,
    ...(options.slots ? { slots: options.slots } : {}),
    ...(options.hookOf ? { hookOf: options.hookOf } : {}),
    ...(options.claimMs ? { claimMs: options.claimMs } : {}),
    ...(options.retryBaseMs ? { retryBaseMs: options.retryBaseMs } : {}),
    ...(options.retention ? { retention: options.retention } : {}),
    logger,
    metrics,
    ...(options.kubeEvents ? { kubeEvents: options.kubeEvents } : {}),
  });
  const watches = watchesOf(hookSet);
  const resync = new Resync({
    watches: options.watches ?? (() => watches),
    acceptor,
    rest: () => (options.runtime.kubeConfig ? new RestClient(options.runtime.kubeConfig) : undefined),
    source: eventSourceName(hookSet),
    logger,
    ...options.resync,
  });
  return {
    store,
    memory,
    acceptor,
    queue,
    resync,
    async start() {
      await store.start();
      await memory.start();
      await acceptor.recordFirstServed();
      queue.start();
      resync.start();
      if (!options.runtime.kubeConfig && [...watches.values()].some((w) => resyncs(eventTypesOf(w))))
        logger.warn("no Kubernetes access: no resync; a change made while the event source starts may be missed");
    },
    async drain(until: number) {
      const left = () => Math.max(0, until - Date.now());
      // Nothing is accepted any more: the memory's last batches are written while runs finish.
      resync.stop();
      const flushed = memory.flush();
      await queue.drain(left());
      await Promise.race([flushed, new Promise((r) => setTimeout(r, left()).unref())]);
      memory.stop();
      if (memory.unwritten > 0)
        logger.warn({ unwritten: memory.unwritten }, "memory entries not written; the next replay records them again");
      store.stop();
    },
  };
}
