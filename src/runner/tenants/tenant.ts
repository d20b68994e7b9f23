// One HookSet resource served by the shared runner: its runtime (store and memory in its own
// namespace, acceptor, queue: hookset-runtime.ts), its token, its metrics, and the definitions of
// the generations its unfinished runs were accepted under. An edit (a new metadata.generation)
// applies to events from then on; a run accepted before it executes the hook as it was defined
// when the run was accepted, and that definition is kept until no unfinished run needs it.
import type { Logger } from "pino";
import type { Hook, HookSet } from "../../hookset/types.js";
import { LABEL_HOOKSET_GENERATION, LABEL_HOOKSET_NAMESPACE } from "../../model/constants.js";
import { hookSetMarkerName } from "../../model/names.js";
import type { StepRuntime } from "../../steps/types.js";
import { hookSetToken, type HookSetIdentity } from "../../tenancy/credential.js";
import { watchesOf, type WatchPlan } from "../../trigger/index.js";
import { bearerError, tokenDigest } from "../auth.js";
import { createHookSetRuntime, type HookSetRuntime, type HookSetRuntimeOptions } from "../hookset-runtime.js";
import { isTerminal, type HookRun } from "../hookrun.js";
import { httpError, type HttpError } from "../http-errors.js";
import type { KubeEventRecorder } from "../kube-events.js";
import type { ShardStore } from "../memory/store.js";
import { RunnerMetrics } from "../metrics.js";
import type { RunSlots } from "../run-slots.js";
import type { RouteTarget } from "../sensor-endpoint.js";
import type { RunStore } from "../store/types.js";
import type { ServedDefinition } from "./resource.js";

/** What every HookSet served by one runner process shares. */
export interface TenantDeps {
  /** The installation's credential key (tenancy/key.ts). */
  key: Uint8Array;
  holder: string;
  logger: Logger;
  slots: RunSlots;
  maxConcurrentRuns: number;
  /** The HookSet's run store and memory shards, in its namespace. */
  openStores(identity: HookSetIdentity): { store: RunStore; memoryShards: ShardStore };
  /** What the HookSet's steps get: its ServiceAccount's Kubernetes access and Secrets (tenancy/). */
  stepRuntime(identity: HookSetIdentity, serviceAccountName: string): Promise<StepRuntime>;
  kubeEvents?: KubeEventRecorder;
  claimMs?: number;
  retryBaseMs?: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The resync's timing (resync.ts). */
  resync?: HookSetRuntimeOptions["resync"];
}

interface Definition {
  generation: number;
  hookSet: HookSet;
  watches: ReadonlyMap<string, WatchPlan>;
}

export class Tenant {
  readonly metrics: RunnerMetrics;
  readonly logger: Logger;
  private readonly digest: Buffer;
  private current: Definition;
  /** Every generation an unfinished run may have been accepted under, the current one included. */
  private readonly definitions = new Map<number, HookSet>();
  private runtime!: HookSetRuntime;
  private stepRuntime!: StepRuntime;
  serviceAccountName: string;

  private constructor(
    readonly identity: HookSetIdentity,
    definition: ServedDefinition & { parsed: { hookSet: HookSet } },
    deps: TenantDeps,
  ) {
    const { hookSet } = definition.parsed;
    this.current = { generation: definition.generation, hookSet, watches: watchesOf(hookSet) };
    this.definitions.set(definition.generation, hookSet);
    this.serviceAccountName = definition.serviceAccountName;
    this.digest = tokenDigest(hookSetToken(deps.key, identity));
    this.logger = deps.logger.child({ hookSet: `${identity.namespace}/${identity.name}` });
    // Its own registry, each series labelled with the HookSet: two HookSets' hooks of one name never share a series.
    this.metrics = new RunnerMetrics(false);
    this.metrics.registry.setDefaultLabels({ hookset_namespace: identity.namespace, hookset: identity.name });
  }

