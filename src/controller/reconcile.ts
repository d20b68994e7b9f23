// One reconcile of one HookSet, level-based and idempotent: it reads the HookSet as it is now and
// makes the cluster match, whatever happened before (a missed event, a restart, a failed apply).
//   1. parse with the checks `validate` makes: problems -> Accepted=False (InvalidSpec), and nothing
//      new is applied: the objects of the last accepted spec keep running, as Flux and Argo CD keep
//      the last good state when a new revision does not build;
//   2. SubjectAccessReview: the HookSet's ServiceAccount may get, list and watch what it watches,
//      else Ready=False (Forbidden) and nothing applied: the controller never grants a tenant more;
//   3. create the token Secret once, server-side apply the EventSource and Sensor (all owned by the
//      HookSet), then delete its EventSources and Sensors that the spec no longer names;
//   4. Ready from the objects' Argo Events status and the namespace's EventBus.
// Deletion needs nothing: the garbage collector deletes what the HookSet owns.
import type { Logger } from "pino";
import { HookSetResourceError, parseHookSetResource } from "../hookset/resource.js";
import { KubeApiError, type KubeObject } from "../k8s/types.js";
import { LABEL_HOOKSET, LABEL_MANAGED_BY, MANAGER } from "../model/constants.js";
import { PATHS, type ControllerApi } from "./api.js";
import { readConditions, setConditions, type ConditionUpdate } from "./conditions.js";
import { desiredObjects, watchPermissions, type Desired, type WatchPermission } from "./desired.js";
import type { HandlerResult } from "./queue.js";
import { argoReadiness } from "./readiness.js";

export interface ReconcileContext {
  api: ControllerApi;
  runnerUrl: string;
  /** The installation's credential key (never logged). */
  key: Uint8Array;
  log: Logger;
  now?: () => Date;
}

/** How soon a Forbidden HookSet asks again whether its ServiceAccount may watch what it watches. */
export const FORBIDDEN_RECHECK_MS = 60_000;

const accepted = (hooks: number, watches: number): ConditionUpdate => ({
  type: "Accepted",
  status: "True",
  reason: "Valid",
  message: `${hooks} hook(s), ${watches} watch(es)`,
});

export async function reconcile(ctx: ReconcileContext, namespace: string, name: string): Promise<HandlerResult> {
  const object = await ctx.api.getHookSet(namespace, name);
  if (!object || object.metadata?.deletionTimestamp) return {};
  const uid = object.metadata?.uid ?? "";
  let desired: Desired;
  try {
    desired = desiredObjects(parseHookSetResource(object), { namespace, name, uid }, ctx);
  } catch (err) {
    if (!(err instanceof HookSetResourceError)) throw err;
    ctx.log.info({ hookset: `${namespace}/${name}`, problems: err.problems.length }, "spec not accepted");
    await writeStatus(ctx, object, {}, [
      { type: "Accepted", status: "False", reason: "InvalidSpec", message: err.message },
      {
        type: "Ready",
        status: "False",
        reason: "InvalidSpec",
        message: "the spec is not accepted (see Accepted); the objects of its last accepted spec, if any, are kept",
      },
    ]);
    return {};
  }
  const counts = { hooks: desired.hookSet.hooks.length, watches: desired.watches.size };
  const denied = await deniedPermissions(ctx.api, { namespace, name: desired.serviceAccountName }, desired);
  if (denied.length > 0) {
    await writeStatus(ctx, object, counts, [
      accepted(counts.hooks, counts.watches),
      { type: "Ready", status: "False", reason: "Forbidden", message: forbiddenMessage(namespace, desired, denied) },
    ]);
    // RBAC is not watched: a grant made after this is seen at the next look.
    return { requeueAfterMs: FORBIDDEN_RECHECK_MS };
  }
  let applied: { eventSource: KubeObject; sensor: KubeObject };
  try {
    await ctx.api.createUnlessExists(desired.secret);
    applied = { eventSource: await ctx.api.apply(desired.eventSource), sensor: await ctx.api.apply(desired.sensor) };
    await prune(ctx.api, namespace, name, uid, desired);
  } catch (err) {
    // A refusal (422 of an object the CRD does not take, 403) is said where users look; any failure is retried.
    if (
      err instanceof KubeApiError &&
      err.status >= 400 &&
      err.status < 500 &&
      err.status !== 409 &&
      err.status !== 429
    )
      await writeStatus(ctx, object, counts, [
        accepted(counts.hooks, counts.watches),
        { type: "Ready", status: "False", reason: "ApplyFailed", message: err.message },
      ]);
    throw err;
  }
  const busName = desired.hookSet.eventBusName;
  const bus = await ctx.api.eventBusExists(namespace, busName);
  const readyCondition = readiness(namespace, desired, applied, bus);
  await writeStatus(ctx, object, counts, [accepted(counts.hooks, counts.watches), readyCondition]);
  return {};
}

