// Compatibility for callers of the per-kind functions (the runner before it calls evaluate()):
// delete once nothing imports it. The kind itself lives in ./argocd/index.ts.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { ArgoCDTrigger } from "../spec/types.js";
import { argocdKind, type ArgoCDOperation, type MatchedResource } from "./argocd/index.js";
import type { Decision, ResourceEvent } from "./event.js";

export { matchedResources, operationOf, resourceChange, type ArgoCDOperation, type MatchedResource, type ResourceChange, type SyncResourceResult } from "./argocd/index.js";

export interface ArgoCDDecision {
  decision: Decision;
  identity?: string;
  application?: IApplication;
  operation?: ArgoCDOperation;
  resources?: MatchedResource[];
}

/** @deprecated use evaluate() from ./index.js */
export function decideArgoCD(trigger: ArgoCDTrigger, event: ResourceEvent): ArgoCDDecision {
  const evaluation = argocdKind.evaluate(trigger, event, {});
  if (!evaluation.decision.fires) return { decision: evaluation.decision };
  const { application, operation, resources } = evaluation.scope as { application: IApplication; operation: ArgoCDOperation; resources: MatchedResource[] };
  return { decision: evaluation.decision, identity: evaluation.identity, application, operation, resources };
}

/** @deprecated evaluate() returns the whole scope. */
export function argocdScope(decision: ArgoCDDecision): Record<string, unknown> {
  return { application: decision.application ?? null, operation: decision.operation ?? null, resources: decision.resources ?? [] };
}
