// How a command ends. Commands return normally (exit 0) or throw one of the errors below; main.ts
// turns that into the exit code and ends the process through finish(), after stdout and stderr
// have handed every byte to the reader. A pipe to a slow reader holds only 64 KiB: ending the
// process while writes wait (process.exit) cuts the output there.
import { CommanderError } from "commander";

/** Exit codes, documented in docs/cli.md (Exit codes). */
export const EXIT = {
  OK: 0,
  /**
   * Invalid input (hooks.yaml, an object file), a failed run, `generate --check` found
   * differences, the runner answered an error or could not be reached.
   */
  FAILED: 1,
  /**
   * The command line itself is wrong: unknown command or option, a missing or bad option value;
   * also `serve` refusing to start on its configuration.
   */
  USAGE: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A problem with how the command was called: exits 2 like commander's own usage errors. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Bad input or a failed operation whose message says it all: exits 1, no stack trace. */
export class CliError extends Error {
  override name = "CliError";
}

/**
 * The command failed and `report` says why, printed to stderr as it is (problems at
 * file:line:column, the runner's answer, a summary of a diff); "" when the command has said it
 * already (serve's log).
 */
export class Failure extends Error {
  override name = "Failure";
  constructor(
    readonly report: string,
    readonly code: ExitCode = EXIT.FAILED,
  ) {
    super(report);
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (text !== "") stream.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** What a command's outcome means as an exit code; prints the message of an error. */
export function exitCodeOf(outcome: unknown): ExitCode {
  if (outcome === undefined) return EXIT.OK;
  // commander printed its message (and help) already; --help and --version end with 0.
  if (outcome instanceof CommanderError) return outcome.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  if (outcome instanceof Failure) {
    write(process.stderr, outcome.report);
    return outcome.code;
  }
  if (outcome instanceof UsageError) {
    write(process.stderr, `error: ${outcome.message}`);
    return EXIT.USAGE;
  }
  if (outcome instanceof CliError) {
    write(process.stderr, `resource-hooks: ${outcome.message}`);
    return EXIT.FAILED;
  }
  write(process.stderr, `resource-hooks: ${outcome instanceof Error ? outcome.message : String(outcome)}`);
  return EXIT.FAILED;
}

/** Resolves once everything written to `stream` so far has been handed to the reader (or the stream is gone). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (!stream.writable || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => stream.write("", () => resolve()));
}

let finishing: Promise<never> | undefined;

/**
 * Ends the process with `code` once stdout and stderr are drained: the one place the CLI exits.
 * The explicit exit ends what would keep a finished command alive (a kept-alive connection, the
 * runner's timers after its shutdown).
 */
export function finish(code: ExitCode): Promise<never> {
  finishing ??= (async () => {
    process.exitCode = code;
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit();
  })();
  return finishing;
}

/**
 * `head` closing the pipe is the reader saying "enough", not an error: end quietly (exit 0) instead
 * of letting the unhandled EPIPE print a stack trace. Node ignores SIGPIPE, so this is the only
 * signal the process gets. What waits for the other stream is still written.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      void finish(EXIT.OK);
    });
  }
}
