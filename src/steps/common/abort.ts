// Abort handling shared by the step types: every wait and request honours ctx.signal. Waiting
// itself is node:timers/promises' setTimeout with { signal }.
import { StepFailure } from "../types.js";

/**
 * The failure a step throws when ctx.signal aborted it (timeout or shutdown): not retryable by the
 * step itself.
 */
export function abortFailure(signal: AbortSignal, doing: string): StepFailure {
  const reason = signal.reason as unknown;
  let why = "aborted";
  if (reason instanceof Error) why = reason.message;
  else if (reason !== undefined) why = String(reason);
  return new StepFailure(`aborted while ${doing}: ${why}`, { retryable: false, cause: reason });
}
