// The runs one process executes at once, across every HookSet it serves. Each HookSet's queue
// (queue.ts) has its own limit; a runner serving HookSet resources (tenants/) also shares one
// RunSlots among all of their queues, so a hundred HookSets mean at most --max-concurrent-runs
// runs at once, not a hundred times that. A queue takes a slot before it claims a run and gives it
// back when the run's execution ends (or the claim was lost).
export class RunSlots {
  private used = 0;
  /** Queues that found no free slot: told once when one frees up. */
  private waiting = new Set<() => void>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`the run limit must be a positive integer: ${limit}`);
  }

  get inUse(): number {
    return this.used;
  }

  get free(): number {
    return this.limit - this.used;
  }

  /** Takes a slot when one is free; else false, and `wake` is called once one frees up. */
  take(wake: () => void): boolean {
    if (this.used < this.limit) {
      this.used++;
      return true;
    }
    this.waiting.add(wake);
    return false;
  }

  give(): void {
    if (this.used === 0) throw new Error("a run slot was given back twice");
    this.used--;
    // Every waiting queue looks again; the first to tick takes the slot, the others wait again.
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const wake of waiting) wake();
  }

  /** A queue that stopped is not woken any more. */
  forget(wake: () => void): void {
    this.waiting.delete(wake);
  }
}