  /** The tenant with its runs and memory loaded and its queue started. */
  static async start(
    definition: ServedDefinition & { parsed: { hookSet: HookSet } },
    deps: TenantDeps,
  ): Promise<Tenant> {
    const { identity } = definition;
    const tenant = new Tenant(identity, definition, deps);
    const runtime = await deps.stepRuntime(identity, definition.serviceAccountName);
    tenant.stepRuntime = runtime;
    const { hookSet } = definition.parsed;
    const { store, memoryShards } = deps.openStores(identity);
    tenant.runtime = createHookSetRuntime({
      hookSet,
      // The ServiceAccount's access as it is now: a new serviceAccountName applies to the next step.
      runtime: {
        get kubeConfig() {
          return tenant.stepRuntime.kubeConfig;
        },
        readSecret: (source) => tenant.stepRuntime.readSecret(source),
        endpoints: runtime.endpoints,
        awsRegion: runtime.awsRegion,
      },
      store,
      memoryShards,
      namespace: identity.namespace,
      holder: deps.holder,
      logger: tenant.logger,
      metrics: tenant.metrics,
      maxConcurrentRuns: deps.maxConcurrentRuns,
      slots: deps.slots,
      ...(hookSet.runner.retention ? { retention: hookSet.runner.retention } : {}),
      ...(deps.kubeEvents ? { kubeEvents: deps.kubeEvents } : {}),
      ...(deps.claimMs ? { claimMs: deps.claimMs } : {}),
      ...(deps.retryBaseMs ? { retryBaseMs: deps.retryBaseMs } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      runLabels: () => ({
        [LABEL_HOOKSET_NAMESPACE]: identity.namespace,
        [LABEL_HOOKSET_GENERATION]: String(tenant.current.generation),
      }),
      markerName: (hook) => hookSetMarkerName(identity, hook),
      hookOf: (run) => tenant.hookOf(run),
      watches: () => tenant.current.watches,
      ...(deps.resync ? { resync: deps.resync } : {}),
    });
    try {
      await tenant.runtime.start();
    } catch (err) {
      // Whatever started (the store's watch) stops: the registry starts a new tenant later.
      await tenant.runtime.drain(Date.now()).catch(() => undefined);
      throw err;
    }
    return tenant;
  }

  get generation(): number {
    return this.current.generation;
  }

  get store(): RunStore {
    return this.runtime.store;
  }

  get queue(): HookSetRuntime["queue"] {
    return this.runtime.queue;
  }

  /** The 401 when the Authorization header does not carry this HookSet's token; timing-safe. */
  authenticate(authorization: string | undefined): HttpError | undefined {
    return bearerError(authorization, this.digest);
  }

  /** Who takes the watch's events now. */
  target(watch: string): RouteTarget {
    const plan = this.current.watches.get(watch);
    if (!plan) throw httpError("unknown_watch", watch, [...this.current.watches.keys()]);
    return {
      hooks: plan.hooks,
      acceptor: this.runtime.acceptor,
      metrics: this.metrics,
      logger: this.logger,
      observe: (event) => this.runtime.resync.observe(watch, event),
    };
  }

  /** A new generation of the HookSet: new events are evaluated and run with it. */
  async edit(definition: ServedDefinition & { parsed: { hookSet: HookSet } }, deps: TenantDeps): Promise<void> {
    const { hookSet } = definition.parsed;
    if (definition.serviceAccountName !== this.serviceAccountName) {
      this.stepRuntime = await deps.stepRuntime(this.identity, definition.serviceAccountName);
      this.serviceAccountName = definition.serviceAccountName;
    }
    this.definitions.set(definition.generation, hookSet);
    this.current = { generation: definition.generation, hookSet, watches: watchesOf(hookSet) };
    this.runtime.memory.serve(hookSet);
    this.prune();
    this.logger.info({ generation: definition.generation, hooks: hookSet.hooks.length }, "hook set edited");
    await this.runtime.acceptor.recordFirstServed(hookSet);
  }

  /**
   * The hook a run executes: as defined in the generation it was accepted under; the current
   * definition when that generation is not known here (accepted before this process started: the
   * API server keeps only a HookSet's current spec).
   */
  hookOf(run: HookRun): Hook | undefined {
    const generation = Number(run.metadata.labels[LABEL_HOOKSET_GENERATION]);
    const hookSet = this.definitions.get(generation) ?? this.current.hookSet;
    return hookSet.hooks.find((h) => h.name === run.spec.hook);
  }

  /** Forgets the definitions of earlier generations no unfinished run was accepted under. */
  prune(): void {
    const needed = new Set<number>([this.current.generation]);
    for (const run of this.runtime.store.list())
      if (!isTerminal(run)) needed.add(Number(run.metadata.labels[LABEL_HOOKSET_GENERATION]));
    for (const generation of this.definitions.keys()) if (!needed.has(generation)) this.definitions.delete(generation);
  }

  /** Generations whose definitions are kept (for tests and /readyz). */
  get keptGenerations(): number[] {
    return [...this.definitions.keys()].sort((a, b) => a - b);
  }

  /** Running runs finish until `until` (epoch ms), then are aborted; the store and memory stop. */
  async drain(until: number): Promise<void> {
    await this.runtime.drain(until);
  }

  /** The longest deadline of its hooks: how long a deleted HookSet's running runs may take to finish. */
  get longestDeadlineMs(): number {
    let longest = 0;
    for (const hookSet of this.definitions.values())
      for (const hook of hookSet.hooks) longest = Math.max(longest, hook.deadlineMs);
    return longest;
  }
}
