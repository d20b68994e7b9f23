// Waiting in tests: one poller for everything that waits for a condition (the e2e stack, its
// components and the recording server), so timeouts read the same everywhere.
import { setTimeout as delay } from "node:timers/promises";

export const sleep = (ms: number): Promise<void> => delay(ms);

/** Polls `fn` until it returns something other than undefined; a throw counts as "not yet" and is named in the timeout. */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    }
    await sleep(intervalMs);
  }
}
