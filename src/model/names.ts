// Names of the objects resource-hooks generates and writes, in one place so the generator, the
// runner and the tests agree. Names derived from content are a prefix of shortHash (hash.ts).
import type { HookSet } from "../hookset/types.js";
import { LABEL_HOOKSET, MANAGED_BY } from "./constants.js";
import { shortHash } from "./hash.js";

export function hookSetLabels(hookSet: HookSet): Record<string, string> {
  return { ...MANAGED_BY, [LABEL_HOOKSET]: hookSet.name };
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
  const defaultPort = url.protocol === "https:" ? 443 : 80;
  return { name: runnerName(hookSet), port: url.port ? Number(url.port) : defaultPort };
}

/**
 * The EventSource entry (and Sensor dependency and trigger) that carries a watch's UPDATEs and
 * DELETEs a second time, past its replays (generate/eventsource.ts); the watch's own entry keeps
 * its name. `_` never occurs in a watch's name (resource, namespace and hashes): no collision.
 */
export const changesStreamName = (watchEventName: string): string => `${watchEventName}_changes`;

/**
 * The Sensor dependency and trigger of one shard of a stream (trigger/watch.ts changesShards):
 * shard 0 keeps the stream's name.
 */
export const streamShardName = (streamName: string, shard: number): string =>
  shard === 0 ? streamName : `${streamName}_${shard}`;

/** A HookRun's name: a function of (hook set, hook, identity), so a redelivered event finds its run. */
export function runName(hookSet: string, hook: string, identity: string): string {
  const digest = shortHash(`${hookSet}/${hook}/${identity}`, 16);
  // Object names are DNS subdomains (253); hook names are DNS labels (63).
  return `${hook}-${digest}`;
}

/** The HookRun that records when the runner first served a hook. */
export function markerName(hook: string): string {
  return `${hook}-first-served`;
}

/**
 * The first-served marker of a HookSet resource's hook. HookSet resources share their namespace
 * with each other: the name carries a hash of the HookSet's namespace and name, so two HookSets
 * with a hook of one name never share a marker.
 */
export function hookSetMarkerName(hookSet: { namespace: string; name: string }, hook: string): string {
  return `${hook}-first-served-${shortHash(`${hookSet.namespace}/${hookSet.name}`, 10)}`;
}

/**
 * A HookMemory shard: one per (HookSet, watch, shard). The readable part is cut so the name stays
 * a valid object name; the hash of the HookSet's namespace and name and of the watch keeps two
 * HookSets (or two long watch names cut alike) from ever sharing a shard.
 */
export function memoryShardName(hookSet: { namespace: string; name: string }, watch: string, shard: number): string {
  const readable = `${hookSet.name.slice(0, 100)}-${watch.slice(0, 100)}`.replace(/[^a-z0-9.-]/g, "-");
  const digest = shortHash(`${hookSet.namespace}/${hookSet.name}/${watch}`, 10);
  return `${readable}-${digest}-${String(shard).padStart(2, "0")}`;
}

/**
 * The path of a watch's route on the runner: the HookSet's namespace and name, then the watch.
 * The one runner of an installation serves every HookSet by it; two HookSets of one name in two
 * namespaces never share a route.
 */
export const watchPath = (hookSet: { namespace: string; name: string }, watch: string): string =>
  `${hookSetPath(hookSet)}/watches/${watch}`;

/** Where a runner serving HookSet resources serves one HookSet: its watches' routes and its runs API. */
export const hookSetPath = (hookSet: { namespace: string; name: string }): string =>
  `/namespaces/${hookSet.namespace}/hooksets/${hookSet.name}`;
