// Abort handling shared by the step types: every wait and request honours ctx.signal.
import { StepFailure } from "../types.js";

/** The failure a step throws when ctx.signal aborted it (timeout or shutdown): not retryable by the step itself. */
export function abortFailure(signal: AbortSignal, doing: string): StepFailure {
  const reason = signal.reason as unknown;
  const why = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : "aborted";
  return new StepFailure(`aborted while ${doing}: ${why}`, { retryable: false, cause: reason });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
