// What one finished Argo CD sync operation did to the resources a hook names, decided from what
// the application controller really writes (fixtures recorded from Argo CD v3.6.1 in
// test/fixtures/argocd, see docs/argocd.md):
//
//  - kubectl's verdict in syncResult.resources[].message is the fast path: "created",
//    "configured" (also "configured. Warning: … last-applied-configuration …" for adopted
//    resources), "replaced" (Replace=true), "Kind/name updated" (Replace on CRDs/Namespaces),
//    "pruned" say the resource was written;
//  - that verdict is not enough: under ServerSideApply=true every entry says
//    "serverside-applied"; a retried operation keeps only the last attempt's result ("unchanged"
//    after the first attempt configured it); in multi-step syncs the message of earlier steps is
//    replaced by the resource's health message; kubectl says "configured" for empty patches;
//  - so the second source of evidence is Argo CD's own comparison (status.resources[].status):
//    a resource the comparison at the synced revision found OutOfSync was changed by the sync,
//    and one a comparison made before the operation started found Synced was not (whatever
//    kubectl said);
//  - and the third is the hook's memory: while the operation runs, the controller writes the
//    result so far (each wave's kubectl verdict before a later step replaces it with a health
//    message; a failed attempt of a retried operation, phase still Running with finishedAt and
//    retryCount set); what those writes said was written is remembered per operation and counts
//    when the operation finishes.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { isMap } from "../event.js";

export type SyncResourceResult = NonNullable<
  NonNullable<NonNullable<NonNullable<IApplication["status"]>["operationState"]>["syncResult"]>["resources"]
>[number];

/** kubectl's verdict (or Argo CD's) as the message says it; "other": a health message or anything else. */
export type ResourceChange =
  "created" | "configured" | "replaced" | "updated" | "pruned" | "unchanged" | "failed" | "applied" | "other";

const VERDICTS: Record<string, ResourceChange> = {
  created: "created",
  configured: "configured",
  replaced: "replaced",
  unchanged: "unchanged",
  pruned: "pruned",
  "serverside-applied": "applied",
};

/** True when a message is kubectl's output under `--dry-run` (Argo CD appends " (dry run)"). */
export function isDryRunMessage(message: string): boolean {
  return message.endsWith(" (dry run)");
}

/**
 * How a syncResult entry changed its resource, from its status and message:
 * "deployment.apps/frontend configured", "configmap/settings configured. Warning: resource
 * configmaps/settings is missing the kubectl.kubernetes.io/last-applied-configuration
 * annotation …", "deployment.apps/frontend replaced", "CustomResourceDefinition/x updated",
 * "… serverside-applied", "pruned", "… unchanged"; anything else (a health message that replaced
 * kubectl's in a multi-step sync) is "other".
 */
export function resourceChange(result: SyncResourceResult): ResourceChange {
  // SyncFailed: the apply failed; hookPhase Failed on a resource that is not a hook: it was
  // applied but did not become healthy before the next step (Degraded), and the operation fails
  if (result.status === "SyncFailed" || (!result.hookType && result.hookPhase === "Failed")) return "failed";
  const raw = typeof result.message === "string" ? result.message : "";
  if (result.status === "Pruned" || raw === "pruned") return "pruned";
  // kubectl's warnings follow its verdict after ". Warning: " (possibly several lines)
  const message = (isDryRunMessage(raw) ? raw.slice(0, -" (dry run)".length) : raw)
    .split(/\. Warning: |\nWarning: /)[0]!
    .trim();
  const m = /^\S+ (created|configured|replaced|unchanged|pruned|serverside-applied)$/.exec(message);
  if (m) return VERDICTS[m[1]!]!;
  // Argo CD's own update path (Replace=true on objects kubectl replace cannot take): "Kind/name updated"
  if (/^[A-Za-z0-9]+\/\S+ updated$/.test(message)) return "updated";
  return "other";
}

/** Verdicts that say the resource was written. */
const WRITTEN = new Set<ResourceChange>(["created", "configured", "replaced", "updated", "pruned"]);

export interface ChangeVerdict {
  change: ResourceChange;
  /** The sync really changed the resource (or, for "failed", failed to). */
  changed: boolean;
  /** Why, in words simulate and HookRuns show. */
  evidence: string;
}

export function resourceKey(r: { group?: string; kind?: string; namespace?: string; name?: string }): string {
  return `${r.group ?? ""}/${r.kind ?? ""}/${r.namespace ?? ""}/${r.name ?? ""}`;
}

/** Whether Argo CD's comparison is at the revision(s) the operation synced. */
export function sameRevisions(
  app: IApplication,
  opRevision: string | undefined,
  opRevisions: readonly string[] | undefined,
): boolean {
  const sync = app.status?.sync;
  if (!isMap(sync)) return false;
  if (opRevisions && opRevisions.length > 0)
    return Array.isArray(sync.revisions) && JSON.stringify(sync.revisions) === JSON.stringify(opRevisions);
  return typeof opRevision === "string" && opRevision !== "" && sync.revision === opRevision;
}

