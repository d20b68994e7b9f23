// Whether the Argo Events controller accepted an EventSource or Sensor, from the status it writes
// (argo-events v1.9.11 pkg/apis/events/v1alpha1 Status: conditions such as SourcesProvided,
// DependenciesProvided, TriggersProvided and Deployed, each True, False or Unknown; like its
// Status.IsReady, ready means every condition is True). An object whose status nobody wrote
// yet (no Argo Events controller in the cluster, or not yet) is ready by existing: the HookSet
// controller cannot tell "not yet" from "never", and the objects are what it was asked to write.
import type { KubeObject } from "../k8s/types.js";
import { readConditions } from "./conditions.js";

export type Readiness = { ready: true } | { ready: false; reason: string; message: string };

export function argoReadiness(object: KubeObject): Readiness {
  const what = `${object.kind ?? "object"} ${object.metadata?.name ?? "?"}`;
  const conditions = readConditions(object.status).filter((c) => c.type !== "Ready");
  const failed = conditions.find((c) => c.status === "False");
  if (failed) {
    const detail = [failed.reason, failed.message].filter(Boolean).join(": ");
    return {
      ready: false,
      reason: `${object.kind ?? "Object"}NotReady`,
      message: `${what}: ${failed.type} is False${detail ? ` (${detail})` : ""}`,
    };
  }
  const pending = conditions.find((c) => c.status !== "True");
  if (pending)
    return {
      ready: false,
      reason: `${object.kind ?? "Object"}NotReady`,
      message: `${what}: waiting for Argo Events (${pending.type} is ${pending.status})`,
    };
  return { ready: true };
}
