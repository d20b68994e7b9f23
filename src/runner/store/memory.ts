// HookRuns in this process only: the same model and answers as the Kubernetes store, for one
// replica and local use. Objects are copied in and out, so callers never share mutable state with
// the cache (the Kubernetes store gets the same from JSON).
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
    if (existing) return { run: copy(existing), created: false };
    const stored = withStatusDefaults(copy(run));
    stored.metadata.uid = randomUUID();
    stored.metadata.resourceVersion = String(++this.version);
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    this.runs.set(run.metadata.name, stored);
    this.emit(stored, "added");
    return { run: copy(stored), created: true };
  }

  get(name: string): HookRun | undefined {
    const run = this.runs.get(name);
    return run ? copy(run) : undefined;
  }

  async fetch(name: string): Promise<HookRun | undefined> {
    return this.get(name);
  }

  *list(): Iterable<HookRun> {
    for (const run of this.runs.values()) yield copy(run);
  }

  async updateStatus(run: HookRun): Promise<HookRun> {
    const existing = this.runs.get(run.metadata.name);
    if (!existing) throw new ConflictError(`hookrun ${run.metadata.name} no longer exists`);
    if (existing.metadata.resourceVersion !== run.metadata.resourceVersion) {
      throw new ConflictError(`hookrun ${run.metadata.name} was changed (resourceVersion ${existing.metadata.resourceVersion ?? "?"}, not ${run.metadata.resourceVersion ?? "?"})`);
    }
    const stored: HookRun = { ...copy(existing), status: copy(run.status) };
    stored.metadata.resourceVersion = String(++this.version);
    this.runs.set(run.metadata.name, stored);
    this.emit(stored, "modified");
    return copy(stored);
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
    for (const listener of this.listeners) listener(copy(run), change);
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}
