// `healthy: true` on an Argo CD hook: before the steps, wait until the Application reports
// Healthy for the revision(s) the finished operation synced, within the given time.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { Logger } from "pino";
import type { ArgoCDOperation } from "./index.js";

const POLL_MS = 2_000;

/** True when the Application is Healthy and its sync status is at the operation's revision(s). */
export function healthyAtRevision(app: IApplication, operation: ArgoCDOperation): boolean {
  if (app.status?.health?.status !== "Healthy") return false;
  const sync = app.status.sync;
  if (operation.revisions?.length) return JSON.stringify(sync?.revisions ?? []) === JSON.stringify(operation.revisions);
  if (operation.revision) return sync?.revision === operation.revision;
  return true;
}

export async function waitForApplicationHealthy(
  kubeConfig: KubeConfig | undefined,
  app: IApplication,
  operation: ArgoCDOperation,
  opts: { signal: AbortSignal; logger: Logger; timeoutMs: number },
): Promise<void> {
  if (healthyAtRevision(app, operation)) return;
  if (!kubeConfig) throw new Error("healthy: true needs Kubernetes access to read the Application, and the runner has none");
  // Loaded only here: validate, generate and simulate never need the client.
  const { CustomObjectsApi } = await import("@kubernetes/client-node");
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const name = app.metadata?.name ?? "";
  const namespace = app.metadata?.namespace ?? "";
  const deadline = Date.now() + opts.timeoutMs;
  let last = app.status?.health?.status ?? "unknown";
  const aborted = () => new Error(`stopped waiting for Application ${namespace}/${name} to be Healthy: ${String(opts.signal.reason ?? "aborted")}`);
  while (Date.now() < deadline) {
    if (opts.signal.aborted) throw aborted();
    try {
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), undefined, { signal: opts.signal });
    } catch {
      throw aborted();
    }
    const current = (await api.getNamespacedCustomObject({ group: "argoproj.io", version: "v1alpha1", namespace, plural: "applications", name })) as IApplication;
    last = current.status?.health?.status ?? "unknown";
    if (healthyAtRevision(current, operation)) {
      opts.logger.info({ application: name }, "Application is Healthy");
      return;
    }
  }
  throw new Error(`Application ${namespace}/${name} was not Healthy at revision ${operation.revisions?.join(",") ?? operation.revision ?? "?"} within ${opts.timeoutMs}ms (last health: ${last})`);
}
