// kubernetes: apply, create, patch or delete any object, optionally waiting for it afterwards.
//
//   apply   server-side apply (field manager resource-hooks, force) — creates or updates
//   create  POST; metadata.generateName without a name becomes generateName + a hash of the
//           event's idempotency key, and the object carries the annotation
//           resource-hooks.io/idempotency-key, so a redelivered event finds "its" object
//           (AlreadyExists with our key counts as success) and the object is created once
//   patch   merge patch (RFC 7386), JSON patch (RFC 6902) or strategic merge patch, named explicitly
//   delete  404 counts as success; propagationPolicy Background by default
import { shortHash } from "../../secrets/hash.js";
import { KubeApiError, type KubeObject, type ObjectMeta, type PatchType } from "../../k8s/types.js";
import { isKnownClusterScoped, kindToResource, splitApiVersion } from "../../k8s/kinds.js";
import {
  FIELD_MANAGER,
  IDEMPOTENCY_ANNOTATION,
  describeTarget,
  kubeFailure,
  kubeFromContext,
  objectOutput,
} from "../common/kube.js";
import { containsTemplate, renderValueAt } from "../common/render.js";
import { apiVersionSchema, kindSchema, templated } from "../common/schema.js";
import { WAIT_VERBS, waitForObject, type WaitOptions } from "../common/wait-object.js";
import { checkWait, waitConditionSchema, waitTimeoutSchema } from "../common/wait.js";
import { StepFailure, type JsonSchema, type PermissionNeed, type StepProblem, type StepType } from "../types.js";

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

/** Hash suffix length of deterministic names (hex characters). */
const NAME_HASH_LENGTH = 10;
/** Names stay within 63 characters (label-value sized, as Job and Pod names need). */
const MAX_GENERATED_NAME = 63;

/** generateName + a short hash of the idempotency key: stable across redeliveries of the event. */
export function deterministicName(generateName: string, idempotencyKey: string): string {
  const hash = shortHash(idempotencyKey, NAME_HASH_LENGTH);
  return `${generateName.slice(0, MAX_GENERATED_NAME - NAME_HASH_LENGTH)}${hash}`;
}

const metadataSchema: JsonSchema = {
  type: "object",
  description: "Object metadata. namespace: default is the runner's namespace for namespaced kinds.",
  additionalProperties: true,
  properties: {
    name: templated("Object name (required for apply, patch and delete)."),
    generateName: templated(
      "create only: name prefix; the name becomes the prefix plus a hash of the event's idempotency key, so redeliveries create the object once.",
    ),
    namespace: templated("Namespace (namespaced kinds). A template means the runner needs access in every namespace."),
    labels: { type: "object", additionalProperties: { type: "string" }, description: "Labels (values templated)." },
    annotations: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "Annotations (values templated).",
    },
  },
};

const jsonPatchOperationSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["op", "path"],
  properties: {
    op: {
      type: "string",
      enum: ["add", "remove", "replace", "move", "copy", "test"],
      description: "RFC 6902 operation.",
    },
    path: {
      type: "string",
      description: "JSON pointer, e.g. /spec/replicas or /metadata/annotations/example.com~1key.",
    },
    value: { description: "Value for add, replace and test (templated)." },
    from: { type: "string", description: "Source JSON pointer for move and copy." },
  },
};

