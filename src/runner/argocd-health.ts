// `healthy: true` on an Argo CD hook: before the steps, wait until the Application reports
// Healthy for the revision(s) the finished operation synced, within the hook's health budget.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { Logger } from "pino";
import { stepBudgetMs } from "../spec/budget.js";
import type { Hook } from "../spec/types.js";
import type { ArgoCDOperation } from "../trigger/argocd.js";

const POLL_MS = 2_000;

/** True when the Application is Healthy and its sync status is at the operation's revision(s). */
export function healthyAtRevision(app: IApplication, operation: ArgoCDOperation): boolean {
  if (app.status?.health?.status !== "Healthy") return false;
  const sync = app.status.sync;
  if (operation.revisions?.length) return JSON.stringify(sync?.revisions ?? []) === JSON.stringify(operation.revisions);
  if (operation.revision) return sync?.revision === operation.revision;
  return true;
}

/** The part of the hook's timeout left for waiting once its steps' worst case is set aside. */
export function healthBudgetMs(hook: Hook): number {
  return Math.max(0, hook.timeoutMs - hook.steps.reduce((sum, step) => sum + stepBudgetMs(step), 0));
}

export async function waitForApplicationHealthy(
  kubeConfig: KubeConfig | undefined,
  app: IApplication,
  operation: ArgoCDOperation,
  hook: Hook,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  if (healthyAtRevision(app, operation)) return;
  if (!kubeConfig) throw new Error("healthy: true needs Kubernetes access to read the Application, and the runner has none");
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const name = app.metadata?.name ?? "";
  const namespace = app.metadata?.namespace ?? "";
  const budget = healthBudgetMs(hook);
  const deadline = Date.now() + budget;
  let last = app.status?.health?.status ?? "unknown";
  while (Date.now() < deadline) {
    if (signal.aborted) throw new Error("the runner is shutting down");
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    const current = (await api.getNamespacedCustomObject({ group: "argoproj.io", version: "v1alpha1", namespace, plural: "applications", name })) as IApplication;
    last = current.status?.health?.status ?? "unknown";
    if (healthyAtRevision(current, operation)) {
      logger.info({ application: name }, "Application is Healthy");
      return;
    }
  }
  throw new Error(`Application ${namespace}/${name} was not Healthy at revision ${operation.revisions?.join(",") ?? operation.revision ?? "?"} within ${budget}ms (last health: ${last})`);
}