/** Argo CD's comparison of one object (status.resources), when it was made at the synced revision. */
function comparedStatus(
  app: IApplication | undefined,
  key: string,
  rev: string | undefined,
  revs: readonly string[] | undefined,
): string | undefined {
  if (!app || !sameRevisions(app, rev, revs)) return undefined;
  const resources = app.status?.resources;
  if (!Array.isArray(resources)) return undefined;
  for (const r of resources) {
    if (isMap(r) && resourceKey(r as never) === key && typeof r.status === "string") return r.status;
  }
  return undefined;
}

export interface Evidence {
  /** The Application with the finished operation, and the version before it (UPDATE events). */
  app: IApplication;
  old?: IApplication;
  startedAt: string;
  revision?: string;
  revisions?: string[];
  /**
   * Resource keys an earlier write of this operation's result said were written (a wave, a
   * failed attempt: the hook's memory).
   */
  earlierAttempts: ReadonlySet<string>;
}

/** Why an entry counts as unchanged when kubectl's word is no verdict (server-side apply, a health message). */
const UNCHANGED_EVIDENCE: Partial<Record<ResourceChange, string>> = {
  applied: "server-side applied, and no comparison found it OutOfSync",
  other: "no verdict in the message, and no comparison found it OutOfSync",
};

/** Whether the operation really changed one syncResult entry, and why. */
export function changeVerdict(result: SyncResourceResult, ev: Evidence): ChangeVerdict {
  const change = resourceChange(result);
  const key = resourceKey(result);
  if (change === "failed")
    return {
      change,
      changed: true,
      evidence: `${result.status === "SyncFailed" ? "sync failed" : "not healthy"}: ${String(result.message ?? "")}`,
    };
  const outOfSync = [ev.app, ev.old].some((a) => comparedStatus(a, key, ev.revision, ev.revisions) === "OutOfSync");
  // a comparison made before the operation started (reconciledAt has one-second precision:
  // strictly earlier) that found the object Synced: nothing to change, whatever kubectl said
  const preOpSynced = [ev.app, ev.old].some(
    (a) =>
      typeof a?.status?.reconciledAt === "string" &&
      a.status.reconciledAt < ev.startedAt &&
      comparedStatus(a, key, ev.revision, ev.revisions) === "Synced",
  );
  // (not for adopted resources: without the last-applied annotation the comparison misses what
  // kubectl then changes, recorded in replace-adopted)
  const adopted = typeof result.message === "string" && result.message.includes("last-applied-configuration");
  if (change === "configured" && preOpSynced && !outOfSync && !adopted) {
    return {
      change,
      changed: false,
      evidence: "kubectl said configured, but Argo CD's comparison before the sync found it Synced (an empty patch)",
    };
  }
  if (WRITTEN.has(change)) return { change, changed: true, evidence: `kubectl: ${change}` };
  if (ev.earlierAttempts.has(key))
    return {
      change,
      changed: true,
      evidence:
        "an earlier write of this operation's result said so " +
        `(a wave before, or a failed attempt; the final result says ${change})`,
    };
  if (outOfSync)
    return {
      change,
      changed: true,
      evidence:
        "Argo CD's comparison at the synced revision found it OutOfSync " +
        `(${change === "other" ? "message replaced by health" : change})`,
    };
  return { change, changed: false, evidence: UNCHANGED_EVIDENCE[change] ?? `kubectl: ${change}` };
}

/** The operation as requested: a dry run, and whether auto-sync started it to undo drift (self-heal). */
export function operationKind(state: Record<string, unknown>): {
  dryRun: boolean;
  selfHeal: boolean;
  resources?: Array<Record<string, unknown>>;
} {
  const opSync = isMap(state.operation) && isMap(state.operation.sync) ? state.operation.sync : {};
  const by = isMap(state.operation) && isMap(state.operation.initiatedBy) ? state.operation.initiatedBy : {};
  const sync = isMap(state.syncResult) ? state.syncResult : {};
  const results = Array.isArray(sync.resources) ? sync.resources : [];
  const dryRun =
    opSync.dryRun === true ||
    (results.length > 0 &&
      results.every((r) => isMap(r) && typeof r.message === "string" && isDryRunMessage(r.message)));
  // auto-sync's self-heal counts its attempts on the operation it writes: autoHealAttemptsCount
  // (recorded from v3.6.1), selfHealAttemptsCount in earlier releases
  const attempts = [opSync.autoHealAttemptsCount, opSync.selfHealAttemptsCount].find((n) => typeof n === "number");
  const selfHeal = by.automated === true && typeof attempts === "number" && attempts > 0;
  const resources = Array.isArray(opSync.resources)
    ? (opSync.resources.filter(isMap) as Array<Record<string, unknown>>)
    : undefined;
  return { dryRun, selfHeal, ...(resources && resources.length > 0 ? { resources } : {}) };
}
