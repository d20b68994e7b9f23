// HookSucceeded / HookFailed as Kubernetes Events on the object that triggered the hook, so
// `kubectl describe` and the Argo CD UI show what ran. Best effort: a failure to record an Event
// is logged and never fails the run.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { KubeObject } from "../trigger/event.js";
import type { RunReport } from "./execute.js";

export class KubeEventRecorder {
  private readonly api: CoreV1Api;
  private pending = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly maxPending = 100,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  record(object: KubeObject | undefined, run: RunReport): Promise<void> {
    if (run.status !== "succeeded" && run.status !== "failed") return Promise.resolve();
    const meta = object?.metadata;
    if (!object || !meta?.name || !object.kind || !object.apiVersion) return Promise.resolve();
    if (this.pending >= this.maxPending) {
      this.logger.warn({ hook: run.hook, runId: run.runId }, "too many Kubernetes Events pending; not recording this one");
      return Promise.resolve();
    }
    const namespace = meta.namespace || "default";
    const failed = run.steps.find((s) => s.status === "failed");
    const now = new Date();
    const message =
      run.status === "succeeded"
        ? `hook ${run.hook} succeeded (${run.steps.filter((s) => s.status === "succeeded").length} steps, ${run.durationMs}ms)`
        : `hook ${run.hook} failed at step ${failed?.name ?? "?"}: ${failed?.error ?? run.reason ?? "unknown"}`;
    this.pending++;
    return this.api
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${meta.name}.`, namespace, labels: { "app.kubernetes.io/managed-by": "resource-hooks", "resource-hooks.io/hook": run.hook } },
          involvedObject: { apiVersion: object.apiVersion, kind: object.kind, name: meta.name, namespace: meta.namespace, ...(meta.uid ? { uid: meta.uid } : {}) },
          reason: run.status === "succeeded" ? "HookSucceeded" : "HookFailed",
          message: message.slice(0, 1024),
          type: run.status === "succeeded" ? "Normal" : "Warning",
          source: { component: "resource-hooks" },
          reportingComponent: "resource-hooks.io/runner",
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err: (err as Error).message, hook: run.hook, runId: run.runId }, "could not record Kubernetes Event"))
      .finally(() => {
        this.pending--;
      });
  }
}
