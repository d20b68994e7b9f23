// What a file may cost before anything believes it: hooks.yaml and the object files users hand
// the CLI are read up to a size limit, their YAML parsed to a bounded nesting depth, and aliases
// expanded a bounded number of times. A "billion laughs" file, a megabyte of "[" or /dev/zero
// are refused in milliseconds instead of filling memory or the stack.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Composer, isScalar, Lexer, Parser, visit, YAMLParseError, type Document, type LineCounter } from "yaml";

/** What one Kubernetes object holds, a ConfigMap included: the limit of every file the CLI reads. */
export const MAX_INPUT_BYTES = 1024 * 1024;
/** hooks.yaml travels to the runner in a ConfigMap, beside that ConfigMap's own metadata. */
export const MAX_HOOKSET_BYTES = MAX_INPUT_BYTES - 4096;
/** Deeper than any Kubernetes object nests; the parser and every walk over the data recurse. */
export const MAX_NESTING = 100;
/** How often aliases may be expanded (the yaml package's own default, stated here). */
export const MAX_YAML_ALIASES = 100;

/** Why hooks.yaml of `bytes` bytes (undefined: more than the limit) cannot be used. */
export function hookSetTooLarge(bytes: number | undefined): string {
  return (
    `hooks.yaml is ${bytes ?? `more than ${MAX_HOOKSET_BYTES}`} bytes; the runner reads it from a ConfigMap, ` +
    `and a ConfigMap holds at most 1 MiB (${MAX_INPUT_BYTES} bytes, less its metadata): ` +
    "split the hooks into several HookSets"
  );
}

/** A file (or stream) larger than the limit it was read with; `bytes` when its size was known up front. */
export class InputTooLarge extends Error {
  override name = "InputTooLarge";
  constructor(
    readonly limit: number,
    readonly bytes?: number,
  ) {
    super(`the file is ${bytes ?? `more than ${limit}`} bytes; at most ${limit} bytes are read`);
  }
}

/**
 * The bytes of a file, or of an open descriptor (0: stdin), refusing more than `limit`: a regular
 * file by its size before reading, a pipe or device after `limit` bytes.
 */
export function readBounded(source: string | number, limit: number = MAX_INPUT_BYTES): Buffer {
  const fd = typeof source === "number" ? source : openSync(source, "r");
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > limit) throw new InputTooLarge(limit, stat.size);
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      total += n;
      if (total > limit) throw new InputTooLarge(limit);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
  } finally {
    if (typeof source !== "number") closeSync(fd);
  }
}

/** YAML the parser refuses to go on with; `offset` is where in the text. */
export class YamlLimitError extends Error {
  override name = "YamlLimitError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/**
 * Duplicate keys, which the composer finds by comparing each key with every earlier key of its
 * map (a megabyte of `k: v` lines takes minutes): one pass per map here, same error.
 */
function reportDuplicateKeys(doc: Document.Parsed): void {
  const found: YAMLParseError[] = [];
  // Hundreds of thousands of errors in a hostile file: their stack traces would cost seconds and say nothing.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    visitMaps(doc, found);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (found.length === 0) return;
  // One by one: a spread of a few hundred thousand arguments overflows the stack.
  for (const error of found) doc.errors.push(error);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

function visitMaps(doc: Document.Parsed, found: YAMLParseError[]): void {
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = `${typeof pair.key.value}:${String(pair.key.value)}`;
        const at = pair.key.range?.[0] ?? 0;
        if (seen.has(key)) found.push(new YAMLParseError([at, at + 1], "DUPLICATE_KEY", "Map keys must be unique"));
        seen.add(key);
      }
    },
  });
}

/**
 * The YAML documents of `text`, as the yaml package's parseAllDocuments gives them (duplicate
 * keys are errors), but refusing nesting deeper than MAX_NESTING as soon as the parser reaches
 * it: the composer and toJS recurse once per level, and the parser slows down with depth.
 */
export function parseYamlDocuments(text: string, options: { lineCounter?: LineCounter } = {}): Document.Parsed[] {
  const parser = new Parser(options.lineCounter?.addNewLine);
  options.lineCounter?.addNewLine(0);
  const tokens = [];
  // The parser's stack holds the document, each open collection and the node being read.
  const deepest = MAX_NESTING + 2;
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    if (parser.stack.length > deepest)
      throw new YamlLimitError(`nested more than ${MAX_NESTING} levels deep`, parser.offset);
  }
  for (const token of parser.end()) tokens.push(token);
  const docs = Array.from(new Composer({ prettyErrors: false, uniqueKeys: false, logLevel: "error" }).compose(tokens));
  // logLevel "error": the yaml package would print its warnings (a map used as a key) on stderr.
  for (const doc of docs) reportDuplicateKeys(doc);
  return docs;
}

/** A document's data, refusing more than MAX_YAML_ALIASES alias expansions (at the first alias). */
export function toData(doc: Document): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    let offset = 0;
    visit(doc, {
      Alias(_key, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const excessive = /excessive alias count/i.test(err.message);
    throw new YamlLimitError(
      excessive
        ? `aliases (*name) expand to too much data: at most ${MAX_YAML_ALIASES} expansions of an anchor (&name)`
        : err.message,
      offset,
    );
  }
}

/** No content at all: nothing, or the empty scalar after a bare "---". */
export function isBlank(contents: unknown): boolean {
  return (
    contents === null || contents === undefined || (isScalar(contents) && contents.value === null && !contents.source)
  );
}
