// Options several commands share, spelt and parsed one way: -f (hooks.yaml, default ./hooks.yaml),
// -o (the output format), --type, and the parsers of numbers and durations, which refuse a bad
// value while commander reads the command line (exit 2 with the option named).
import { InvalidArgumentError, Option } from "commander";
import { parseDuration } from "../hookset/duration.js";

/** What `-f` names when it is not given, in every command that reads or writes hooks.yaml. */
export const DEFAULT_HOOKS_FILE = "hooks.yaml";

/** `-f, --file`; `stdin` says whether `-` reads stdin. */
export function fileOption(what: string, stdin: boolean): Option {
  return new Option("-f, --file <path>", `${what}${stdin ? " (- reads stdin)" : ""}`).default(DEFAULT_HOOKS_FILE);
}

/** `-o <format>`: the same flag and meaning in every command; `text` only where a table or summary exists. */
export function formatOption(choices: string[], fallback: string): Option {
  return new Option("-o, --output <format>", "output format").choices(choices).default(fallback);
}

/** `--type`: the event type of an old/new pair (simulate, send). */
export function eventTypeOption(): Option {
  return new Option("--type <type>", "event type").choices(["add", "update", "delete"]).default("update");
}

/** A whole number ≥ 0. */
export const integer =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };

/** A number of seconds > 0. */
export function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number of seconds greater than 0");
  return n;
}

/** A duration as hooks.yaml writes one ("30s", "5m", "1h30m"), kept as written. */
export function duration(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError('expected a duration such as "30s", "5m" or "1h30m" (a number needs its unit)');
  }
  return value;
}

/** A repeatable option's values, in command-line order. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];
