// The controller's work queue, as client-go's workqueue works: keys (namespace/name), never
// objects, so a burst of events for one HookSet is one reconcile of its latest state; a key is
// handled by one worker at a time (an event during its reconcile runs it once more afterwards);
// a failed key comes back after an exponential backoff that a success resets.
export interface WorkQueueOptions {
  /** Keys handled at the same time (different keys only). */
  workers: number;
  /** Delay before a failed key is retried: initialMs, doubled per consecutive failure, at most maxMs. */
  backoff: { initialMs: number; maxMs: number };
}

/** What a handler may ask for besides success: come back after this long (e.g. to look again at a status). */
export interface HandlerResult {
  requeueAfterMs?: number;
}

export type KeyHandler = (key: string) => Promise<HandlerResult | void>;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: queued again when their reconcile ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private active = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handler: KeyHandler,
    private readonly options: WorkQueueOptions,
    private readonly onError: (key: string, err: unknown, retryInMs: number) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after `ms`; an earlier pending delay for the key is kept (the sooner wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** The delay the next failure of `key` waits. */
  backoffMs(key: string): number {
    const { initialMs, maxMs } = this.options.backoff;
    return Math.min(maxMs, initialMs * 2 ** (this.failures.get(key) ?? 0));
  }

  /** Failures in a row of `key` (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or being handled (timers aside). */
  async idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.workers && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.active++;
      void this.handle(key);
    }
    if (this.active === 0 && this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async handle(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const delay = this.backoffMs(key);
      this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      this.onError(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
