// The argocd kind in hooks.yaml: its schema under `on`, and the trigger built from it.
import type { JsonSchema } from "../../model/json-schema.js";
import type { TriggerBuildContext } from "../kind.js";
import type { ArgoCDDocument, ArgoCDTrigger } from "./types.js";

/** Where Application objects live when the hook does not say. */
const DEFAULT_ARGOCD_NAMESPACE = "argocd";

const stringMap: JsonSchema = { type: "object", additionalProperties: { type: "string" } };

export const ARGOCD_SCHEMA: Record<string, JsonSchema> = {
  argocd: {
    type: "object",
    additionalProperties: false,
    required: ["resources"],
    description: "Fire when an Argo CD sync operation finished and really changed the named resources.",
    properties: {
      application: { type: "string", minLength: 1, description: "Application name." },
      labels: { ...stringMap, description: "Select Applications by labels instead of name." },
      namespace: {
        type: "string",
        minLength: 1,
        description: "Namespace of the Application objects (default argocd).",
      },
      resources: {
        type: "array",
        minItems: 1,
        description: "Synced resources that matter; one match is enough.",
        items: {
          type: "object",
          additionalProperties: false,
          required: ["kind"],
          properties: {
            group: { type: "string" },
            kind: { type: "string", minLength: 1 },
            namespace: { type: "string" },
            name: { type: "string", minLength: 1 },
            namePrefix: { type: "string", minLength: 1 },
          },
        },
      },
      changedOnly: {
        type: "boolean",
        description: "Only resources the sync created, changed or pruned (default true).",
      },
      phases: {
        type: "array",
        minItems: 1,
        uniqueItems: true,
        items: { enum: ["Succeeded", "Failed", "Error"] },
        description: "Operation phases that fire the hook (default [Succeeded]).",
      },
      healthy: { type: "boolean", description: "Wait until the Application is Healthy before running the steps." },
    },
  },
};

export function buildArgoCD(on: ArgoCDDocument, ctx: TriggerBuildContext): ArgoCDTrigger {
  const argo = on.argocd;
  const argoAt = [...ctx.at, "argocd"];
  if (argo.application !== undefined && argo.labels !== undefined)
    ctx.report(argoAt, "give one of application or labels, not both");
  if (argo.application === undefined && argo.labels === undefined)
    ctx.report(argoAt, "missing the Application: give application or labels");
  argo.resources.forEach((match, i) => {
    if (match.name !== undefined && match.namePrefix !== undefined)
      ctx.report([...argoAt, "resources", i], "give one of name or namePrefix, not both");
  });
  const when = ctx.when();
  return {
    kind: "argocd",
    watch: {
      group: "argoproj.io",
      version: "v1alpha1",
      resource: "applications",
      namespace: argo.namespace ?? DEFAULT_ARGOCD_NAMESPACE,
      labels: argo.labels ?? {},
    },
    ...(argo.application !== undefined ? { application: argo.application } : {}),
    resources: argo.resources,
    changedOnly: argo.changedOnly ?? true,
    phases: argo.phases ?? ["Succeeded"],
    healthy: argo.healthy ?? false,
    ...(when ? { when } : {}),
  };
}
