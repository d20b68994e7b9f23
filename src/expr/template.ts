// Templates are strings with `{{ <CEL expression> }}` placeholders. A string that is exactly one
// placeholder keeps the expression's type (a map stays a map in a request body); otherwise each
// placeholder is interpolated as text (maps and lists as JSON). Written here rather than taken from
// a template library because the placeholders must be the same CEL as conditions, and the common
// engines with expressions (Handlebars, lodash.template) compile with new Function.
//
// URL fields are rendered with renderUrl: each placeholder's value is percent-encoded as RFC 6570's
// simple expansion `{var}` does (everything but unreserved characters; in a path segment ":"
// stays too), so a value cannot change the host, path, query or fragment it lands in.
// `{{+ expr }}` inserts the value unencoded, as RFC 6570's reserved expansion `{+var}` does (only
// characters never allowed in a URL are encoded): for a base URL or a path that comes whole from
// an expression.
import { compileExpression, type CompiledExpression } from "./cel.js";
import { withCostLimit, type EvaluationOptions } from "./cost.js";
import { ExpressionError } from "./errors.js";
import { setOwn } from "./values.js";

export type TemplatePart =
  | { text: string }
  | { expr: CompiledExpression; /** Written `{{+ expr }}`: inserted into URLs unencoded. */ raw?: boolean };

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
    let body = source.slice(open + OPEN.length, close).trim();
    // CEL has no unary plus, so a leading "+" is never part of an expression.
    const raw = body.startsWith("+");
    if (raw) body = body.slice(1).trim();
    if (!body) throw new ExpressionError(`empty placeholder at offset ${open}`);
    parts.push(raw ? { expr: compileExpression(body), raw } : { expr: compileExpression(body) });
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

/**
 * Renders one template string. All placeholders of one call share one cost budget
 * (options.costLimit, default DEFAULT_CEL_COST_LIMIT) and stop at options.deadline.
 */
export function renderString(
  source: string,
  scope: Readonly<Record<string, unknown>>,
  options?: EvaluationOptions,
): unknown {
  if (!source.includes(OPEN)) return source;
  const template = cachedTemplate(source);
  return withCostLimit(options, () => {
    if (template.whole) return template.whole.evaluate(scope);
    let out = "";
    for (const part of template.parts) {
      if ("text" in part) out += part.text;
      else out += stringify(part.expr.evaluate(scope));
    }
    return out;
  });
}

/** Renders every string inside a JSON-like value (keys are left alone), under one cost budget. */
export function renderValue<T>(value: T, scope: Readonly<Record<string, unknown>>, options?: EvaluationOptions): T {
  return withCostLimit(options, () => renderAny(value, scope)) as T;
}

function renderAny(value: unknown, scope: Readonly<Record<string, unknown>>): unknown {
  if (typeof value === "string") return renderString(value, scope);
  if (Array.isArray(value)) return value.map((v) => renderAny(v, scope));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, renderAny(v, scope));
    return out;
  }
  return value;
}

