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

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

export class SpecError extends Error {
  override name = "SpecError";
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
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
    const offset = this.offset(path, key);
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path: formatInstancePath(path), message });
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
    else out += out ? `.${segment}` : segment;
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
