// vitest glue: one stack per test file, torn down after the file (also when
// tests fail), with the processes' logs printed for failed tests.
import { afterAll, beforeAll, beforeEach } from "vitest";

import { startStack, type Stack, type StackOptions } from "./stack.js";

export interface StackHandle {
  /** The running stack (throws before beforeAll has run). */
  (): Stack;
  /** Wall time startStack() took. */
  startMs(): number;
}

export function useStack(opts: StackOptions = {}): StackHandle {
  let stack: Stack | undefined;
  let startMs = 0;
  beforeAll(async () => {
    const t = performance.now();
    stack = await startStack(opts);
    startMs = performance.now() - t;
  });
  beforeEach((ctx) => {
    ctx.onTestFailed(() => {
      if (stack) console.error(`\n----- e2e process logs (${ctx.task.name}) -----\n${stack.logReport()}`);
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const handle = (): Stack => {
    if (!stack) throw new Error("the e2e stack is not started (use it inside tests or hooks)");
    return stack;
  };
  handle.startMs = (): number => startMs;
  return handle;
}
