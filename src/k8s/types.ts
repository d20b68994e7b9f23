// Types shared by the Kubernetes client (src/k8s/client.ts) and the steps that use it. This module
// has no run-time dependencies, so step modules can import it (KubeApiError for instanceof checks)
// without loading @kubernetes/client-node: validate, generate and simulate never need it.

/** Object metadata as the API server sends it (plain JSON: timestamps are strings). */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** Where a kind is served: from discovery, or guessed when discovery could not be read. */
export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  group: string;
  version: string;
  /** Plural resource name, e.g. "deployments". */
  resource: string;
  namespaced: boolean;
}

export type PatchType = "merge" | "json" | "strategic";

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/**
 * A failed API call. `status` is the HTTP status, 0 when the server was not reached (a network
 * error). `reason` is the Kubernetes Status reason (AlreadyExists, NotFound, Conflict, ...).
 */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
