// The CLI's file readers under hostile input, as a property: each reader ends with a value or the
// typed error the CLI reports, within a time bound. Run as a script (node --import tsx
// test/helpers/fuzz-readers.ts) with a heap limit, a run that needed unbounded memory dies: the
// caller sees the crash. FUZZ_RUNS and FUZZ_SEED set the number of cases and the seed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { withHook } from "../../src/cli/append-hook.js";
import { CliError, Failure } from "../../src/cli/exit.js";
import { loadHooks, readObject } from "../../src/cli/io.js";
import { readToken } from "../../src/cli/token.js";
import { parseHookSet, SpecError } from "../../src/hookset/load.js";

const example = readFileSync(join(import.meta.dirname, "../../examples/hooks.yaml"), "utf8");

/** The "billion laughs": `levels` levels of `width` aliases each. */
export function laughs(levels: number, width: number): string {
  const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(", ")}]`];
  for (let i = 1; i < levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(width)
        .fill(`*l${i - 1}`)
        .join(", ")}]`,
    );
  return `${lines.join("\n")}\n`;
}

/** Text that breaks parsers: deep, aliased, large, binary, or a valid file with a few bytes changed. */
export const hostile: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 500 }),
  fc.string({ unit: "binary", maxLength: 500 }),
  fc
    .tuple(fc.constantFrom("[", "{a: ", "- ", "? ", "a:\n ", "k: v\n", "&a "), fc.integer({ min: 1, max: 20_000 }))
    .map(([s, n]) => s.repeat(n)),
  fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 })).map(([l, w]) => laughs(l, w)),
  fc.integer({ min: 1, max: 5000 }).map((n) => `a: &a x\nb: [${"*a, ".repeat(n)}]\n`),
  fc.tuple(fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 5 })).map(([at, insert, drop]) => {
    const i = at % example.length;
    return example.slice(0, i) + insert + example.slice(i + drop);
  }),
);

const hook = {
  name: "z",
  on: { resource: { version: "v1", resource: "secrets" } },
  steps: [{ name: "s", log: { message: "m" } }],
};

/** A value or one of the errors the CLI reports; any other exception fails the property. */
function settles(read: () => unknown, typed: Array<abstract new (...args: never[]) => Error>): void {
  try {
    read();
  } catch (e) {
    if (!typed.some((T) => e instanceof T)) throw e;
  }
}

export const MAX_CASE_MS = 10_000;

/** The property over one file: every reader of the CLI, each with the errors it may end with. */
export function readersProperty(dir: string): fc.IPropertyWithHooks<[string]> {
  const file = join(dir, "case.yaml");
  return fc.property(hostile, (text) => {
    writeFileSync(file, text);
    const started = performance.now();
    settles(() => parseHookSet(text, "h.yaml"), [SpecError]);
    settles(() => loadHooks(file), [Failure]);
    settles(() => readObject(file, "--new"), [CliError]);
    settles(() => withHook(text, hook), [CliError]);
    readToken(file, undefined);
    const took = performance.now() - started;
    if (took > MAX_CASE_MS) throw new Error(`the readers took ${Math.round(took)} ms on ${text.length} characters`);
  });
}

if (process.argv[1] === import.meta.filename) {
  const dir = mkdtempSync(join(tmpdir(), "rh-fuzz-readers-"));
  try {
    const runs = Number(process.env.FUZZ_RUNS ?? 150);
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const details = fc.check(readersProperty(dir), { numRuns: runs, seed });
    if (details.failed) {
      process.stdout.write(`FAIL seed ${seed}: ${fc.defaultReportMessage(details) ?? ""}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`ok: ${runs} cases, seed ${seed}, heap ${process.memoryUsage().heapUsed} bytes\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
