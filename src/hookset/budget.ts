// Retry timing lives here because two places must agree on it: the runner waits these delays,
// and the generator sizes the Sensor's HTTP trigger timeout from them.
export const DEFAULT_STEP_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRIES = 2;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** Delay before retry number `retry` (1-based): 1s, 2s, 4s … capped at 30s. */
export function backoffMs(retry: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** (retry - 1), BACKOFF_MAX_MS);
}

/** The longest one step can take: every attempt timing out, plus the backoff between them. */
export function stepBudgetMs(step: { timeoutMs: number; retries: number }): number {
  let total = step.timeoutMs * (step.retries + 1);
  for (let retry = 1; retry <= step.retries; retry++) total += backoffMs(retry);
  return total;
}
