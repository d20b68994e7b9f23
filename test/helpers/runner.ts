// A real listening runner with the memory store (the same model as the HookRun custom
// resources), for the runner's unit and fuzz tests.
import { Writable } from "node:stream";
import { pino } from "pino";
import type { HookRun } from "../../src/runner/hookrun.js";
import { compareAccepted } from "../../src/runner/run-order.js";
import { createRuntime } from "../../src/runner/runtime.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { createRunner, listen, type RunnerOptions, type RunningRunner } from "../../src/runner/server.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import type { HookSet } from "../../src/hookset/types.js";
import { sendEvent, watchPathOf, type HookRequest } from "../../src/testing/index.js";

export const TOKEN = "test-token-0123456789abcdef";

export interface Harness {
  runner: RunningRunner;
  logs: string[];
  store: MemoryRunStore;
  hookSet: HookSet;
  send(hook: string, request: HookRequest): Promise<{ status: number; body: unknown }>;
  /** Waits until the run is in a final phase and returns it. */
  settled(name: string, timeoutMs?: number): Promise<HookRun>;
  runsOf(hook: string): HookRun[];
}

export async function startRunner(
  hookSet: HookSet,
  options: Partial<RunnerOptions> = {},
  timeouts: { headersMs?: number; requestMs?: number } = {},
): Promise<Harness> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const store = new MemoryRunStore();
  const runner = createRunner({
    hookSet,
    token: TOKEN,
    runtime: createRuntime({ secretsDir: "/nonexistent" }),
    store,
    memoryShards: new LocalShardStore(),
    namespace: "argo-events",
    holder: "test-replica",
    logger: pino({ level: "info" }, stream),
    retryBaseMs: 50,
    ...options,
  });
  await runner.start();
  const running = await listen(runner, 0, "127.0.0.1", timeouts);
  return {
    runner: running,
    logs,
    store,
    hookSet,
    send: (hook, request) => sendEvent(running.url, watchPathOf(hookSet, hook), request),
    async settled(name, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const run = store.get(name);
        if (run && ["Succeeded", "Failed", "Skipped", "Superseded"].includes(run.status.phase)) return run;
        if (Date.now() > until)
          throw new Error(`run ${name} is still ${run?.status.phase ?? "missing"}: ${JSON.stringify(run?.status)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    runsOf: (hook) =>
      [...store.list()]
        .filter((r) => r.spec.hook === hook && !r.metadata.labels["resource-hooks.io/marker"])
        .sort(compareAccepted),
  };
}