export const kubernetesStep: StepType<KubernetesConfig> = {
  type: "kubernetes",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["action", "manifest"],
    description: "Apply, create, patch or delete a Kubernetes object, and optionally wait for it.",
    properties: {
      action: {
        type: "string",
        enum: ["apply", "create", "patch", "delete"],
        description:
          "apply: server-side apply (field manager resource-hooks, force). create: create once per event (generateName gets a deterministic suffix). patch: apply `patch` to an existing object. delete: delete (already gone is success).",
      },
      manifest: {
        type: "object",
        additionalProperties: true,
        required: ["apiVersion", "kind", "metadata"],
        description:
          "The object (apply, create), or apiVersion, kind and metadata naming it (patch, delete). String values are templated except apiVersion and kind.",
        properties: { apiVersion: apiVersionSchema, kind: kindSchema, metadata: metadataSchema },
      },
      patch: {
        description:
          "action: patch only. Exactly one of merge (RFC 7386 JSON merge patch), json (RFC 6902 JSON patch) or strategic (Kubernetes strategic merge patch, built-in kinds only).",
        oneOf: [
          {
            type: "object",
            additionalProperties: false,
            required: ["merge"],
            properties: {
              merge: {
                type: "object",
                description: "JSON merge patch (application/merge-patch+json); null deletes a field. Templated.",
              },
            },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["json"],
            properties: {
              json: {
                type: "array",
                minItems: 1,
                items: jsonPatchOperationSchema,
                description: "JSON patch operations (application/json-patch+json). Templated.",
              },
            },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["strategic"],
            properties: {
              strategic: {
                type: "object",
                description: "Strategic merge patch (application/strategic-merge-patch+json). Templated.",
              },
            },
          },
        ],
      },
      propagationPolicy: {
        type: "string",
        enum: ["Background", "Foreground", "Orphan"],
        description: "action: delete only. How dependents are deleted (default Background, so a Job's Pods go too).",
      },
      wait: {
        type: "object",
        additionalProperties: false,
        required: ["for"],
        description: "Wait for the object after the action (for delete: only `deleted`).",
        properties: { for: waitConditionSchema, timeout: waitTimeoutSchema },
      },
    },
  },

  check(config) {
    const problems: StepProblem[] = [];
    const manifest = (config?.manifest ?? {}) as Partial<Manifest>;
    for (const field of ["apiVersion", "kind"] as const) {
      if (containsTemplate(manifest[field]))
        problems.push({ path: ["manifest", field], message: `${field} must be literal, not a template` });
    }
    const meta = (manifest.metadata ?? {}) as ObjectMeta;
    const action = config?.action;
    if (action === "create") {
      if (!meta.name && !meta.generateName)
        problems.push({
          path: ["manifest", "metadata"],
          message: "create needs metadata.name or metadata.generateName",
        });
    } else if (action && !meta.name) {
      problems.push({
        path: ["manifest", "metadata", "name"],
        message: meta.generateName
          ? `generateName only works with action create; ${action} needs metadata.name`
          : `${action} needs metadata.name`,
      });
    }
    if (action === "patch" && config.patch === undefined)
      problems.push({ path: ["patch"], message: "action patch needs `patch` (merge, json or strategic)" });
    if (action !== "patch" && config?.patch !== undefined)
      problems.push({ path: ["patch"], message: "`patch` is only used with action patch" });
    if (action !== "delete" && config?.propagationPolicy !== undefined) {
      problems.push({ path: ["propagationPolicy"], message: "propagationPolicy is only used with action delete" });
    }
    if (config?.wait) {
      if (action === "delete" && config.wait.for !== "deleted")
        problems.push({ path: ["wait", "for"], message: "after delete the only thing to wait for is `deleted`" });
      problems.push(
        ...checkWait(config.wait.for, typeof manifest.kind === "string" ? manifest.kind : undefined, ["wait", "for"]),
      );
    }
    return problems;
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
    const { apiVersion, kind } = config.manifest;
    const rendered = renderValueAt(ctx, config.manifest, "manifest");
    if (!rendered || typeof rendered !== "object" || Array.isArray(rendered)) {
      throw new StepFailure("manifest: the template gave no object", { retryable: false });
    }
    let info;
    try {
      info = await kube.resolve(apiVersion, kind, ctx.signal);
    } catch (err) {
      throw kubeFailure(err, `looking up ${kind} in ${apiVersion}`, ctx.signal);
    }
    const meta: ObjectMeta = { ...(rendered.metadata ?? {}) };
    const namespace = info.namespaced
      ? stringOr(meta.namespace, "metadata.namespace") || kube.defaultNamespace()
      : undefined;
    if (namespace) meta.namespace = namespace;
    else delete meta.namespace;
    let name = stringOr(meta.name, "metadata.name");
    const body: KubeObject = { ...rendered, apiVersion, kind, metadata: meta };
    const action = config.action;
    let result: KubeObject | undefined;

    if (action === "create") {
      const generateName = stringOr(meta.generateName, "metadata.generateName");
      if (!name) {
        if (!generateName)
          throw new StepFailure("create needs metadata.name or metadata.generateName", { retryable: false });
        name = deterministicName(generateName, ctx.idempotencyKey);
      }
      meta.name = name;
      delete meta.generateName;
      meta.annotations = { ...(meta.annotations ?? {}), [IDEMPOTENCY_ANNOTATION]: ctx.idempotencyKey };
      const what = `create ${describeTarget(info, namespace, name)}`;
      try {
        result = await kube.create(info, namespace, body, FIELD_MANAGER, ctx.signal);
        ctx.logger.info({ object: describeTarget(info, namespace, name) }, "created");
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists"))
          throw kubeFailure(err, what, ctx.signal);
        let existing: KubeObject;
        try {
          existing = await kube.get(info, namespace, name, ctx.signal);
        } catch (getErr) {
          // Deleted between our create and get: retrying creates it.
          if (getErr instanceof KubeApiError && getErr.status === 404)
            throw new StepFailure(`${what}: it existed and then vanished`, { retryable: true });
          throw kubeFailure(getErr, what, ctx.signal);
        }
        if (existing.metadata?.annotations?.[IDEMPOTENCY_ANNOTATION] !== ctx.idempotencyKey) {
          throw new StepFailure(`${what}: it already exists and was not created for this event`, { retryable: false });
        }
        ctx.logger.info({ object: describeTarget(info, namespace, name) }, "already created for this event");
        result = existing;
      }
    } else {
      if (!name) throw new StepFailure(`${action} needs metadata.name`, { retryable: false });
      const what = `${action} ${describeTarget(info, namespace, name)}`;
      try {
        if (action === "apply") {
          result = await kube.apply(
            info,
            namespace,
            name,
            body,
            { fieldManager: FIELD_MANAGER, force: true },
            ctx.signal,
          );
        } else if (action === "patch") {
          if (!config.patch) throw new StepFailure("action patch needs `patch`", { retryable: false });
          const [type, patch] = patchOf(config.patch);
          result = await kube.patch(
            info,
            namespace,
            name,
            type,
            renderValueAt(ctx, patch, `patch.${type}`),
            FIELD_MANAGER,
            ctx.signal,
          );
        } else if (action === "delete") {
          try {
            const answer = await kube.delete(
              info,
              namespace,
              name,
              config.propagationPolicy ?? "Background",
              ctx.signal,
            );
            result = answer.kind === "Status" ? statusAsObject(answer, name, namespace) : answer;
          } catch (err) {
            if (!(err instanceof KubeApiError && err.status === 404)) throw err;
            ctx.logger.info({ object: describeTarget(info, namespace, name) }, "already deleted");
          }
        } else {
          throw new StepFailure(`unknown action ${String(action)}`, { retryable: false });
        }
      } catch (err) {
        throw kubeFailure(err, what, ctx.signal);
      }
      ctx.logger.info({ object: describeTarget(info, namespace, name), action }, "done");
    }

    if (config.wait) {
      const waited = await waitForObject(ctx, kube, { info, namespace, name }, config.wait);
      if (waited) result = waited;
    }
    return { output: objectOutput(info, namespace, name, result) };
  },
};

function patchOf(patch: KubernetesPatch): [PatchType, unknown] {
  if ("merge" in patch) return ["merge", patch.merge];
  if ("json" in patch) return ["json", patch.json];
  return ["strategic", patch.strategic];
}

function stringOr(value: unknown, field: string): string {
  if (value === undefined || value === null || value === "") return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new StepFailure(`manifest.${field}: expected a string`, { retryable: false });
}

/** A delete answered with a Status (object gone at once): keep its uid for the output. */
function statusAsObject(status: KubeObject, name: string, namespace: string | undefined): KubeObject {
  const uid = (status.details as { uid?: string } | undefined)?.uid;
  return { metadata: { name, ...(namespace ? { namespace } : {}), ...(uid ? { uid } : {}) } };
}
