// Loads hooks.yaml: YAML with source positions, the JSON Schema, then the checks a schema cannot
// express (build.ts). Every problem names file:line:column, the path and what was expected.
import { Ajv, type ValidateFunction } from "ajv";
import { LineCounter, type Document } from "yaml";
import { buildHookSet } from "./build.js";
import {
  hookSetTooLarge,
  InputTooLarge,
  isBlank,
  MAX_HOOKSET_BYTES,
  parseYamlDocuments,
  readBounded,
  toData,
  YamlLimitError,
} from "./input.js";
import { Reporter, SpecError, sortProblems, type SpecProblem } from "./problems.js";
import { hookSetSchema } from "./schema.js";
import { reportSchemaErrors } from "./schema-errors.js";
import type { HookSet, HookSetDocument } from "./types.js";

export { formatInstancePath, formatProblem, SpecError, type SpecProblem } from "./problems.js";

/** Loads hooks.yaml from a file, or from an open descriptor (0: stdin) named `file` in problems. */
export function loadHookSetFile(file: string, fd?: number): HookSet {
  let bytes: Buffer;
  try {
    bytes = readBounded(fd ?? file, MAX_HOOKSET_BYTES);
  } catch (err) {
    const message =
      err instanceof InputTooLarge ? hookSetTooLarge(err.bytes) : `cannot read file: ${(err as Error).message}`;
    throw new SpecError([{ file, line: 1, column: 1, path: "", message }]);
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

/** The length of the UTF-8 sequence a lead byte starts; 0 for a byte that cannot start one. */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes[i]!);
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

function problemAt(file: string, lines: LineCounter, offset: number, message: string): SpecProblem {
  const { line, col } = lines.linePos(offset);
  return { file, line, column: col, path: "", message };
}

/** The one YAML document of hooks.yaml, or the problems that keep it from being one. */
function theDocument(text: string, file: string, lines: LineCounter): Document.Parsed {
  let all: Document.Parsed[];
  try {
    all = parseYamlDocuments(text, { lineCounter: lines });
  } catch (err) {
    if (!(err instanceof YamlLimitError)) throw err;
    throw new SpecError([problemAt(file, lines, err.offset, err.message)]);
  }
  // Documents that hold nothing (a leading or trailing "---", comments) are harmless.
  const used = all.filter((d) => d.errors.length > 0 || !isBlank(d.contents));
  const doc = used[0];
  if (!doc)
    throw new SpecError([
      problemAt(
        file,
        lines,
        0,
        "the file is empty: expected a HookSet (apiVersion: resource-hooks.io/v1alpha1, kind: HookSet)",
      ),
    ]);
  if (used.length > 1) {
    const message =
      `a second YAML document starts here (the file has ${used.length}): hooks.yaml holds exactly one HookSet; ` +
      'put each HookSet in a file of its own, or remove the "---" line';
    throw new SpecError([problemAt(file, lines, used[1]!.range?.[0] ?? 0, message)]);
  }
  return doc;
}

export function parseHookSet(text: string, file: string): HookSet {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_HOOKSET_BYTES)
    throw new SpecError([{ file, line: 1, column: 1, path: "", message: hookSetTooLarge(bytes) }]);
  const binary = BINARY_CHARACTER.exec(text);
  if (binary) {
    const { line, column } = lineColumn(text, binary.index);
    const code = binary[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase();
    const message = `${NOT_TEXT} (a control character, U+${code}, is not allowed in YAML)`;
    throw new SpecError([{ file, line, column, path: "", message }]);
  }
  const lines = new LineCounter();
  const doc = theDocument(text, file, lines);
  const reporter = new Reporter(file, doc, lines);
  if (doc.errors.length > 0) {
    for (const err of doc.errors) reporter.atOffset(err.pos[0], `invalid YAML: ${err.message.split("\n")[0]}`);
    throw new SpecError(reporter.problems);
  }
  let data: unknown;
  try {
    data = toData(doc);
  } catch (err) {
    if (!(err instanceof YamlLimitError)) throw err;
    reporter.atOffset(err.offset, err.message);
    throw new SpecError(reporter.problems);
  }
  const validate = schemaValidator();
  if (!validate(data)) {
    reportSchemaErrors(validate.errors ?? [], data, reporter);
    throw new SpecError(sortProblems(reporter.problems));
  }
  const hookSet = buildHookSet(data as HookSetDocument, text, reporter);
  if (reporter.problems.length > 0) throw new SpecError(sortProblems(reporter.problems));
  return hookSet;
}
