// Argo CD sync-result triggers: fire once per finished sync operation of an Application, when
// one of the named resources really changed (model.ts says how that is decided from what the
// controller writes). Like the resource kind, evaluate() (evaluate.ts) is the authority and the
// Sensor's Lua filter (lua.ts) passes a superset of what fires.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { SelectorPart, TriggerKind } from "../kind.js";
import { ARGOCD_SCHEMA, buildArgoCD } from "./build.js";
import { evaluateArgoCD } from "./evaluate.js";
import { waitForApplicationHealthy } from "./health.js";
import { ARGOCD_LUA } from "./lua.js";
import type { ArgoCDOperation } from "./operation.js";
import type { ArgoCDDocument, ArgoCDTrigger } from "./types.js";

export { resourceChange, type ResourceChange, type SyncResourceResult } from "./model.js";
export { operationOf, type ArgoCDOperation, type MatchedResource } from "./operation.js";
export type { ArgoCDDocument, ArgoCDTrigger } from "./types.js";

/** How long `healthy: true` waits for health when the hook sets no timeout. */
const DEFAULT_HEALTH_WAIT_MS = 10 * 60_000;

function applicationParts(trigger: ArgoCDTrigger, metadata: Record<string, unknown>): SelectorPart[] {
  if (trigger.application === undefined) return [];
  const name = typeof metadata.name === "string" ? metadata.name : "";
  return [{ part: "name", wants: trigger.application, actual: name, matches: name === trigger.application }];
}

const argocdKind: TriggerKind<ArgoCDTrigger, ArgoCDDocument> = {
  kind: "argocd",
  variables: ["object", "oldObject", "event", "application", "operation", "resources"],
  schema: ARGOCD_SCHEMA,
  build: buildArgoCD,
  evaluate: evaluateArgoCD,
  eventTypes: () => ["ADD", "UPDATE", "DELETE"],
  permissions(trigger) {
    const { watch } = trigger;
    return [
      {
        group: "",
        resource: "events",
        ...(watch.namespace ? { namespace: watch.namespace } : {}),
        verbs: ["create", "patch"],
      },
      ...(trigger.healthy
        ? [{ group: watch.group, resource: watch.resource, namespace: watch.namespace, verbs: ["get"] }]
        : []),
    ];
  },
  luaFilter: ARGOCD_LUA,
  filterRow(trigger) {
    const data: Record<string, unknown> = {};
    if (trigger.watch.namespace) data.ns = trigger.watch.namespace;
    if (trigger.application !== undefined) data.app = trigger.application;
    if (Object.keys(trigger.watch.labels).length > 0) data.labels = trigger.watch.labels;
    data.phases = Object.fromEntries(trigger.phases.map((p) => [p, true]));
    if (trigger.changedOnly) data.changedOnly = true;
    data.res = trigger.resources.map((m) => ({
      kind: m.kind,
      ...(m.group !== undefined ? { group: m.group } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namePrefix !== undefined ? { prefix: m.namePrefix } : {}),
    }));
    return data;
  },
  async beforeSteps(trigger, scope, ctx) {
    if (!trigger.healthy) return;
    const app = scope.application as IApplication | null;
    const operation = scope.operation as ArgoCDOperation | null;
    if (!app || !operation)
      throw new Error("healthy: true needs the Application and its operation, and the run has neither");
    await waitForApplicationHealthy(ctx.kubeConfig, app, operation, {
      signal: ctx.signal,
      logger: ctx.logger,
      timeoutMs: ctx.timeoutMs,
    });
  },
  beforeStepsBudgetMs: (trigger) => (trigger.healthy ? DEFAULT_HEALTH_WAIT_MS : 0),
  selectorParts: applicationParts,
  describe: () => "Argo CD sync results",
};

export default argocdKind;