function readiness(
  namespace: string,
  desired: Desired,
  applied: { eventSource: KubeObject; sensor: KubeObject },
  bus: boolean,
): ConditionUpdate {
  const busName = desired.hookSet.eventBusName;
  if (!bus)
    return {
      type: "Ready",
      status: "False",
      reason: "EventBusMissing",
      message:
        `no EventBus "${busName}" in namespace ${namespace}: Argo Events runs an EventSource and a Sensor only ` +
        `with an EventBus in their namespace; create one (kind: EventBus, name: ${busName}, e.g. spec.jetstream) ` +
        `or set spec.eventBusName`,
    };
  const notReady = [argoReadiness(applied.eventSource), argoReadiness(applied.sensor)].find((r) => !r.ready);
  if (notReady && !notReady.ready)
    return { type: "Ready", status: "False", reason: notReady.reason, message: notReady.message };
  const at = (o: KubeObject): string => `${namespace}/${o.metadata?.name}`;
  const message = `EventSource ${at(desired.eventSource)} and Sensor ${at(desired.sensor)} applied`;
  return { type: "Ready", status: "True", reason: "Applied", message };
}

async function deniedPermissions(
  api: ControllerApi,
  serviceAccount: { namespace: string; name: string },
  desired: Desired,
): Promise<WatchPermission[]> {
  const wanted = watchPermissions(desired.watches);
  const allowed = await Promise.all(wanted.map((p) => api.serviceAccountMay(serviceAccount, p)));
  return wanted.filter((_, i) => !allowed[i]);
}

/** "serviceaccount team-a/hooks cannot get, list, watch configmaps in team-b; …" */
export function forbiddenMessage(
  namespace: string,
  desired: Pick<Desired, "serviceAccountName">,
  denied: WatchPermission[],
): string {
  const byTarget = new Map<string, string[]>();
  for (const p of denied) {
    const resource = p.group ? `${p.resource}.${p.group}` : p.resource;
    const target = `${resource} ${p.namespace ? `in ${p.namespace}` : "in all namespaces"}`;
    byTarget.set(target, [...(byTarget.get(target) ?? []), p.verb]);
  }
  const parts = [...byTarget].map(([target, verbs]) => `cannot ${verbs.join(", ")} ${target}`);
  return (
    `serviceaccount ${namespace}/${desired.serviceAccountName} ${parts.join("; ")}: ` +
    "grant it those rights (a Role or ClusterRole bound to it), or name another in spec.serviceAccountName"
  );
}

/** Deletes this HookSet's EventSources and Sensors that the desired state no longer names. */
async function prune(
  api: ControllerApi,
  namespace: string,
  name: string,
  uid: string,
  desired: Desired,
): Promise<void> {
  const selector = `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_HOOKSET}=${name}`;
  const kinds: Array<[string, string]> = [
    [PATHS.eventSources(namespace), String(desired.eventSource.metadata?.name)],
    [PATHS.sensors(namespace), String(desired.sensor.metadata?.name)],
  ];
  for (const [collection, keep] of kinds) {
    for (const existing of await api.list(collection, selector)) {
      const owners = (existing.metadata?.ownerReferences ?? []) as Array<{ uid?: string }>;
      if (existing.metadata?.name !== keep && owners.some((o) => o.uid === uid))
        await api.deleteObject(collection, existing);
    }
  }
}

async function writeStatus(
  ctx: ReconcileContext,
  object: KubeObject,
  counts: { hooks?: number; watches?: number },
  updates: ConditionUpdate[],
): Promise<void> {
  const generation = object.metadata?.generation ?? 0;
  const current = (object.status ?? {}) as Record<string, unknown>;
  const conditions = setConditions(readConditions(current), updates, generation, (ctx.now ?? (() => new Date()))());
  const next = { observedGeneration: generation, ...counts, conditions };
  const unchanged =
    current.observedGeneration === generation &&
    // Counts left out (a spec not accepted) keep what the status says.
    (counts.hooks === undefined || current.hooks === counts.hooks) &&
    (counts.watches === undefined || current.watches === counts.watches) &&
    canonical(current.conditions) === canonical(conditions);
  if (unchanged) return;
  await ctx.api.patchHookSetStatus(object.metadata?.namespace ?? "", object.metadata?.name ?? "", next);
  ctx.log.info(
    {
      hookset: `${object.metadata?.namespace}/${object.metadata?.name}`,
      generation,
      ...Object.fromEntries(conditions.map((c) => [c.type, `${c.status} (${c.reason})`])),
    },
    "status written",
  );
}

/** JSON with sorted keys: the API server gives a custom resource's fields back in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
