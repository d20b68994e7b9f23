// waitFor: wait until an object rolled out, completed, has a condition, satisfies a CEL expression
// or is deleted. The object defaults to the one that triggered the hook (scope.object); giving
// apiVersion and kind names another object (then `name` is required), in the trigger's namespace
// unless `namespace` says otherwise.
import type { KubeClient } from "../../k8s/client.js";
import type { KubeObject, ResourceInfo } from "../../k8s/types.js";
import { isKnownClusterScoped, kindToResource, splitApiVersion } from "../../k8s/kinds.js";
import { describeTarget, kubeFailure, kubeFromContext, objectOutput } from "../common/kube.js";
import { containsTemplate, renderText } from "../common/render.js";
import { apiVersionSchema, kindSchema, templated } from "../common/schema.js";
import { WAIT_VERBS, waitForObject, type WaitTarget } from "../common/wait-object.js";
import { checkWait, waitConditionSchema, waitTimeoutSchema, type WaitCondition } from "../common/wait.js";
import { StepFailure, type PermissionNeed, type StepContext, type StepProblem, type StepType } from "../types.js";

export interface WaitForConfig {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  for: WaitCondition;
  timeout?: string;
}

export const waitForStep: StepType<WaitForConfig> = {
  type: "waitFor",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["for"],
    description:
      "Wait for a Kubernetes object (by default the one that triggered the hook) to roll out, " +
      "complete, reach a condition or be deleted.",
    properties: {
      apiVersion: {
        ...apiVersionSchema,
        description:
          "apiVersion of the object (literal). Default: the triggering object's. Give it together with kind.",
      },
      kind: {
        ...kindSchema,
        description:
          "Kind of the object (literal). Default: the triggering object's. Give it together with apiVersion.",
      },
      namespace: templated("Namespace of the object. Default: the triggering object's namespace."),
      name: templated("Name of the object. Default: the triggering object's name; required when kind is given."),
      for: waitConditionSchema,
      timeout: waitTimeoutSchema,
    },
    dependencies: { apiVersion: ["kind"], kind: ["apiVersion"] },
  },

  check(config) {
    const problems: StepProblem[] = [];
    for (const field of ["apiVersion", "kind"] as const) {
      if (containsTemplate(config?.[field]))
        problems.push({ path: [field], message: `${field} must be literal, not a template` });
    }
    if (config?.kind !== undefined && config.name === undefined) {
      problems.push({
        path: ["name"],
        message: "name is required when kind is given (only the triggering object is the default)",
      });
    }
    problems.push(...checkWait(config?.for, config?.kind, ["for"]));
    return problems;
  },

  permissions(config, hook) {
    const verbs = [...WAIT_VERBS].sort();
    const literalNamespace =
      typeof config?.namespace === "string" && !containsTemplate(config.namespace) ? config.namespace : undefined;
    const triggerNamespace = hook?.watch?.namespace || undefined;
    if (config?.apiVersion && config.kind) {
      const { group } = splitApiVersion(config.apiVersion);
      const need: PermissionNeed = { group, resource: kindToResource(group, config.kind), verbs };
      const namespace = config.namespace !== undefined ? literalNamespace : triggerNamespace;
      if (namespace && !isKnownClusterScoped(group, config.kind)) need.namespace = namespace;
      return [need];
    }
    if (!hook?.watch) return [];
    const need: PermissionNeed = { group: hook.watch.group, resource: hook.watch.resource, verbs };
    const namespace = config?.namespace !== undefined ? literalNamespace : triggerNamespace;
    if (namespace) need.namespace = namespace;
    return [need];
  },

  async execute(config, ctx) {
    const kube = await kubeFromContext(ctx);
    const target = await resolveTarget(kube, config, ctx);
    const object = await waitForObject(ctx, kube, target, {
      for: config.for,
      ...(config.timeout ? { timeout: config.timeout } : {}),
    });
    const { info, namespace, name } = target;
    ctx.logger.info({ object: describeTarget(info, namespace, name) }, "wait finished");
    return { output: objectOutput(info, namespace, name, object) };
  },
};

/** The object given by apiVersion, kind and name, else the one that triggered the hook. */
async function resolveTarget(kube: KubeClient, config: WaitForConfig, ctx: StepContext): Promise<WaitTarget> {
  const trigger = (ctx.scope.object ?? undefined) as KubeObject | undefined;
  const ownIdentity = config.kind !== undefined;
  const apiVersion = ownIdentity ? config.apiVersion : trigger?.apiVersion;
  const kind = ownIdentity ? config.kind : trigger?.kind;
  if (!apiVersion || !kind) {
    throw new StepFailure("no apiVersion/kind given and the triggering object has none", { retryable: false });
  }
  // Another kind is never the triggering object: its name must be given.
  const triggerName = ownIdentity ? "" : (trigger?.metadata?.name ?? "");
  const name = config.name !== undefined ? renderText(ctx, config.name, "name") : triggerName;
  if (!name) throw new StepFailure("no name given and the triggering object has none", { retryable: false });
  let info: ResourceInfo;
  try {
    info = await kube.resolve(apiVersion, kind, ctx.signal);
  } catch (err) {
    throw kubeFailure(err, `looking up ${kind} in ${apiVersion}`, ctx.signal);
  }
  if (!info.namespaced) return { info, namespace: undefined, name };
  const namespace =
    config.namespace !== undefined ? renderText(ctx, config.namespace, "namespace") : trigger?.metadata?.namespace;
  return { info, namespace: namespace || kube.defaultNamespace(), name };
}
