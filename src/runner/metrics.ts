// Prometheus metrics of the runner, on a registry of its own (several runners in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class RunnerMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({ name: "resource_hooks_runs_total", help: "Hook runs by hook and status.", labelNames: ["hook", "status"], registers: [this.registry] });
  readonly stepDuration = new Histogram({
    name: "resource_hooks_step_duration_seconds",
    help: "Duration of steps, attempts and backoff included.",
    labelNames: ["hook", "step", "status"],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: "resource_hooks_runs_in_flight", help: "Runs being executed now.", registers: [this.registry] });
  readonly retries = new Counter({ name: "resource_hooks_step_retries_total", help: "Step attempts that failed and were retried.", labelNames: ["hook", "step"], registers: [this.registry] });
  readonly rejected = new Counter({ name: "resource_hooks_requests_rejected_total", help: "Requests answered without a run, by reason.", labelNames: ["reason"], registers: [this.registry] });
  /** Evaluated events a hook did not fire for: the reason's code (skipReasonCode), never its text. */
  readonly skipped = new Counter({
    name: "resource_hooks_decisions_skipped_total",
    help: `Events a hook evaluated and did not fire for, by hook and reason code (${SKIP_REASON_CODES.join(", ")}).`,
    labelNames: ["hook", "reason"],
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

/**
 * The bounded codes of the reasons a hook does not fire. A decision's reason is text for people
 * (it names objects, fields and values, unbounded as a label), so the metric carries its code.
 */
export const SKIP_REASON_CODES = [
  "wrong_resource",
  "event_type",
  "no_object",
  "not_selected",
  "unchanged",
  "already_handled",
  "baseline",
  "when_false",
  "when_error",
  "not_finished",
  "dry_run",
  "phase",
  "deleted",
  "malformed",
] as const;

export type SkipReasonCode = (typeof SKIP_REASON_CODES)[number];

// The trigger kinds' reasons (src/trigger/*) as they begin or what they say; the first match wins.
// A reason no rule knows is "malformed": the kinds' remaining skips name a malformed field.
const RULES: Array<[RegExp, SkipReasonCode]> = [
  [/^the event is for /, "wrong_resource"],
  [/^event type /, "event_type"],
  [/^the (UPDATE )?event carries no /, "no_object"],
  [/^when is false/, "when_false"],
  [/^when could not be evaluated/, "when_error"],
  [/baseline recorded/, "baseline"],
  [/already (handled|seen)/, "already_handled"],
  [/^(namespace \S+ is not |name \S+ is not |name \S+ does not start with |label \S+ is not set|Application \S+ is not )/, "not_selected"],
  [/^(none of .* changed$|generation \S+ unchanged|only metadata or status changed|the sync changed none of |the sync result has none of )/, "unchanged"],
  [/^(no sync operation$|operation is \S+, not finished|operation started at \S+ is Running)/, "not_finished"],
  [/^a dry run changes nothing$| was a dry run: nothing was applied$/, "dry_run"],
  [/^operation phase /, "phase"],
  [/ was deleted: forgetting/, "deleted"],
];

export function skipReasonCode(reason: string): SkipReasonCode {
  for (const [pattern, code] of RULES) if (pattern.test(reason)) return code;
  return "malformed";
}
