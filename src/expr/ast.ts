// CEL source to syntax tree: the parse every module of src/expr shares, the one rewrite of the
// source before it (hyphenated step names), and what the analyses (references.ts, infer.ts,
// estimate.ts) read of the protobuf tree @bufbuild/cel's parser returns.
import { parse } from "@bufbuild/cel";
import { ExpressionError } from "./errors.js";

export type ParsedExpression = ReturnType<typeof parse>;

/** A node of the parsed tree, as far as the analyses read it. */
export interface ExprNode {
  exprKind: { case: string | undefined; value?: unknown };
}

/** A node's kind and its fields (undefined for anything that is not a node). */
export function kindOf(node: unknown): { case: string | undefined; value: Record<string, unknown> } | undefined {
  if (!node || typeof node !== "object") return undefined;
  const kind = (node as ExprNode).exprKind;
  if (!kind) return undefined;
  return { case: kind.case, value: (kind.value ?? {}) as Record<string, unknown> };
}

/** Parses `source` as it is written; ExpressionError naming the syntax problem. */
export function parseOrThrow(source: string): ParsedExpression {
  try {
    return parse(source);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ExpressionError(message.replace(/^syntax error: /, "").replace(/<input>:/g, ""));
  }
}

export function isIdent(node: unknown, name: string): boolean {
  const kind = (node as ExprNode | undefined)?.exprKind;
  return kind?.case === "identExpr" && (kind.value as { name?: string }).name === name;
}

/** The value of a string constant node; undefined for any other node. */
export function constantString(node: unknown): string | undefined {
  const kind = (node as ExprNode | undefined)?.exprKind;
  if (kind?.case !== "constExpr") return undefined;
  const constant = (kind.value as { constantKind?: { case?: string; value?: unknown } }).constantKind;
  return constant?.case === "stringValue" ? String(constant.value) : undefined;
}

/**
 * Step names are DNS labels, so `steps.smoke-job.output` is how users write a step's output, but
 * CEL reads it as `steps.smoke - job.output`. A hyphenated name right after the root variable
 * `steps.` is read whole: rewritten to `steps["smoke-job"]` before parsing (string literals are
 * left alone). Subtracting a variable from a step's output without spaces is the only reading
 * this takes away, and no such variable exists.
 */
export function quoteHyphenatedStepNames(source: string): string {
  if (!source.includes("steps.")) return source;
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '"' || c === "'") {
      const end = stringLiteralEnd(source, i);
      out += source.slice(i, end);
      i = end;
      continue;
    }
    if (source.startsWith("steps.", i) && !/[A-Za-z0-9_.]/.test(source[i - 1] ?? "")) {
      const name = /^[a-z0-9]+(?:-+[a-z0-9]+)+(?![A-Za-z0-9_])/.exec(source.slice(i + 6));
      if (name) {
        out += `steps[${JSON.stringify(name[0])}]`;
        i += 6 + name[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** The offset just after the string literal that starts at `start` (single, double or triple quotes). */
function stringLiteralEnd(source: string, start: number): number {
  const quote = source[start]!;
  const triple = source.startsWith(quote.repeat(3), start);
  const close = triple ? quote.repeat(3) : quote;
  let i = start + close.length;
  while (i < source.length) {
    if (source[i] === "\\") {
      i += 2;
      continue;
    }
    if (source.startsWith(close, i)) return i + close.length;
    i++;
  }
  return source.length;
}
