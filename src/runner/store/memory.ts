// HookRuns in this process only: the same model and answers as the Kubernetes store, for one
// replica and local use. Objects are copied in; what comes out is the stored object itself,
// read-only by contract (RunStore): a write replaces it, never mutates it, so readers never
// see it change under them, and the hot path clones nothing.
import { randomUUID } from "node:crypto";
import type { HookRun } from "../hookrun.js";
import { ConflictError, withStatusDefaults, type RunChange, type RunStore } from "./types.js";

export class MemoryRunStore implements RunStore {
  private readonly runs = new Map<string, HookRun>();
  private readonly listeners: Array<(run: HookRun, change: RunChange) => void> = [];
  private version = 0;

  async start(): Promise<void> {}
  stop(): void {}

  async create(run: HookRun): Promise<{ run: HookRun; created: boolean }> {
    const existing = this.runs.get(run.metadata.name);
    if (existing) return { run: existing, created: false };
    const stored = withStatusDefaults(copyRun(run));
    stored.metadata.uid = randomUUID();
    stored.metadata.resourceVersion = String(++this.version);
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    this.runs.set(run.metadata.name, stored);
    this.emit(stored, "added");
    return { run: stored, created: true };
  }

  get(name: string): HookRun | undefined {
    return this.runs.get(name);
  }

  async fetch(name: string): Promise<HookRun | undefined> {
    return this.get(name);
  }

  *list(): Iterable<HookRun> {
    yield* this.runs.values();
  }

  async updateStatus(run: HookRun): Promise<HookRun> {
    const existing = this.runs.get(run.metadata.name);
    if (!existing) throw new ConflictError(`hookrun ${run.metadata.name} no longer exists`);
    if (existing.metadata.resourceVersion !== run.metadata.resourceVersion) {
      const [current, given] = [existing.metadata.resourceVersion ?? "?", run.metadata.resourceVersion ?? "?"];
      throw new ConflictError(`hookrun ${run.metadata.name} was changed (resourceVersion ${current}, not ${given})`);
    }
    const stored: HookRun = {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(++this.version) },
      status: copyStatus(run.status),
    };
    this.runs.set(run.metadata.name, stored);
    this.emit(stored, "modified");
    return stored;
  }

  async delete(name: string): Promise<void> {
    const existing = this.runs.get(name);
    if (!existing) return;
    this.runs.delete(name);
    this.emit(existing, "deleted");
  }

  subscribe(listener: (run: HookRun, change: RunChange) => void): void {
    this.listeners.push(listener);
  }

  get size(): number {
    return this.runs.size;
  }

  private emit(run: HookRun, change: RunChange): void {
    for (const listener of this.listeners) listener(run, change);
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * A copy of a run as created: metadata's maps, spec (flat fields plus the flat object reference
 * and context) and status. structuredClone of the whole run was a large part of an accept's CPU,
 * most of it spent walking the context string's container objects generically.
 */
function copyRun(run: HookRun): HookRun {
  const { metadata, spec } = run;
  return {
    ...run,
    metadata: {
      ...metadata,
      labels: { ...metadata.labels },
      ...(metadata.annotations ? { annotations: { ...metadata.annotations } } : {}),
    },
    spec: {
      ...spec,
      ...(spec.object ? { object: { ...spec.object } } : {}),
      ...(spec.context ? { context: { ...spec.context } } : {}),
    },
    ...(run.status ? { status: copyStatus(run.status) } : {}),
  };
}

/**
 * A copy of a status as written: its maps and lists are copied, a step's output (any JSON) is
 * cloned. structuredClone of the whole status was the largest single cost of executing a run in
 * memory (a claim, a step and an end are each a status write).
 */
function copyStatus(status: HookRun["status"]): HookRun["status"] {
  return {
    ...status,
    ...(status.claim ? { claim: { ...status.claim } } : {}),
    ...(status.steps
      ? {
          steps: status.steps.map((step) =>
            step.output !== null && typeof step.output === "object"
              ? { ...step, output: copy(step.output) }
              : { ...step },
          ),
        }
      : {}),
    ...(status.conditions ? { conditions: status.conditions.map((condition) => ({ ...condition })) } : {}),
  };
}
