// Templates are strings with `{{ <CEL expression> }}` placeholders. A string that is exactly one
// placeholder keeps the expression's type (a map stays a map in a request body); otherwise each
// placeholder is interpolated as text (maps and lists as JSON). Written here rather than taken from
// a template library because the placeholders must be the same CEL as conditions, and the common
// engines with expressions (Handlebars, lodash.template) compile with new Function.
import { compileExpression, ExpressionError, type CompiledExpression } from "./cel.js";

export type TemplatePart = { text: string } | { expr: CompiledExpression };

export interface ParsedTemplate {
  readonly parts: readonly TemplatePart[];
  /** Set when the whole string is one placeholder: its value keeps its type. */
  readonly whole?: CompiledExpression;
}

const OPEN = "{{";
const CLOSE = "}}";

export function parseTemplate(source: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf(OPEN, at);
    if (open < 0) {
      parts.push({ text: source.slice(at) });
      break;
    }
    if (open > at) parts.push({ text: source.slice(at, open) });
    const close = source.indexOf(CLOSE, open + OPEN.length);
    if (close < 0) throw new ExpressionError(`"{{" at offset ${open} has no closing "}}"`);
    const body = source.slice(open + OPEN.length, close).trim();
    if (!body) throw new ExpressionError(`empty placeholder at offset ${open}`);
    parts.push({ expr: compileExpression(body) });
    at = close + CLOSE.length;
  }
  const only = parts.length === 1 ? parts[0] : undefined;
  return only && "expr" in only ? { parts, whole: only.expr } : { parts };
}

const parsedCache = new Map<string, ParsedTemplate>();

function cachedTemplate(source: string): ParsedTemplate {
  let parsed = parsedCache.get(source);
  if (!parsed) {
    parsed = parseTemplate(source);
    if (parsedCache.size > 10_000) parsedCache.clear();
    parsedCache.set(source, parsed);
  }
  return parsed;
}

export function renderString(source: string, scope: Readonly<Record<string, unknown>>): unknown {
  if (!source.includes(OPEN)) return source;
  const template = cachedTemplate(source);
  if (template.whole) return template.whole.evaluate(scope);
  let out = "";
  for (const part of template.parts) {
    if ("text" in part) out += part.text;
    else out += stringify(part.expr.evaluate(scope));
  }
  return out;
}

/** Renders every string inside a JSON-like value (keys are left alone). */
export function renderValue<T>(value: T, scope: Readonly<Record<string, unknown>>): T {
  return renderAny(value, scope) as T;
}

function renderAny(value: unknown, scope: Readonly<Record<string, unknown>>): unknown {
  if (typeof value === "string") return renderString(value, scope);
  if (Array.isArray(value)) return value.map((v) => renderAny(v, scope));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderAny(v, scope);
    return out;
  }
  return value;
}

/** Every template string inside a value, with its JSON-pointer-like path segments. */
export function* templateStrings(value: unknown, path: (string | number)[] = []): Generator<{ path: (string | number)[]; source: string }> {
  if (typeof value === "string") {
    if (value.includes(OPEN)) yield { path, source: value };
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* templateStrings(value[i], [...path, i]);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) yield* templateStrings(v, [...path, k]);
  }
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
