#!/usr/bin/env node
// resource-hooks: the command tree is in program.ts. Results go to stdout, errors to stderr;
// exit codes are io.ts's EXIT, documented in the README ("Command line").
import { CommanderError } from "commander";
import { err, EXIT, exitQuietlyOnClosedPipe, UsageError } from "./io.js";
import { buildProgram } from "./program.js";

exitQuietlyOnClosedPipe();

const program = buildProgram();

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // commander printed the message (and help) already; --help and --version end with 0.
    process.exit(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) {
    err(`error: ${message}`);
    process.exit(EXIT.USAGE);
  }
  err(`resource-hooks: ${message}`);
  process.exit(EXIT.FAILED);
});
