// HookSucceeded / HookFailed Kubernetes Events at the end of a run, on the object that triggered
// the hook and on the HookRun itself, so `kubectl describe` (and the Argo CD UI) show what ran.
// Best effort: a failure to record an Event is logged and never changes the run.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { RestClient } from "../k8s/rest.js";
import { API_GROUP, HOOKRUN_API_VERSION, HOOKRUN_KIND, LABEL_HOOK, MANAGED_BY, MANAGER } from "../model/constants.js";
import type { HookRun } from "./hookrun.js";

export class KubeEventRecorder {
  private readonly rest: RestClient;
  private pending = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly maxPending = 100,
  ) {
    this.rest = new RestClient(kubeConfig);
  }

  async record(run: HookRun): Promise<void> {
    const phase = run.status.phase;
    if (phase !== "Succeeded" && phase !== "Failed") return;
    const message = phase === "Succeeded" ? succeededMessage(run) : failedMessage(run);
    const targets: Array<{ apiVersion: string; kind: string; name: string; namespace: string; uid?: string }> = [
      {
        apiVersion: HOOKRUN_API_VERSION,
        kind: HOOKRUN_KIND,
        name: run.metadata.name,
        namespace: run.metadata.namespace,
        ...(run.metadata.uid ? { uid: run.metadata.uid } : {}),
      },
    ];
    const object = run.spec.object;
    if (object?.name && object.kind && object.apiVersion) {
      targets.push({
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.name,
        namespace: object.namespace || "default",
        uid: object.uid,
      });
    }
    await Promise.all(targets.map((target) => this.create(target, phase, message, run)));
  }

  private async create(
    target: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string },
    phase: "Succeeded" | "Failed",
    message: string,
    run: HookRun,
  ): Promise<void> {
    if (this.pending >= this.maxPending) {
      this.logger.warn(
        { hook: run.spec.hook, run: run.metadata.name },
        "too many Kubernetes Events pending; not recording this one",
      );
      return;
    }
    const now = new Date().toISOString();
    this.pending++;
    try {
      await this.rest.request("POST", `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/events`, {
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: {
            generateName: `${target.name}.`,
            namespace: target.namespace,
            labels: { ...MANAGED_BY, [LABEL_HOOK]: run.spec.hook },
          },
          involvedObject: target,
          reason: phase === "Succeeded" ? "HookSucceeded" : "HookFailed",
          message: message.slice(0, 1024),
          type: phase === "Succeeded" ? "Normal" : "Warning",
          source: { component: MANAGER },
          reportingComponent: `${API_GROUP}/runner`,
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, hook: run.spec.hook, run: run.metadata.name },
        "could not record Kubernetes Event",
      );
    } finally {
      this.pending--;
    }
  }
}

function succeededMessage(run: HookRun): string {
  const steps = run.status.steps.filter((s) => s.phase === "Succeeded").length;
  return `hook ${run.spec.hook} succeeded (${steps} steps, run ${run.metadata.name})`;
}

function failedMessage(run: HookRun): string {
  const failed = run.status.steps.find((s) => s.phase === "Failed");
  const where = failed ? ` at step ${failed.name}: ${failed.error ?? ""}` : `: ${run.status.message ?? ""}`;
  return `hook ${run.spec.hook} failed${where} (run ${run.metadata.name})`;
}
