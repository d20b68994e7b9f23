#!/usr/bin/env node
// resource-hooks: the command tree is in program.ts; how a command ends (exit codes, draining the
// output before the process ends) is exit.ts.
import { endQuietlyOnClosedPipe, exitCodeOf, finish } from "./exit.js";
import { buildProgram } from "./program.js";

endQuietlyOnClosedPipe();

const outcome = await buildProgram()
  .parseAsync(process.argv)
  .then(
    () => undefined,
    (e: unknown) => e ?? new Error("unknown error"),
  );
await finish(exitCodeOf(outcome));
