// kubernetes: apply, create, patch or delete any object, optionally waiting for it afterwards.
//
//   apply   server-side apply (field manager resource-hooks, force) — creates or updates
//   create  POST; metadata.generateName without a name becomes generateName + a hash of the
//           event's idempotency key, and the object carries the annotation
//           resource-hooks.io/idempotency-key, so a redelivered event finds "its" object
//           (AlreadyExists with our key counts as success) and the object is created once
//   patch   merge patch (RFC 7386), JSON patch (RFC 6902) or strategic merge patch, named explicitly
//   delete  404 counts as success; propagationPolicy Background by default
import type { ObjectMeta } from "../../k8s/types.js";
import { isKnownClusterScoped, kindToResource, splitApiVersion } from "../../k8s/kinds.js";
import { kubeFromContext, objectOutput } from "../common/kube.js";
import { containsTemplate } from "../common/render.js";
import { checkWait } from "../common/wait.js";
import { WAIT_VERBS, waitForObject, type WaitOptions } from "../common/wait-object.js";
import type { PermissionNeed, StepProblem, StepType } from "../types.js";
import { resolveTarget, runAction } from "./actions.js";
import { kubernetesSchema } from "./schema.js";

export { deterministicName } from "./actions.js";

export type KubernetesAction = "apply" | "create" | "patch" | "delete";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: unknown;
  from?: string;
}

export type KubernetesPatch =
  { merge: Record<string, unknown> } | { json: JsonPatchOperation[] } | { strategic: Record<string, unknown> };

export interface KubernetesConfig {
  action: KubernetesAction;
  /** The object (apply, create) or its identity: apiVersion, kind, metadata.name/namespace (patch, delete). */
  manifest: Manifest;
  /** action: patch only. */
  patch?: KubernetesPatch;
  /** action: delete only (default Background). */
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  wait?: WaitOptions;
}

const VERBS: Record<KubernetesAction, string[]> = {
  // Server-side apply is a PATCH; when it creates the object the API server also checks `create`.
  apply: ["create", "patch"],
  // `get` reads the existing object on AlreadyExists to compare its idempotency annotation.
  create: ["create", "get"],
  patch: ["patch"],
  delete: ["delete"],
};

export const kubernetesStep: StepType<KubernetesConfig> = {
  type: "kubernetes",
  schema: kubernetesSchema,

  check(config) {
    const manifest = (config?.manifest ?? {}) as Partial<Manifest>;
    return [
      ...literalTypeProblems(manifest),
      ...nameProblems(config?.action, (manifest.metadata ?? {}) as ObjectMeta),
      ...actionFieldProblems(config),
      ...waitProblems(config, manifest),
    ];
  },

  permissions(config) {
    const manifest = config?.manifest;
    if (!manifest || typeof manifest.apiVersion !== "string" || typeof manifest.kind !== "string") return [];
    const { group } = splitApiVersion(manifest.apiVersion);
    const verbs = new Set(VERBS[config.action] ?? []);
    if (config.wait) for (const verb of WAIT_VERBS) verbs.add(verb);
    const namespace = manifest.metadata?.namespace;
    const need: PermissionNeed = { group, resource: kindToResource(group, manifest.kind), verbs: [...verbs].sort() };
    if (
      typeof namespace === "string" &&
      namespace &&
      !containsTemplate(namespace) &&
      !isKnownClusterScoped(group, manifest.kind)
    ) {
      need.namespace = namespace;
    }
    return [need];
  },

  async execute(config, ctx) {
    const kube = await kubeFromContext(ctx);
    const target = await resolveTarget(kube, config, ctx);
    let result = await runAction(target, config, ctx);
    if (config.wait) {
      const waited = await waitForObject(ctx, kube, target, config.wait);
      if (waited) result = waited;
    }
    return { output: objectOutput(target.info, target.namespace, target.name, result) };
  },
};

/** apiVersion and kind decide the runner's RBAC, so they cannot wait for an event. */
function literalTypeProblems(manifest: Partial<Manifest>): StepProblem[] {
  return (["apiVersion", "kind"] as const)
    .filter((field) => containsTemplate(manifest[field]))
    .map((field) => ({ path: ["manifest", field], message: `${field} must be literal, not a template` }));
}

function nameProblems(action: KubernetesAction | undefined, meta: ObjectMeta): StepProblem[] {
  if (action === "create") {
    if (meta.name || meta.generateName) return [];
    return [{ path: ["manifest", "metadata"], message: "create needs metadata.name or metadata.generateName" }];
  }
  if (!action || meta.name) return [];
  return [
    {
      path: ["manifest", "metadata", "name"],
      message: meta.generateName
        ? `generateName only works with action create; ${action} needs metadata.name`
        : `${action} needs metadata.name`,
    },
  ];
}

/** Fields that belong to one action. */
function actionFieldProblems(config: KubernetesConfig | undefined): StepProblem[] {
  const problems: StepProblem[] = [];
  const action = config?.action;
  if (action === "patch" && config?.patch === undefined)
    problems.push({ path: ["patch"], message: "action patch needs `patch` (merge, json or strategic)" });
  if (action !== "patch" && config?.patch !== undefined)
    problems.push({ path: ["patch"], message: "`patch` is only used with action patch" });
  if (action !== "delete" && config?.propagationPolicy !== undefined)
    problems.push({ path: ["propagationPolicy"], message: "propagationPolicy is only used with action delete" });
  return problems;
}

function waitProblems(config: KubernetesConfig | undefined, manifest: Partial<Manifest>): StepProblem[] {
  if (!config?.wait) return [];
  const problems: StepProblem[] = [];
  if (config.action === "delete" && config.wait.for !== "deleted")
    problems.push({ path: ["wait", "for"], message: "after delete the only thing to wait for is `deleted`" });
  const kind = typeof manifest.kind === "string" ? manifest.kind : undefined;
  problems.push(...checkWait(config.wait.for, kind, ["wait", "for"]));
  return problems;
}
