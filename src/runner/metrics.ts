// Prometheus metrics of the runner, on a registry of its own (several runners in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SKIP_REASON_CODES } from "../trigger/index.js";

export class RunnerMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({
    name: "resource_hooks_runs_total",
    help: "Hook runs by hook and status.",
    labelNames: ["hook", "status"],
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: "resource_hooks_step_duration_seconds",
    help: "Duration of steps, attempts and backoff included.",
    labelNames: ["hook", "step", "status"],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: "resource_hooks_runs_in_flight",
    help: "Runs being executed now.",
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "resource_hooks_step_retries_total",
    help: "Step attempts that failed and were retried.",
    labelNames: ["hook", "step"],
    registers: [this.registry],
  });
  /**
   * From a Sensor's request arriving to its answer: how long each of its trigger's events holds the
   * trigger (Argo Events posts one trigger's events one at a time). "persisted": runs were created
   * before the answer; "none": nothing to persist (skips, baselines, a redelivery).
   */
  readonly acceptDuration = new Histogram({
    name: "resource_hooks_accept_duration_seconds",
    help: "Time from a Sensor's request to its answer, by whether runs were persisted first (persisted) or not (none).",
    labelNames: ["outcome"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Requests refused, by the reason the catalog gives their error's code (http-errors.ts). */
  readonly rejected = new Counter({
    name: "resource_hooks_requests_rejected_total",
    help: "Requests answered without a run, by reason.",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  /** Evaluated events a hook did not fire for: the decision's code (SKIP_REASON_CODES), never its text. */
  readonly skipped = new Counter({
    name: "resource_hooks_decisions_skipped_total",
    help: `Events a hook evaluated and did not fire for, by hook and reason code (${SKIP_REASON_CODES.join(", ")}).`,
    labelNames: ["hook", "reason"],
    registers: [this.registry],
  });

  private unwrittenMemory: () => number = () => 0;
  /** What a crash would lose: baselines and forgets, which the next replay records again. */
  readonly memoryUnwritten: Gauge = new Gauge({
    name: "resource_hooks_memory_unwritten_changes",
    help: "Changes to the hooks' memory not written yet (baselines and forgets; the next replay records them again).",
    registers: [this.registry],
    collect: (): void => this.memoryUnwritten.set(this.unwrittenMemory()),
  });

  /** Where memoryUnwritten is read when scraped. */
  observeMemory(unwritten: () => number): void {
    this.unwrittenMemory = unwritten;
  }

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
