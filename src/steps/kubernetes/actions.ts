// The kubernetes step's actions, one handler each, on a target resolved once: the rendered
// manifest, where its kind is served, its namespace and its name.
import { shortHash } from "../../model/hash.js";
import type { KubeClient } from "../../k8s/client.js";
import { KubeApiError, type KubeObject, type ObjectMeta, type PatchType, type ResourceInfo } from "../../k8s/types.js";
import { FIELD_MANAGER, IDEMPOTENCY_ANNOTATION, describeTarget, kubeFailure } from "../common/kube.js";
import { renderValueAt } from "../common/render.js";
import { StepFailure, type StepContext } from "../types.js";
import type { KubernetesAction, KubernetesConfig, KubernetesPatch } from "./index.js";

/** Hash suffix length of deterministic names (hex characters). */
const NAME_HASH_LENGTH = 10;
/** Names stay within 63 characters (label-value sized, as Job and Pod names need). */
const MAX_GENERATED_NAME = 63;

/** generateName + a short hash of the idempotency key: stable across redeliveries of the event. */
export function deterministicName(generateName: string, idempotencyKey: string): string {
  const hash = shortHash(idempotencyKey, NAME_HASH_LENGTH);
  return `${generateName.slice(0, MAX_GENERATED_NAME - NAME_HASH_LENGTH)}${hash}`;
}

export interface Target {
  kube: KubeClient;
  info: ResourceInfo;
  namespace: string | undefined;
  name: string;
  /** The rendered manifest with the literal apiVersion and kind, and the namespace resolved. */
  body: KubeObject & { metadata: ObjectMeta };
}

/** Renders the manifest and finds where its kind is served, its namespace and its name. */
export async function resolveTarget(kube: KubeClient, config: KubernetesConfig, ctx: StepContext): Promise<Target> {
  const { apiVersion, kind } = config.manifest;
  const rendered = renderValueAt(ctx, config.manifest, "manifest");
  if (!rendered || typeof rendered !== "object" || Array.isArray(rendered)) {
    throw new StepFailure("manifest: the template gave no object", { retryable: false });
  }
  let info: ResourceInfo;
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
  const name = objectName(config.action, meta, ctx.idempotencyKey);
  return { kube, info, namespace, name, body: { ...rendered, apiVersion, kind, metadata: meta } };
}

/** metadata.name; for create without one, generateName plus a hash of the event's idempotency key. */
function objectName(action: KubernetesAction, meta: ObjectMeta, idempotencyKey: string): string {
  const name = stringOr(meta.name, "metadata.name");
  if (action !== "create") {
    if (!name) throw new StepFailure(`${action} needs metadata.name`, { retryable: false });
    return name;
  }
  const generateName = stringOr(meta.generateName, "metadata.generateName");
  if (name) return name;
  if (!generateName) throw new StepFailure("create needs metadata.name or metadata.generateName", { retryable: false });
  return deterministicName(generateName, idempotencyKey);
}

/** Runs the action; returns the object as the API server answered (undefined: it was already gone). */
export async function runAction(
  target: Target,
  config: KubernetesConfig,
  ctx: StepContext,
): Promise<KubeObject | undefined> {
  if (config.action === "create") return await createOnce(target, ctx);
  const { action } = config;
  const object = describeTarget(target.info, target.namespace, target.name);
  let result: KubeObject | undefined;
  try {
    if (!Object.hasOwn(CHANGES, action))
      throw new StepFailure(`unknown action ${String(action)}`, { retryable: false });
    result = await CHANGES[action](target, config, ctx);
  } catch (err) {
    throw kubeFailure(err, `${action} ${object}`, ctx.signal);
  }
  ctx.logger.info({ object, action }, "done");
  return result;
}

type Change = (target: Target, config: KubernetesConfig, ctx: StepContext) => Promise<KubeObject | undefined>;

/** The actions on an object that has a name: any failure is the API server's answer. */
const CHANGES: Record<Exclude<KubernetesAction, "create">, Change> = {
  async apply({ kube, info, namespace, name, body }, _config, ctx) {
    return await kube.apply(info, namespace, name, body, {
      fieldManager: FIELD_MANAGER,
      force: true,
      signal: ctx.signal,
    });
  },

  async patch({ kube, info, namespace, name }, config, ctx) {
    if (!config.patch) throw new StepFailure("action patch needs `patch`", { retryable: false });
    const [type, patch] = patchOf(config.patch);
    const body = renderValueAt(ctx, patch, `patch.${type}`);
    return await kube.patch(info, namespace, name, { type, body }, { fieldManager: FIELD_MANAGER, signal: ctx.signal });
  },

  async delete({ kube, info, namespace, name }, config, ctx) {
    try {
      const answer = await kube.delete(info, namespace, name, config.propagationPolicy ?? "Background", ctx.signal);
      return answer.kind === "Status" ? statusAsObject(answer, name, namespace) : answer;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      ctx.logger.info({ object: describeTarget(info, namespace, name) }, "already deleted");
      return undefined;
    }
  },
};

/**
 * Creates the object once per event: it carries the event's idempotency key, so a redelivery that
 * finds it (AlreadyExists) takes it as its own; one made for another event is a failure.
 */
async function createOnce(target: Target, ctx: StepContext): Promise<KubeObject> {
  const { kube, info, namespace, name, body } = target;
  const meta = body.metadata;
  meta.name = name;
  delete meta.generateName;
  meta.annotations = { ...(meta.annotations ?? {}), [IDEMPOTENCY_ANNOTATION]: ctx.idempotencyKey };
  const object = describeTarget(info, namespace, name);
  const what = `create ${object}`;
  try {
    const created = await kube.create(info, namespace, body, FIELD_MANAGER, ctx.signal);
    ctx.logger.info({ object }, "created");
    return created;
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists"))
      throw kubeFailure(err, what, ctx.signal);
  }
  let existing: KubeObject;
  try {
    existing = await kube.get(info, namespace, name, ctx.signal);
  } catch (err) {
    // Deleted between our create and get: retrying creates it.
    if (err instanceof KubeApiError && err.status === 404)
      throw new StepFailure(`${what}: it existed and then vanished`, { retryable: true });
    throw kubeFailure(err, what, ctx.signal);
  }
  if (existing.metadata?.annotations?.[IDEMPOTENCY_ANNOTATION] !== ctx.idempotencyKey) {
    throw new StepFailure(`${what}: it already exists and was not created for this event`, { retryable: false });
  }
  ctx.logger.info({ object }, "already created for this event");
  return existing;
}

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