/** Every template string inside a value, with its JSON-pointer-like path segments. */
export function* templateStrings(
  value: unknown,
  path: (string | number)[] = [],
): Generator<{ path: (string | number)[]; source: string }> {
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

// ---------------------------------------------------------------------------------------------
// URL templates

export type UrlComponent = "start" | "authority" | "path" | "query" | "fragment";

/**
 * Renders a URL template: `{{ expr }}` values percent-encoded (RFC 6570 `{var}`), `{{+ expr }}`
 * values inserted as they are (RFC 6570 `{+var}`). A value that would make a whole path segment
 * `.` or `..` is refused: no encoding stops a URL parser from treating it as "go up".
 */
export function renderUrl(
  source: string,
  scope: Readonly<Record<string, unknown>>,
  options?: EvaluationOptions,
): string {
  if (!source.includes(OPEN)) return source;
  const template = cachedTemplate(source);
  return withCostLimit(options, () => {
    let out = "";
    const inPath: { start: number; end: number; expr: string }[] = [];
    for (const part of template.parts) {
      if ("text" in part) {
        out += part.text;
        continue;
      }
      const text = stringify(part.expr.evaluate(scope));
      if (part.raw) {
        out += encodeReserved(text);
        continue;
      }
      const component = urlComponentAt(out);
      const start = out.length;
      out += component === "path" ? encodePathSegment(text) : encodeUriComponentStrict(text);
      if (component === "path") inPath.push({ start, end: out.length, expr: part.expr.source });
    }
    for (const { start, end, expr } of inPath) {
      const segment = pathSegmentAround(out, start, end);
      if (isDotSegment(segment)) {
        throw new ExpressionError(
          `{{ ${expr} }} makes the URL path segment ${JSON.stringify(segment)}, ` +
            "which a URL parser reads as a step up or a no-op",
        );
      }
    }
    return out;
  });
}

/** Where text appended to `prefix` lands in a URL (prefix: the URL rendered so far). */
export function urlComponentAt(prefix: string): UrlComponent {
  if (prefix.includes("#")) return "fragment";
  if (prefix.includes("?")) return "query";
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(prefix);
  if (scheme) {
    const rest = prefix.slice(scheme[0].length);
    if (!rest.startsWith("//")) return "path";
    return rest.slice(2).includes("/") ? "path" : "authority";
  }
  if (prefix === "") return "start";
  // No scheme (a host/path such as a CDN prefix): the first segment is the host.
  return prefix.includes("/") ? "path" : "authority";
}

function pathSegmentAround(url: string, start: number, end: number): string {
  let from = start;
  while (from > 0 && url[from - 1] !== "/") from--;
  let to = end;
  while (to < url.length && !"/?#".includes(url[to]!)) to++;
  return url.slice(from, to);
}

/** "." or ".." as the WHATWG URL parser recognizes them (also percent-encoded: %2e). */
export function isDotSegment(segment: string): boolean {
  const plain = segment.replace(/%2e/gi, ".");
  return plain === "." || plain === "..";
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** RFC 3986 unreserved characters stay, everything else is percent-encoded (UTF-8). */
export function encodeUriComponentStrict(value: string): string {
  // encodeURIComponent throws on lone surrogates, which JSON data may hold.
  return encodeURIComponent(value.replace(LONE_SURROGATE, "\uFFFD")).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * A value inside a path segment: as encodeUriComponentStrict, but ":" stays (RFC 3986 allows it in
 * a segment, and after the authority it cannot start a scheme or a port: image tags and
 * timestamps keep their form).
 */
export function encodePathSegment(value: string): string {
  return encodeUriComponentStrict(value).replace(/%3A/g, ":");
}

const RESERVED_OR_UNRESERVED = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]/;

/** RFC 6570 reserved expansion: reserved and unreserved characters and %XX triplets stay. */
export function encodeReserved(value: string): string {
  const text = value.replace(LONE_SURROGATE, "\uFFFD");
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (RESERVED_OR_UNRESERVED.test(c)) out += c;
    else if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) out += c;
    else {
      const code = text.codePointAt(i)!;
      const char = String.fromCodePoint(code);
      out += encodeURIComponent(char);
      i += char.length - 1;
    }
  }
  return out;
}

/**
 * Problems of a URL template that the schema cannot see, for the steps' check(): a URL that
 * begins with an encoded placeholder can never be valid (its "://" would be encoded).
 */
export function urlTemplateProblems(source: string): string[] {
  let parsed: ParsedTemplate;
  try {
    parsed = parseTemplate(source);
  } catch {
    return []; // reported as a template error elsewhere
  }
  const first = parsed.parts[0];
  if (first && "expr" in first && !first.raw) {
    return [
      `the URL begins with {{ ${first.expr.source} }}, whose value is percent-encoded: ` +
        `write {{+ ${first.expr.source} }} to insert a base URL as it is`,
    ];
  }
  return [];
}
