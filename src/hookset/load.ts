// Loads hooks.yaml: YAML with source positions, the JSON Schema, then the checks a schema cannot
// express (build.ts). Every problem names file:line:column, the path and what was expected.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { isScalar, LineCounter, parseAllDocuments, type Document } from "yaml";
import { buildHookSet } from "./build.js";
import { Reporter, SpecError, sortProblems } from "./problems.js";
import { hookSetSchema } from "./schema.js";
import { reportSchemaErrors } from "./schema-errors.js";
import type { HookSet, HookSetDocument } from "./types.js";

export {
  DEFAULT_CEL_COST_LIMIT,
  DEFAULT_DEADLINE_MS,
  DEFAULT_KEEP_PER_HOOK,
  DEFAULT_NAMESPACE,
  DEFAULT_RETENTION_TTL_MS,
  DEFAULT_RUNNER_IMAGE,
  MAX_DEADLINE_MS,
} from "./build.js";
export { formatInstancePath, formatProblem, SpecError, type SpecProblem } from "./problems.js";

export function loadHookSetFile(file: string): HookSet {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SpecError([
      { file, line: 1, column: 1, path: "", message: `cannot read file: ${(err as Error).message}` },
    ]);
  }
  return parseHookSet(decodeText(bytes, file), file);
}

const NOT_TEXT = "not a text file: hooks.yaml is YAML in UTF-8";

/**
 * The file's text, or a SpecError naming where the first byte that is not UTF-8 text is. The bytes
 * themselves are never echoed (a binary file or an encrypted secret would fill the terminal).
 */
export function decodeText(bytes: Uint8Array, file: string): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // The first offending byte: decode ever shorter prefixes is quadratic, so walk the sequences.
    const offset = firstInvalidUtf8(bytes);
    const before = Buffer.from(bytes.subarray(0, offset)).toString("utf8");
    const { line, column } = lineColumn(before, before.length);
    throw new SpecError([{ file, line, column, path: "", message: `${NOT_TEXT} (byte ${offset} is not valid UTF-8)` }]);
  }
  return text;
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return i;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** NUL and the C0 controls YAML forbids (tab, LF and CR are allowed): the marks of a binary file. */
// eslint-disable-next-line no-control-regex
const BINARY_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addKeyword("patternErrorMessage");
    validator = ajv.compile(hookSetSchema());
  }
  return validator;
}

/** No content at all: nothing, or the empty scalar after a bare "---". */
function isBlank(contents: unknown): boolean {
  return (
    contents === null || contents === undefined || (isScalar(contents) && contents.value === null && !contents.source)
  );
}

export function parseHookSet(text: string, file: string): HookSet {
  const binary = BINARY_CHARACTER.exec(text);
  if (binary) {
    const { line, column } = lineColumn(text, binary.index);
    throw new SpecError([
      {
        file,
        line,
        column,
        path: "",
        message: `${NOT_TEXT} (a control character, U+${binary[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}, is not allowed in YAML)`,
      },
    ]);
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // Documents that hold nothing (a leading or trailing "---", comments) are harmless.
  const all: Document[] = Array.isArray(docs) ? docs : [];
  const used = all.filter((d) => d.errors.length > 0 || !isBlank(d.contents));
  const doc = used[0];
  if (!doc)
    throw new SpecError([
      {
        file,
        line: 1,
        column: 1,
        path: "",
        message: "the file is empty: expected a HookSet (apiVersion: resource-hooks.io/v1alpha1, kind: HookSet)",
      },
    ]);
  if (used.length > 1) {
    const second = used[1]!;
    const { line, col } = lines.linePos(second.range?.[0] ?? 0);
    const others = ` (the file has ${used.length})`;
    throw new SpecError([
      {
        file,
        line,
        column: col,
        path: "",
        message: `a second YAML document starts here${others}: hooks.yaml holds exactly one HookSet; put each HookSet in a file of its own, or remove the "---" line`,
      },
    ]);
  }
  const reporter = new Reporter(file, doc, lines);
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const { line, col } = lines.linePos(err.pos[0]);
      reporter.problems.push({
        file,
        line,
        column: col,
        path: "",
        message: `invalid YAML: ${err.message.split("\n")[0]}`,
      });
    }
    throw new SpecError(reporter.problems);
  }
  const data: unknown = doc.toJS();
  const validate = schemaValidator();
  if (!validate(data)) {
    reportSchemaErrors(validate.errors ?? [], data, reporter);
    throw new SpecError(sortProblems(reporter.problems));
  }
  const hookSet = buildHookSet(data as HookSetDocument, text, reporter);
  if (reporter.problems.length > 0) throw new SpecError(sortProblems(reporter.problems));
  return hookSet;
}
