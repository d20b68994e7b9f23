// The HookSet resources the runner serves, listed and watched with the project's informer
// (src/k8s/informer.ts): one informer over all namespaces, or one per namespace of --namespaces.
// A list replaces what the registry serves in its scope (a HookSet deleted while a watch was down
// is found gone); watch events apply one HookSet each.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Informer } from "../../k8s/informer.js";
import { RestClient } from "../../k8s/rest.js";
import { retryWhileStarting } from "../../k8s/start-retry.js";
import { API_GROUP, API_VERSION_NAME, HOOKSET_PLURAL } from "../../model/constants.js";
import type { HookSetRegistry } from "./registry.js";
import type { HookSetResource } from "./resource.js";

const WATCH_SECONDS = 300;

export interface HookSetWatch {
  stop(): void;
}

/**
 * Lists the HookSets (retrying while the API server starts, for up to startTimeoutMs), applies
 * them, then follows their changes until stop(). Resolves once the first lists are applied.
 */
export async function watchHookSets(
  kubeConfig: KubeConfig,
  registry: HookSetRegistry,
  options: { namespaces?: readonly string[]; logger: Logger; startTimeoutMs?: number },
): Promise<HookSetWatch> {
  const rest = new RestClient(kubeConfig);
  const group = `/apis/${API_GROUP}/${API_VERSION_NAME}`;
  const scopes: Array<string | undefined> = options.namespaces?.length ? [...options.namespaces] : [undefined];
  const informers = scopes.map((namespace) => {
    const path = namespace
      ? `${group}/namespaces/${encodeURIComponent(namespace)}/${HOOKSET_PLURAL}`
      : `${group}/${HOOKSET_PLURAL}`;
    let applied: Promise<void> = Promise.resolve();
    const informer = new Informer(
      rest,
      {
        path,
        watchSeconds: () => WATCH_SECONDS,
        backoff: { initialMs: 1_000, maxMs: 30_000 },
        onRetry: (err, failed) =>
          options.logger.warn({ err: (err as Error).message, failed, namespace }, "watching HookSets failed; retrying"),
      },
      {
        onList: (objects) => {
          applied = registry.replaceAll(objects as HookSetResource[], namespace);
        },
        onEvent: (type, object) => {
          const resource = object as HookSetResource;
          if (type === "ADDED" || type === "MODIFIED") void registry.apply(resource);
          else if (type === "DELETED" && resource.metadata.namespace && resource.metadata.name)
            void registry.remove(resource.metadata.namespace, resource.metadata.name);
        },
      },
    );
    return { informer, applied: () => applied, namespace };
  });
  await Promise.all(
    informers.map(async ({ informer, applied, namespace }) => {
      await retryWhileStarting(() => informer.list(), {
        timeoutMs: options.startTimeoutMs ?? 120_000,
        logger: options.logger,
        what: `listing the HookSets${namespace ? ` of ${namespace}` : ""}`,
      });
      await applied();
      void informer.run().catch((err: unknown) => {
        options.logger.error({ err: (err as Error).message, namespace }, "the HookSet watch stopped");
      });
    }),
  );
  return { stop: () => informers.forEach(({ informer }) => informer.stop()) };
}
