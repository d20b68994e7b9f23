// The HookRun: the durable record of one firing of one hook for one change, the queue's unit of
// work and what users see with `kubectl get hookruns`. The same shape lives in memory
// (--store memory) and as a custom resource (--store kubernetes); the generator writes its CRD
// (src/generate/hookrun-crd.ts) from the same field list.
import { gunzipSync, gzipSync } from "node:zlib";
import type { ObjectRef } from "../trigger/index.js";

import { LABEL_MARKER, type HookRunPhase } from "../model/constants.js";

export type RunPhase = HookRunPhase;
export const TERMINAL_PHASES: ReadonlySet<RunPhase> = new Set(["Succeeded", "Failed", "Skipped", "Superseded"]);
export type { Concurrency } from "../hookset/types.js";
import type { Concurrency } from "../hookset/types.js";

export type StepPhase = "Succeeded" | "Failed" | "Skipped" | "Running";

export interface StepStatus {
  name: string;
  phase: StepPhase;
  attempts: number;
  durationMs: number;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** Non-secret output, visible to later steps (also after a restart). */
  output?: unknown;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface HookRunSpec {
  hookSet: string;
  hook: string;
  eventId: string;
  identity: string;
  /** When the runner accepted the event (ms precision, never repeated by one runner): see run-order.ts. */
  acceptedAt: string;
  /** For display: "Deployment web/frontend". */
  subject: string;
  object?: ObjectRef;
  /** What the hook handled, for catch-up after event-source downtime. */
  fingerprint?: string;
  concurrency: Concurrency;
  /** After this the run is not retried any more. */
  deadline: string;
  /** The variables the steps run with (object, oldObject, event, …): see encodeContext. */
  context?: { encoding: "json" | "gzip+base64"; data: string };
}

export interface HookRunStatus {
  phase: RunPhase;
  reason?: string;
  message?: string;
  /** Executions of the run so far (claims), not step attempts. */
  attempts: number;
  startTime?: string;
  completionTime?: string;
  nextRetryAt?: string;
  claim?: { holder: string; expiresAt: string };
  /** Set by whoever supersedes a running run; the replica running it stops. */
  cancelRequested?: string;
  /** A deadline later than the spec's, after `runs retry`. */
  deadline?: string;
  steps: StepStatus[];
  conditions: Condition[];
}

export interface HookRun {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: HookRunSpec;
  status: HookRunStatus;
}

export function isTerminal(run: HookRun): boolean {
  return TERMINAL_PHASES.has(run.status.phase);
}

export function isMarker(run: HookRun): boolean {
  return run.metadata.labels[LABEL_MARKER] !== undefined;
}

/**
 * The largest encoded context a HookRun may carry. etcd refuses objects over 1.5 MiB; the rest of
 * the run (status, step outputs) needs room too.
 */
export const MAX_CONTEXT_BYTES = 1024 * 1024;

export class ContextTooLargeError extends Error {
  override name = "ContextTooLargeError";
}

/**
 * Contexts up to this size are stored as plain JSON. Compressing costs the accept path a zlib
 * stream per run, more than the rest of an accept for a typical small pair of objects, and small
 * contexts gain little room from it.
 */
export const COMPRESS_FROM_BYTES = 16 * 1024;

/**
 * The steps' variables as the HookRun stores them: plain JSON when small, else compressed.
 * Kubernetes objects are repetitive JSON and compress 5–20×, so two objects near etcd's limit
 * fit; what still does not fit is refused before anything is stored.
 */
export function encodeContext(scope: Record<string, unknown>): NonNullable<HookRunSpec["context"]> {
  const json = JSON.stringify(scope);
  if (json.length <= COMPRESS_FROM_BYTES) return { encoding: "json", data: json };
  // Level 1: most of the gain at a fraction of the time; the accept path pays it per run.
  const data = gzipSync(Buffer.from(json), { level: 1 }).toString("base64");
  if (data.length > MAX_CONTEXT_BYTES) {
    throw new ContextTooLargeError(
      `the event's objects are ${data.length} bytes compressed; a HookRun holds at most ${MAX_CONTEXT_BYTES}`,
    );
  }
  return { encoding: "gzip+base64", data };
}

export function decodeContext(context: HookRunSpec["context"]): Record<string, unknown> {
  if (!context) return {};
  if (context.encoding === "json") return JSON.parse(context.data) as Record<string, unknown>;
  if (context.encoding !== "gzip+base64") throw new Error(`unknown context encoding ${String(context.encoding)}`);
  return JSON.parse(gunzipSync(Buffer.from(context.data, "base64")).toString("utf8")) as Record<string, unknown>;
}

export function describeSubject(ref: ObjectRef | undefined): string {
  if (!ref) return "";
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

export function setCondition(
  status: HookRunStatus,
  condition: Omit<Condition, "lastTransitionTime">,
  now = new Date(),
): void {
  const existing = status.conditions.find((c) => c.type === condition.type);
  if (
    existing &&
    existing.status === condition.status &&
    existing.reason === condition.reason &&
    existing.message === condition.message
  )
    return;
  const next: Condition = {
    ...condition,
    lastTransitionTime:
      existing && existing.status === condition.status ? existing.lastTransitionTime : now.toISOString(),
  };
  status.conditions = [...status.conditions.filter((c) => c.type !== condition.type), next];
}

/** The status with this step's record in place of an earlier one of the same step. */
export function withStep(status: HookRunStatus, step: StepStatus): HookRunStatus {
  return { ...status, steps: [...status.steps.filter((s) => s.name !== step.name), step] };
}
