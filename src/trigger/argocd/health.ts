// `healthy: true` on an Argo CD hook: before the steps, wait until the Application reports
// Healthy from a health assessment made after the operation finished, within the given time.
//
// Not a revision match: after a rollback or `argocd app sync --revision`, or when a commit lands
// before the next refresh, status.sync.revision is not the synced revision and never becomes it.
// What the recorded controller writes shows the order instead: the finished operation is written
// with the health of before (Healthy, stale), then health Progressing while the rollout runs
// (partial updates keep the old status.reconciledAt), and a full reconciliation afterwards sets
// status.reconciledAt ≥ finishedAt with the health of the new state.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { Logger } from "pino";
import { RestClient } from "../../k8s/rest.js";
import { sameRevisions } from "./model.js";
import type { ArgoCDOperation } from "./operation.js";

const POLL_MS = 2_000;

/**
 * True when the Application's health was assessed after the operation finished
 * (status.reconciledAt ≥ finishedAt; both have one-second precision) and is Healthy; when the
 * comparison is at the synced revision(s), it must also say Synced (a Healthy but OutOfSync
 * Application at the same revision did not get everything the operation applied).
 */
export function healthyAfterOperation(app: IApplication, operation: ArgoCDOperation): boolean {
  const status = app.status;
  if (status?.health?.status !== "Healthy") return false;
  const finishedAt = operation.finishedAt;
  const reconciledAt = status.reconciledAt;
  if (typeof finishedAt !== "string" || typeof reconciledAt !== "string") return false;
  if (Date.parse(reconciledAt) < Date.parse(finishedAt)) return false;
  if (sameRevisions(app, operation.revision, operation.revisions) && status.sync?.status !== "Synced") return false;
  return true;
}

/** Waits one poll interval (never past the deadline), then reads the Application; `aborted` says why it stopped. */
async function pollOnce(
  rest: RestClient,
  path: string,
  deadline: number,
  signal: AbortSignal,
  aborted: () => Error,
): Promise<IApplication> {
  try {
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), undefined, { signal });
  } catch {
    throw aborted();
  }
  try {
    return await rest.request<IApplication>("GET", path, {
      signal,
      timeoutMs: Math.max(1_000, Math.min(30_000, deadline - Date.now())),
    });
  } catch (err) {
    if (signal.aborted) throw aborted();
    throw err;
  }
}

export async function waitForApplicationHealthy(
  kubeConfig: KubeConfig | undefined,
  app: IApplication,
  operation: ArgoCDOperation,
  opts: { signal: AbortSignal; logger: Logger; timeoutMs: number },
): Promise<void> {
  if (healthyAfterOperation(app, operation)) return;
  if (!kubeConfig)
    throw new Error("healthy: true needs Kubernetes access to read the Application, and the runner has none");
  const rest = new RestClient(kubeConfig);
  const name = app.metadata?.name ?? "";
  const namespace = app.metadata?.namespace ?? "";
  const path =
    `/apis/argoproj.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}` +
    `/applications/${encodeURIComponent(name)}`;
  const deadline = Date.now() + opts.timeoutMs;
  let last = app.status?.health?.status ?? "unknown";
  const aborted = () =>
    new Error(
      `stopped waiting for Application ${namespace}/${name} to be Healthy: ${String(opts.signal.reason ?? "aborted")}`,
    );
  while (Date.now() < deadline) {
    if (opts.signal.aborted) throw aborted();
    const current = await pollOnce(rest, path, deadline, opts.signal, aborted);
    last = `${current.status?.health?.status ?? "unknown"}, reconciled at ${current.status?.reconciledAt ?? "?"}`;
    if (healthyAfterOperation(current, operation)) {
      opts.logger.info({ application: name }, "Application is Healthy");
      return;
    }
  }
  throw new Error(
    `Application ${namespace}/${name} was not Healthy after the operation that finished at ` +
      `${operation.finishedAt ?? "?"} within ${opts.timeoutMs}ms (last health: ${last})`,
  );
}
