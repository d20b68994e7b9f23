// `resource-hooks serve --hooksets-from-cluster`: the one runner of an installation, serving every
// HookSet resource (all namespaces, or --namespaces) instead of one hooks.yaml. Each HookSet's
// runs and memory live in its namespace; its Sensor's token is verified with the installation's
// key (a Secret in --namespace, created by the first replica); its steps act as its
// ServiceAccount through impersonation (src/tenancy). Loaded only for this mode.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { KubeAccess } from "./kubeconfig.js";
import { endpointOverrides, refuse, resyncTiming, type RunnerCliOptions } from "./runner-options.js";

export interface ClusterServeOptions {
  port: number;
  host: string;
  /** Where the runner is installed: the credential key's Secret lives there. */
  namespace: string;
  /** Only the HookSets of these namespaces; all when empty. */
  namespaces: string[];
  maxConcurrentRuns: number;
  maxPendingRequests: number;
  maxBodyBytes?: number;
  kubeEvents: boolean;
  /** The resync's timing; RESYNC_DEFAULTS without. */
  resync?: { intervalMs: number; deferMs: number };
  holder: string;
  instance: string;
  endpoints: Record<string, string>;
}

/** The listening runner, once the key is loaded and the HookSets of the first list are served. */
export async function startClusterRunner(access: KubeAccess, options: ClusterServeOptions, logger: Logger) {
  const [
    { loadOrCreateCredentialKey },
    { impersonating },
    { apiSecretReader },
    { createTenantRunner },
    { watchHookSets },
    { listen },
    { KubernetesRunStore },
    { KubernetesShardStore },
    { KubeEventRecorder },
    { createRuntime },
  ] = await Promise.all([
    import("../tenancy/key.js"),
    import("../tenancy/impersonation.js"),
    import("../tenancy/secrets.js"),
    import("../runner/tenants/server.js"),
    import("../runner/tenants/watch.js"),
    import("../runner/server.js"),
    import("../runner/store/kubernetes.js"),
    import("../runner/memory/kubernetes.js"),
    import("../runner/kube-events.js"),
    import("../runner/runtime.js"),
  ]);
  const { config } = access;
  const key = await loadOrCreateCredentialKey(config, options.namespace);
  // The endpoints and region every HookSet's steps share (an unknown endpoint name throws here).
  const shared = createRuntime({ secretsDir: "/nonexistent", endpoints: options.endpoints });
  const runner = createTenantRunner({
    key,
    holder: options.holder,
    logger,
    maxConcurrentRuns: options.maxConcurrentRuns,
    maxPendingRequests: options.maxPendingRequests,
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.kubeEvents ? { kubeEvents: new KubeEventRecorder(config, options.instance, logger) } : {}),
    ...(options.resync ? { resync: options.resync } : {}),
    openStores: (hookSet) => ({
      store: new KubernetesRunStore(config, hookSet.namespace, hookSet, logger),
      memoryShards: new KubernetesShardStore(config, hookSet.namespace, logger),
    }),
    stepRuntime: async (hookSet, serviceAccount) => {
      const kubeConfig = await impersonating(config, hookSet.namespace, serviceAccount);
      return {
        kubeConfig,
        readSecret: apiSecretReader(kubeConfig, hookSet.namespace, serviceAccount),
        endpoints: shared.endpoints,
        awsRegion: shared.awsRegion,
      };
    },
  });
  const watch = await watchHookSets(config, runner.registry, { namespaces: options.namespaces, logger });
  const running = await listen(runner, options.port, options.host);
  return {
    running,
    registry: runner.registry,
    hookSets: runner.registry.size,
    inFlight: () => runner.slots.inUse,
    async stop(graceMs: number) {
      watch.stop();
      await running.stop(graceMs);
    },
  };
}

/**
 * The runner of every HookSet from the command line's options (`serve --hooksets-from-cluster`
 * and `controller`); a start that fails is refused (exit 2) with what to check.
 */
export async function serveClusterFromCli(
  access: KubeAccess,
  opts: RunnerCliOptions & { namespace: string; namespaces: string[] },
  logger: Logger,
): Promise<{ stop(graceMs: number): Promise<void>; inFlight(): number }> {
  const instance = process.env.POD_NAME ?? hostname();
  let started: Awaited<ReturnType<typeof startClusterRunner>>;
  try {
    started = await startClusterRunner(
      access,
      {
        port: opts.port,
        host: opts.host,
        namespace: opts.namespace,
        namespaces: opts.namespaces,
        maxConcurrentRuns: opts.maxConcurrentRuns,
        maxPendingRequests: opts.maxPendingRequests,
        ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
        kubeEvents: opts.kubeEvents,
        resync: resyncTiming(opts),
        // Unique per process; the part before "/" is the pod (see serve.ts).
        holder: `${instance}/${randomBytes(4).toString("hex")}`,
        instance,
        endpoints: endpointOverrides(opts, logger),
      },
      logger,
    );
  } catch (err) {
    throw refuse(
      logger,
      "could not start serving HookSet resources (is the HookSet CRD applied, and may the runner list hooksets " +
        "and read or create its credential key Secret?)",
      { err: (err as Error).message },
    );
  }
  const { url } = started.running;
  logger.info({ url, hookSets: started.hookSets, namespace: opts.namespace }, "runner listening for every HookSet");
  return started;
}
