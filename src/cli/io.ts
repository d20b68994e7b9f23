// What every command shares about the process: results to stdout, errors to stderr, the output
// format (-o), colour only where a person reads it, and the files users hand the CLI: hooks.yaml
// from a file or stdin (-f -), objects from YAML or JSON files, each read within the limits of
// src/hookset/input.ts.
import { LineCounter } from "yaml";
import type { KubeObject } from "../trigger/event.js";
import {
  InputTooLarge,
  isBlank,
  MAX_INPUT_BYTES,
  parseYamlDocuments,
  readBounded,
  toData,
  YamlLimitError,
} from "../hookset/input.js";
import { loadHookSetFile, SpecError } from "../hookset/load.js";
import type { HookSet } from "../hookset/types.js";
import { CliError, Failure } from "./exit.js";
import { toKubernetesYaml } from "../model/yaml.js";

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

/** Prints a structured result in the chosen format (yaml or json). */
export function printAs(format: string, value: unknown): void {
  if (format === "yaml") {
    out(toKubernetesYaml(value));
    return;
  }
  out(JSON.stringify(value, null, 2));
}

/** What `-f` names for stdin (`-f -`); problems then name `<stdin>:line:col`. */
export const STDIN_NAME = "<stdin>";

/** hooks.yaml's problems as stderr shows them: one per line, the `file:line:column:` part bold red on a terminal. */
export function problemsText(error: SpecError): string {
  const paint = painter(process.stderr);
  return error.message
    .split("\n")
    .map((line) => line.replace(/^(.+?:\d+:\d+:)/, (loc) => paint("bold", paint("red", loc))))
    .join("\n");
}

/** Loads and validates a hooks.yaml (`-` reads stdin); its problems fail the command (exit 1). */
export function loadHooks(file: string): HookSet {
  try {
    return file === "-" ? loadHookSetFile(STDIN_NAME, 0) : loadHookSetFile(file);
  } catch (e) {
    if (e instanceof SpecError) throw new Failure(problemsText(e));
    throw e;
  }
}

/** The data of a YAML or JSON file holding one document (null for an empty one), within the input limits. */
function readYamlFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readBounded(file).toString("utf8");
  } catch (e) {
    if (!(e instanceof InputTooLarge)) throw new CliError(`${what} ${file}: ${(e as Error).message}`);
    throw new CliError(
      `${what} ${file}: the file is ${e.bytes ?? `more than ${e.limit}`} bytes; ` +
        `an object file may have at most 1 MiB (${MAX_INPUT_BYTES} bytes), what one Kubernetes object holds`,
    );
  }
  const lines = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${what} ${file}:${line}:${col}`;
  };
  try {
    const docs = parseYamlDocuments(text, { lineCounter: lines }).filter(
      (d) => d.errors.length > 0 || !isBlank(d.contents),
    );
    if (docs.length > 1)
      throw new CliError(`${at(docs[1]!.range[0])}: expected one object, found a second YAML document`);
    const doc = docs[0];
    if (!doc) return null;
    const error = doc.errors[0];
    if (error) throw new CliError(`${at(error.pos[0])}: ${error.message.split("\n")[0]}`);
    return toData(doc);
  } catch (e) {
    if (e instanceof YamlLimitError) throw new CliError(`${at(e.offset)}: ${e.message}`);
    throw e;
  }
}

/** One Kubernetes object from a YAML or JSON file (--old/--new of simulate, send and explain, add's --kubernetes). */
export function readObject(file: string, what: string): KubeObject {
  const value = readYamlFile(file, what);
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new CliError(`${what} ${file}: expected one Kubernetes object`);
  return value as KubeObject;
}
