// Pure readiness predicates over Kubernetes objects, used by the wait loop of the kubernetes and
// waitFor steps. Each answers ready / waiting (with what it is waiting for) / failed (terminal).
import type { KubeObject } from "./types.js";

export type Readiness =
  | { state: "ready"; message: string }
  | { state: "waiting"; message: string }
  | { state: "failed"; message: string; reason?: string };

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Kinds `rollout` is defined for. */
export const ROLLOUT_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;

export function conditions(object: KubeObject): Condition[] {
  const list = (object.status as { conditions?: unknown } | undefined)?.conditions;
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is Condition => !!c && typeof c === "object" && typeof (c as Condition).type === "string");
}

export function findCondition(object: KubeObject, type: string): Condition | undefined {
  return conditions(object).find((c) => c.type === type);
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function describe(object: KubeObject): string {
  const meta = object.metadata ?? {};
  const name = meta.namespace ? `${meta.namespace}/${meta.name ?? "?"}` : (meta.name ?? "?");
  return `${object.kind ?? "object"} ${name}`;
}

function conditionText(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(": ") || `${c.type}=${c.status}`;
}

/**
 * A Deployment has rolled out when the controller saw the latest spec (observedGeneration ≥
 * generation) and every replica is updated and available: updatedReplicas = availableReplicas =
 * replicas = spec.replicas (default 1). Progressing=False with reason ProgressDeadlineExceeded is
 * terminal.
 */
export function deploymentRollout(object: KubeObject): Readiness {
  const spec = (object.spec ?? {}) as { replicas?: number };
  const status = (object.status ?? {}) as Record<string, unknown>;
  const generation = num(object.metadata?.generation);
  const observed = num(status.observedGeneration);
  if (observed < generation || status.observedGeneration === undefined) {
    return { state: "waiting", message: "waiting for the deployment spec update to be observed" };
  }
  const progressing = findCondition(object, "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    const detail = progressing.message ? `: ${progressing.message}` : "";
    return {
      state: "failed",
      reason: "ProgressDeadlineExceeded",
      message: `${describe(object)} exceeded its progress deadline${detail}`,
    };
  }
  const want = typeof spec.replicas === "number" ? spec.replicas : 1;
  const updated = num(status.updatedReplicas);
  const available = num(status.availableReplicas);
  const replicas = num(status.replicas);
  if (updated < want) return { state: "waiting", message: `${updated} of ${want} new replicas have been updated` };
  if (replicas > updated)
    return { state: "waiting", message: `${replicas - updated} old replicas are pending termination` };
  if (available < updated)
    return { state: "waiting", message: `${available} of ${updated} updated replicas are available` };
  if (updated !== want || available !== want || replicas !== want) {
    return {
      state: "waiting",
      message: `replicas ${replicas}, updated ${updated}, available ${available}, desired ${want}`,
    };
  }
  return { state: "ready", message: `${describe(object)} rolled out (${want} replicas)` };
}

/** kubectl's rule for StatefulSets with the RollingUpdate strategy (partitions included). */
export function statefulSetRollout(object: KubeObject): Readiness {
  const spec = (object.spec ?? {}) as {
    replicas?: number;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  const status = (object.status ?? {}) as Record<string, unknown>;
  const strategy = spec.updateStrategy?.type ?? "RollingUpdate";
  if (strategy !== "RollingUpdate") {
    return {
      state: "failed",
      message: `rollout is only defined for the RollingUpdate strategy, ${describe(object)} uses ${strategy}`,
    };
  }
  const observed = num(status.observedGeneration);
  if (observed === 0 || num(object.metadata?.generation) > observed) {
    return { state: "waiting", message: "waiting for the statefulset spec update to be observed" };
  }
  const want = typeof spec.replicas === "number" ? spec.replicas : 1;
  const ready = num(status.readyReplicas);
  if (ready < want) return { state: "waiting", message: `${ready} of ${want} pods are ready` };
  const partition = num(spec.updateStrategy?.rollingUpdate?.partition);
  if (partition > 0) {
    const updated = num(status.updatedReplicas);
    if (updated < want - partition) {
      return {
        state: "waiting",
        message: `${updated} of ${want - partition} pods above the partition have been updated`,
      };
    }
    return { state: "ready", message: `${describe(object)} partitioned rollout complete` };
  }
  if (status.updateRevision !== status.currentRevision) {
    return {
      state: "waiting",
      message: `${num(status.updatedReplicas)} pods at revision ${String(status.updateRevision)}`,
    };
  }
  return {
    state: "ready",
    message: `${describe(object)} rolled out (${want} replicas at revision ${String(status.currentRevision)})`,
  };
}

/** kubectl's rule for DaemonSets with the RollingUpdate strategy. */
export function daemonSetRollout(object: KubeObject): Readiness {
  const spec = (object.spec ?? {}) as { updateStrategy?: { type?: string } };
  const status = (object.status ?? {}) as Record<string, unknown>;
  const strategy = spec.updateStrategy?.type ?? "RollingUpdate";
  if (strategy !== "RollingUpdate") {
    return {
      state: "failed",
      message: `rollout is only defined for the RollingUpdate strategy, ${describe(object)} uses ${strategy}`,
    };
  }
  if (status.observedGeneration === undefined || num(object.metadata?.generation) > num(status.observedGeneration)) {
    return { state: "waiting", message: "waiting for the daemonset spec update to be observed" };
  }
  const desired = num(status.desiredNumberScheduled);
  const updated = num(status.updatedNumberScheduled);
  const available = num(status.numberAvailable);
  if (updated < desired) return { state: "waiting", message: `${updated} of ${desired} new pods have been updated` };
  if (available < desired)
    return { state: "waiting", message: `${available} of ${desired} updated pods are available` };
  return { state: "ready", message: `${describe(object)} rolled out (${desired} pods)` };
}

export function rolloutStatus(object: KubeObject): Readiness {
  switch (object.kind) {
    case "Deployment":
      return deploymentRollout(object);
    case "StatefulSet":
      return statefulSetRollout(object);
    case "DaemonSet":
      return daemonSetRollout(object);
    default:
      return {
        state: "failed",
        message: `rollout is defined for ${ROLLOUT_KINDS.join(", ")}, not ${object.kind ?? "this object"}`,
      };
  }
}

/**
 * Completion as Jobs report it: condition Complete=True is done, Failed=True is terminal (with
 * the Job's reason, e.g. BackoffLimitExceeded or DeadlineExceeded).
 */
export function completionStatus(object: KubeObject): Readiness {
  const failed = findCondition(object, "Failed");
  if (failed?.status === "True") {
    return {
      state: "failed",
      ...(failed.reason ? { reason: failed.reason } : {}),
      message: `${describe(object)} failed: ${conditionText(failed)}`,
    };
  }
  const complete = findCondition(object, "Complete");
  if (complete?.status === "True") return { state: "ready", message: `${describe(object)} completed` };
  const status = (object.status ?? {}) as Record<string, unknown>;
  const counts = ["active", "succeeded", "failed"]
    .filter((k) => typeof status[k] === "number")
    .map((k) => `${k} ${String(status[k])}`)
    .join(", ");
  return { state: "waiting", message: `not complete yet${counts ? ` (${counts})` : ""}` };
}

/** Any condition: ready once `type` has `status` (default "True"). */
export function conditionStatus(object: KubeObject, type: string, status = "True"): Readiness {
  const condition = findCondition(object, type);
  if (condition?.status === status) return { state: "ready", message: `${describe(object)} has ${type}=${status}` };
  if (!condition) return { state: "waiting", message: `no ${type} condition yet` };
  return {
    state: "waiting",
    message: `${type}=${condition.status}${condition.reason ? ` (${conditionText(condition)})` : ""}`,
  };
}
