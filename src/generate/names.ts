// Names of generated objects, in one place so the generator, the runner and the tests agree.
import { createHash } from "node:crypto";
import type { HookSet, WatchSelector } from "../spec/types.js";

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "resource-hooks" } as const;

export function hookSetLabels(hookSet: HookSet): Record<string, string> {
  return { ...MANAGED_BY, "resource-hooks.io/hookset": hookSet.name };
}

export const eventSourceName = (hookSet: HookSet): string => hookSet.name;
export const eventSourceServiceAccount = (hookSet: HookSet): string => `${hookSet.name}-eventsource`;
export const sensorName = (hookSet: HookSet, hook: string): string => `${hookSet.name}-${hook}`;
export const runnerConfigMapName = (hookSet: HookSet): string => `${hookSet.name}-hooks`;

/** The runner's Service name and port, read from spec.runner.url (`http://<svc>.<ns>.svc:<port>`). */
export function runnerService(hookSet: HookSet): { name: string; namespace?: string; port: number } {
  const url = new URL(hookSet.runner.url);
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const labels = url.hostname.split(".");
  const isClusterName = labels.length === 1 || labels[2] === "svc";
  if (!isClusterName) return { name: `${hookSet.name}-runner`, port };
  return labels.length >= 2 ? { name: labels[0]!, namespace: labels[1]!, port } : { name: labels[0]!, port };
}

export function watchKey(watch: WatchSelector): string {
  const labels = Object.entries(watch.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return [watch.group, watch.version, watch.resource, watch.namespace, labels].join("|");
}

/** A readable, stable event name for a watch: `<resource>-<namespace|all>[-<labels hash>]`. */
export function watchEventName(watch: WatchSelector): string {
  const base = `${watch.resource.replace(/\./g, "-")}-${watch.namespace || "all"}`;
  const groupPart = watch.group && !["apps", "batch", "networking.k8s.io"].includes(watch.group) ? `-${shortHash(watch.group)}` : "";
  const labelPart = Object.keys(watch.labels).length > 0 ? `-${shortHash(watchKey(watch))}` : "";
  return `${base}${groupPart}${labelPart}`;
}

export function shortHash(text: string, length = 8): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}
