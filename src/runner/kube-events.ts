// HookSucceeded / HookFailed Kubernetes Events at the end of a run, so `kubectl describe` (and the
// Argo CD UI) show what ran: a success on the object that triggered the hook (the HookRun's own
// status already says it succeeded), a failure on the object and on the HookRun (a Warning for
// whoever watches Events). Best effort: a failure to record an Event is logged and never changes
// the run.
//
// Success Events are rate-limited, as client-go's event recorder limits what one source may say:
// every Event is an API write kept for an hour (kube-apiserver's --event-ttl), so a burst of a
// thousand runs would double the writes the runs cost and leave a thousand Events behind. Past
// the bucket, a success goes unrecorded (logged at debug); failures are always recorded.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { RestClient } from "../k8s/rest.js";
import { API_GROUP, HOOKRUN_API_VERSION, HOOKRUN_KIND, LABEL_HOOK, MANAGED_BY, MANAGER } from "../model/constants.js";
import type { HookRun } from "./hookrun.js";

export interface KubeEventOptions {
  /** Events being written at once; more are dropped (logged). */
  maxPending?: number;
  /** Success Events recorded at once after a quiet period. */
  successBurst?: number;
  /** Success Events per second beyond the burst. */
  successPerSecond?: number;
  /** Injected for tests. */
  now?: () => number;
}

type EventTarget = { apiVersion: string; kind: string; name: string; namespace: string; uid?: string };

export class KubeEventRecorder {
  private readonly rest: RestClient;
  private pending = 0;
  private readonly maxPending: number;
  private readonly successes: TokenBucket;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
    private readonly logger: Logger,
    options: KubeEventOptions = {},
  ) {
    this.rest = new RestClient(kubeConfig);
    this.maxPending = options.maxPending ?? 100;
    this.successes = new TokenBucket(options.successBurst ?? 50, options.successPerSecond ?? 5, options.now);
  }

  async record(run: HookRun): Promise<void> {
    const phase = run.status.phase;
    if (phase !== "Succeeded" && phase !== "Failed") return;
    const object = objectTarget(run);
    if (phase === "Succeeded") {
      if (!this.successes.take()) {
        this.logger.debug({ hook: run.spec.hook, run: run.metadata.name }, "success Event not recorded: rate limit");
        return;
      }
      await this.create(object ?? runTarget(run), phase, succeededMessage(run), run);
      return;
    }
    const targets = [runTarget(run), ...(object ? [object] : [])];
    await Promise.all(targets.map((target) => this.create(target, phase, failedMessage(run), run)));
  }

  private async create(
    target: EventTarget,
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

function runTarget(run: HookRun): EventTarget {
  return {
    apiVersion: HOOKRUN_API_VERSION,
    kind: HOOKRUN_KIND,
    name: run.metadata.name,
    namespace: run.metadata.namespace,
    ...(run.metadata.uid ? { uid: run.metadata.uid } : {}),
  };
}

/** The object that triggered the hook, when the run names one. */
function objectTarget(run: HookRun): EventTarget | undefined {
  const object = run.spec.object;
  if (!object?.name || !object.kind || !object.apiVersion) return undefined;
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.name,
    namespace: object.namespace || "default",
    uid: object.uid,
  };
}

/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. Written here because it is these few
 * lines; client-go's event spam filter is the same idea.
 */
class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = this.now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
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
