// Kubernetes access for the kubernetes and waitFor steps: the client from the runtime, and API
// errors turned into StepFailures with the shared HTTP classification.
import type { KubeClient } from "../../k8s/client.js";
import { KubeApiError, type KubeObject, type ResourceInfo } from "../../k8s/types.js";
import { StepFailure, type StepContext } from "../types.js";
import { abortFailure } from "./abort.js";
import { classifyStatus } from "./http.js";

export const FIELD_MANAGER = "resource-hooks";
export const IDEMPOTENCY_ANNOTATION = "resource-hooks.io/idempotency-key";

/**
 * The runtime's Kubernetes client. src/k8s/client.ts (and with it @kubernetes/client-node) is
 * loaded here, on first use, so that loading the step types (validate, generate) does not load it.
 */
export async function kubeFromContext(ctx: StepContext): Promise<KubeClient> {
  const kubeConfig = ctx.runtime.kubeConfig;
  if (!kubeConfig) {
    throw new StepFailure("this runner has no Kubernetes access (no kubeconfig or in-cluster service account)", {
      retryable: false,
    });
  }
  const { kubeClientFor } = await import("../../k8s/client.js");
  return kubeClientFor(kubeConfig);
}

/**
 * A failed API call as a StepFailure: network errors, 5xx, 408, 429 and optimistic-concurrency
 * conflicts (409 Conflict) are retryable; NotFound, Forbidden, Invalid, AlreadyExists are not.
 */
export function kubeFailure(err: unknown, doing: string, signal?: AbortSignal): StepFailure {
  if (err instanceof StepFailure) return err;
  if (signal?.aborted) return abortFailure(signal, doing);
  if (err instanceof KubeApiError) {
    const message = `${doing}: ${err.message}${err.status ? ` (${err.status} ${err.reason})` : ""}`;
    if (err.status === 0) return new StepFailure(message, { retryable: err.reason === "NetworkError", cause: err });
    const how = classifyStatus(err.status);
    const retryable = how.retryable || (err.status === 409 && err.reason === "Conflict");
    const retryAfterMs = retryable && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
    return new StepFailure(message, { retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new StepFailure(`${doing}: ${text}`, { retryable: false, cause: err });
}

/** "Deployment prod/web" */
export function describeTarget(info: Pick<ResourceInfo, "kind">, namespace: string | undefined, name: string): string {
  return `${info.kind} ${namespace ? `${namespace}/` : ""}${name}`;
}

/** The step output for an object: {apiVersion, kind, namespace?, name, uid?}. */
export interface ObjectOutput {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export function objectOutput(
  info: ResourceInfo,
  namespace: string | undefined,
  name: string,
  object?: KubeObject,
): ObjectOutput {
  const ns = object?.metadata?.namespace ?? (info.namespaced ? namespace : undefined);
  const uid = object?.metadata?.uid;
  return {
    apiVersion: info.apiVersion,
    kind: info.kind,
    ...(ns ? { namespace: ns } : {}),
    name: object?.metadata?.name ?? name,
    ...(uid ? { uid } : {}),
  };
}
