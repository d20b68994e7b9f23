// What the controller applies for one HookSet resource, as a pure function: its token Secret,
// EventSource and Sensor, built by the generator `resource-hooks generate` uses (buildEventSource,
// buildSensor), so the static path and the controller can never disagree on what a HookSet means.
// Each object is owned by the HookSet (controller: true), so deleting the HookSet lets
// kube-controller-manager's garbage collector delete them.
import { buildEventSource, planWatches, type Watch } from "../generate/eventsource.js";
import { buildSensor } from "../generate/sensor.js";
import type { HookSet } from "../hookset/types.js";
import type { KubeObject } from "../k8s/types.js";
import { API_VERSION } from "../model/constants.js";
import { hookSetLabels } from "../model/names.js";
import { KIND } from "../hookset/types.js";
import { hookSetToken, TOKEN_SECRET_KEY, tokenSecretName } from "../tenancy/credential.js";

/** A HookSet resource names no ServiceAccount: its EventSource runs as the namespace's default one. */
export const DEFAULT_SERVICE_ACCOUNT = "default";

export interface HookSetIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export interface Desired {
  /** The HookSet as the controller serves it: the installation's runner, its own token Secret. */
  hookSet: HookSet;
  watches: Map<string, Watch>;
  serviceAccountName: string;
  secret: KubeObject;
  eventSource: KubeObject;
  sensor: KubeObject;
}

export function ownerReference(owner: HookSetIdentity): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The parsed HookSet with what the installation decides: the runner's URL, the token Secret, the ServiceAccount. */
export function servedHookSet(parsed: HookSet, runnerUrl: string): HookSet {
  return {
    ...parsed,
    serviceAccountName: parsed.serviceAccountName ?? DEFAULT_SERVICE_ACCOUNT,
    runner: {
      ...parsed.runner,
      url: runnerUrl.replace(/\/+$/, ""),
      tokenSecret: { name: tokenSecretName(parsed.name), key: TOKEN_SECRET_KEY },
    },
  };
}

export function desiredObjects(
  parsed: HookSet,
  owner: HookSetIdentity,
  options: { runnerUrl: string; key: Uint8Array },
): Desired {
  const hookSet = servedHookSet(parsed, options.runnerUrl);
  const watches = planWatches(hookSet);
  const owned = (object: KubeObject): KubeObject => ({
    ...object,
    metadata: { ...object.metadata, ownerReferences: [ownerReference(owner)] },
  });
  const token = hookSetToken(options.key, owner);
  const secret: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: hookSet.runner.tokenSecret.name, namespace: owner.namespace, labels: hookSetLabels(hookSet) },
    type: "Opaque",
    // The Sensor's secureHeaders send the value as it is, and the runner expects a bearer token.
    data: { [TOKEN_SECRET_KEY]: Buffer.from(`Bearer ${token}`).toString("base64") },
  };
  return {
    hookSet,
    watches,
    serviceAccountName: hookSet.serviceAccountName!,
    secret: owned(secret),
    eventSource: owned(buildEventSource(hookSet, watches) as unknown as KubeObject),
    sensor: owned(buildSensor(hookSet, watches) as unknown as KubeObject),
  };
}

/** What the EventSource's ServiceAccount must be allowed: get, list and watch of each watched resource. */
export interface WatchPermission {
  group: string;
  resource: string;
  /** "" for every namespace. */
  namespace: string;
  verb: "get" | "list" | "watch";
}

export function watchPermissions(watches: Map<string, Watch>): WatchPermission[] {
  const seen = new Set<string>();
  const out: WatchPermission[] = [];
  for (const { selector } of watches.values()) {
    for (const verb of ["get", "list", "watch"] as const) {
      const key = `${selector.group}|${selector.resource}|${selector.namespace}|${verb}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ group: selector.group, resource: selector.resource, namespace: selector.namespace, verb });
    }
  }
  return out;
}
