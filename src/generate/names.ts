// Names of generated objects, in one place so the generator, the runner and the tests agree.
import type { HookSet } from "../hookset/types.js";

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "resource-hooks" } as const;

export function hookSetLabels(hookSet: HookSet): Record<string, string> {
  return { ...MANAGED_BY, "resource-hooks.io/hookset": hookSet.name };
}

export const eventSourceName = (hookSet: HookSet): string => hookSet.name;
export const eventSourceServiceAccount = (hookSet: HookSet): string => `${hookSet.name}-eventsource`;
/** One Sensor per hook set. */
export const sensorName = (hookSet: HookSet): string => hookSet.name;
export const runnerConfigMapName = (hookSet: HookSet): string => `${hookSet.name}-hooks`;
/** The runner's Deployment and ServiceAccount (its Roles and ClusterRole add the namespace). */
export const runnerName = (hookSet: HookSet): string => `${hookSet.name}-runner`;

/**
 * The runner's Service: always `<name>-runner` (validation refuses a cluster URL naming another
 * Service), on the port spec.runner.url gives.
 */
export function runnerService(hookSet: HookSet): { name: string; port: number } {
  const url = new URL(hookSet.runner.url);
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { name: runnerName(hookSet), port };
}

export { shortHash, watchEventName, watchKey } from "../trigger/watch.js";
