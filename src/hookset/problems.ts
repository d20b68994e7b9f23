// Problems in hooks.yaml and where they are: every message names file:line:column, the path
// and what was expected. The Reporter maps a path in the document to its YAML source position.
import { isCollection, isMap, isPair, isScalar, type Document, type LineCounter, type Node } from "yaml";

export type Segment = string | number;

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

/** Problems listed in a message; past that, a count (a broken file can have thousands). */
export const MAX_PROBLEMS = 50;
/** Quoted values in messages are cut to this many characters: a value can be a megabyte long. */
export const MAX_QUOTED_CHARS = 80;

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** One problem a line, at most MAX_PROBLEMS of them, then "and N more problem(s)". */
export function formatProblems(problems: readonly SpecProblem[]): string {
  const lines = problems.slice(0, MAX_PROBLEMS).map(formatProblem);
  const more = problems.length - MAX_PROBLEMS;
  if (more > 0) lines.push(`and ${more} more problem${more === 1 ? "" : "s"}`);
  return lines.join("\n");
}

export class SpecError extends Error {
  override name = "SpecError";
  constructor(readonly problems: SpecProblem[]) {
    super(formatProblems(problems));
  }
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A quoted string cut to MAX_QUOTED_CHARS, still closed by its quote (an escape is not cut in half). */
function cutQuoted(quoted: string): string {
  if (quoted.length <= MAX_QUOTED_CHARS) return quoted;
  return `${quoted.slice(0, MAX_QUOTED_CHARS - 2).replace(/\\[^"]{0,4}$/, "")}…"`;
}

/** Every double-quoted value in a message, cut: messages from step and trigger checks quote values too. */
function shortenQuoted(message: string): string {
  return message.replace(/"(?:[^"\\\n]|\\.)*"/g, cutQuoted);
}

/** Where problems are reported: positions come from the YAML document. */
export class Reporter {
  readonly problems: SpecProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Reports at the value at `path` (or, with `key`, at that key of the map at `path`). */
  at(path: Segment[], message: string, key?: string): void {
    this.push(this.offset(path, key), formatInstancePath(path), message);
  }

  /** Reports at an offset in the text (a YAML syntax error, a limit), with no path. */
  atOffset(offset: number, message: string): void {
    this.push(offset, "", message);
  }

  private push(offset: number, path: string, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path, message: shortenQuoted(message) });
  }

  private offset(path: Segment[], key?: string): number {
    // Walk down as far as the document goes: a missing node reports at its nearest parent.
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      const next = isCollection(node) ? node.get(segment, true) : undefined;
      if (next === undefined || next === null) break;
      node = next;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
    return (node as Node | null)?.range?.[0] ?? 0;
  }
}

export function formatInstancePath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out ? `.${cut(segment, MAX_QUOTED_CHARS)}` : cut(segment, MAX_QUOTED_CHARS);
  }
  return out;
}

/** Problems once each, in document order. */
export function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
