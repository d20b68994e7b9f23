// The first read of a runner's own objects at start: an API server that is starting or busy
// answers 429, 5xx or nothing, and is retried (with backoff, and its Retry-After) until the
// deadline; a 403 or 404 (no RBAC, no CRD) is a configuration error and fails at once.
import type { Logger } from "pino";
import { KubeApiError } from "./types.js";

export async function retryWhileStarting<T>(
  read: () => Promise<T>,
  options: { timeoutMs: number; logger: Logger; what: string },
): Promise<T> {
  const until = Date.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const status = err instanceof KubeApiError ? err.status : -1;
      const transient = status === 0 || status === 429 || status >= 500;
      if (!transient || Date.now() > until) throw err;
      const retryAfterMs = ((err as KubeApiError).retryAfterSeconds ?? 0) * 1000;
      const delay = Math.min(Math.max(500 * 2 ** (attempt - 1), retryAfterMs), 5_000);
      options.logger.warn({ err: (err as Error).message, retryInMs: delay }, `${options.what} failed; retrying`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
