// What every command shares about the process: results to stdout, errors to stderr, one meaning
// per exit code, the output format (-o), colour only where a person reads it, hooks.yaml from a
// file or stdin (-f -).
import { readFileSync } from "node:fs";
import { Option } from "commander";
import { parse as parseYaml, stringify } from "yaml";
import type { KubeObject } from "../trigger/event.js";
import { loadHookSetFile, parseHookSet, SpecError } from "../hookset/load.js";
import type { HookSet } from "../hookset/types.js";

/** Exit codes, documented in the README's "Command line" section. */
export const EXIT = {
  OK: 0,
  /** Invalid input (hooks.yaml, an object file), a failed run, `generate --check` found differences, the runner answered an error or could not be reached. */
  FAILED: 1,
  /** The command line itself is wrong: unknown command or option, a missing or bad option value; also `serve` refusing to start on its configuration. */
  USAGE: 2,
} as const;

/** A problem with how the command was called: exits 2 like commander's own usage errors. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Bad input or a failed operation whose message says it all: exits 1, no stack trace. */
export class CliError extends Error {
  override name = "CliError";
}

/**
 * `head` closing the pipe is the reader saying "enough", not an error: end quietly instead of
 * letting the unhandled EPIPE print a stack trace. Node ignores SIGPIPE, so this is the only
 * signal the process gets.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(EXIT.OK);
      throw err;
    });
  }
}

/** https://no-color.org: set and not empty disables colour; otherwise colour only on a terminal. */
export function colourOn(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true;
}

const SGR = { red: 31, green: 32, cyan: 36, bold: 1 } as const;
export type Colour = keyof typeof SGR;

export function painter(stream: NodeJS.WriteStream): (colour: Colour, text: string) => string {
  const on = colourOn(stream);
  return (colour, text) => (on && text !== "" ? `\u001b[${SGR[colour]}m${text}\u001b[0m` : text);
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** `-o <format>`: the same flag and meaning in every command; `text` only where a table or summary exists. */
export function formatOption(choices: string[], fallback: string): Option {
  return new Option("-o, --output <format>", "output format").choices(choices).default(fallback);
}

/** Prints a structured result in the chosen format (yaml or json). */
export function printAs(format: string, value: unknown): void {
  if (format === "yaml") {
    out(stringify(value, { lineWidth: 0, aliasDuplicateObjects: false }));
    return;
  }
  out(JSON.stringify(value, null, 2));
}

/** What `-f` names: a file, or `-` for stdin (errors then name `<stdin>:line:col`). */
export const STDIN_NAME = "<stdin>";

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch (e) {
    throw new CliError(`cannot read hooks.yaml from stdin: ${(e as Error).message}`);
  }
}

/** Loads and validates a hooks.yaml; on problems prints them (file:line:column) and exits 1. */
export function loadHooks(file: string): HookSet {
  try {
    return file === "-" ? parseHookSet(readStdin(), STDIN_NAME) : loadHookSetFile(file);
  } catch (e) {
    if (e instanceof SpecError) {
      reportProblems(e.message);
      process.exit(EXIT.FAILED);
    }
    throw e;
  }
}

/** Problems one per line, the `file:line:column:` part bold on a terminal. */
export function reportProblems(message: string): void {
  const paint = painter(process.stderr);
  err(
    message
      .split("\n")
      .map((line) => line.replace(/^(.+?:\d+:\d+:)/, (loc) => paint("bold", paint("red", loc))))
      .join("\n"),
  );
}

/** One Kubernetes object from a YAML or JSON file (--old/--new of simulate, send and explain). */
export function readObject(file: string, what: string): KubeObject {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CliError(`${what} ${file}: ${(e as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new CliError(`${what} ${file}: expected one Kubernetes object`);
  return value as KubeObject;
}
