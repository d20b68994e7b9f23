// CEL is the one expression language of resource-hooks: trigger conditions (`when`), step
// conditions (`if`) and template placeholders all go through this module, so users learn one
// language and nothing is ever evaluated with eval/new Function.
import {
  celEnv,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  parse,
  plan,
  type CelInput,
  type CelValue,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

export interface CompiledExpression {
  readonly source: string;
  /** Top-level variables the expression reads (comprehension variables excluded). */
  readonly variables: ReadonlySet<string>;
  /** Names X of every `steps.X` / `steps["X"]` the expression reads. */
  readonly stepReferences: ReadonlySet<string>;
  evaluate(variables: Readonly<Record<string, unknown>>): unknown;
}

const env = celEnv({ funcs: strings });
const compiledCache = new Map<string, CompiledExpression>();

/** Parses and plans a CEL expression; throws ExpressionError naming the syntax problem. */
export function compileExpression(source: string): CompiledExpression {
  const cached = compiledCache.get(source);
  if (cached) return cached;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    throw new ExpressionError(cleanParseMessage(err));
  }
  const program = plan(env, parsed);
  const variables = new Set<string>();
  const stepReferences = new Set<string>();
  const paths: AccessPaths = new Map();
  collectReferences(parsed.expr, new Set(), variables, stepReferences, paths);
  const compiled: CompiledExpression = {
    source,
    variables,
    stepReferences,
    evaluate(vars) {
      // Only what the expression reads is converted: the variables it names and, where it only
      // selects fields (object.metadata.name), just those fields. A scope holds whole objects.
      const bindings: Record<string, CelInput> = {};
      for (const name of variables) {
        if (!(name in vars)) continue;
        const used = paths.get(name);
        bindings[name] = used === undefined || used === "whole" ? toCel(vars[name]) : toCel(prune(vars[name], used));
      }
      const result = program(bindings);
      if (isCelError(result)) throw new ExpressionError(result.message);
      return fromCel(result);
    },
  };
  if (compiledCache.size > 10_000) compiledCache.clear();
  compiledCache.set(source, compiled);
  return compiled;
}

/** Evaluates a condition; anything but boolean true/false is an error, as in Kubernetes' CEL. */
export function evaluateCondition(expr: CompiledExpression, vars: Readonly<Record<string, unknown>>): boolean {
  const value = expr.evaluate(vars);
  if (typeof value !== "boolean") {
    throw new ExpressionError(`condition ${JSON.stringify(expr.source)} gave ${describeType(value)}, expected a boolean`);
  }
  return value;
}

function cleanParseMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^syntax error: /, "").replace(/<input>:/g, "");
}

/** Per variable, the field paths an expression selects, or "whole" when it uses the value itself. */
type AccessPaths = Map<string, string[][] | "whole">;

function addPath(paths: AccessPaths, name: string, path: string[] | "whole"): void {
  const known = paths.get(name);
  if (known === "whole") return;
  if (path === "whole" || path.length === 0) paths.set(name, "whole");
  else paths.set(name, [...(known ?? []), path]);
}

/** A copy of `value` holding only the given paths (each with its whole subtree). */
function prune(value: unknown, paths: string[][]): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const groups = new Map<string, string[][]>();
  for (const [head, ...rest] of paths) {
    const list = groups.get(head!) ?? [];
    list.push(rest);
    groups.set(head!, list);
  }
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const [key, rests] of groups) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    out[key] = rests.some((r) => r.length === 0) ? source[key] : prune(source[key], rests);
  }
  return out;
}

/** The variable and field path of a pure selection chain such as object.metadata["name"]. */
function selectionChain(node: unknown): { root: string; path: string[] } | undefined {
  const path: string[] = [];
  let at = node as ExprNode | undefined;
  for (;;) {
    const kind = at?.exprKind;
    if (kind?.case === "selectExpr") {
      const value = kind.value as { operand?: ExprNode; field?: string; testOnly?: boolean };
      path.unshift(String(value.field));
      at = value.operand;
    } else if (kind?.case === "callExpr" && (kind.value as { function?: string }).function === "_[_]") {
      const args = ((kind.value as { args?: unknown[] }).args ?? []) as ExprNode[];
      const key = constantString(args[1]);
      if (key === undefined) return undefined;
      path.unshift(key);
      at = args[0];
    } else if (kind?.case === "identExpr") {
      return { root: String((kind.value as { name?: string }).name), path };
    } else {
      return undefined;
    }
  }
}

interface ExprNode {
  exprKind: { case: string | undefined; value?: unknown };
}

// Walks the protobuf AST that @bufbuild/cel's parser returns. Comprehensions (all, exists,
// map, filter) bind their own variables, which are not top-level variables.
function collectReferences(node: unknown, bound: Set<string>, vars: Set<string>, steps: Set<string>, paths: AccessPaths): void {
  if (!node || typeof node !== "object") return;
  const kind = (node as ExprNode).exprKind;
  if (!kind) return;
  const value = kind.value as Record<string, unknown> | undefined;
  const chain = kind.case === "selectExpr" || kind.case === "callExpr" ? selectionChain(node) : undefined;
  if (chain && !bound.has(chain.root)) {
    vars.add(chain.root);
    addPath(paths, chain.root, chain.path);
    if (chain.root === "steps" && chain.path[0] !== undefined) steps.add(chain.path[0]);
    return;
  }
  switch (kind.case) {
    case "identExpr": {
      const name = String(value?.name);
      if (!bound.has(name)) {
        vars.add(name);
        addPath(paths, name, "whole");
      }
      return;
    }
    case "selectExpr": {
      const operand = value?.operand as ExprNode | undefined;
      if (isIdent(operand, "steps") && !bound.has("steps")) steps.add(String(value?.field));
      collectReferences(operand, bound, vars, steps, paths);
      return;
    }
    case "callExpr": {
      const args = (value?.args as unknown[]) ?? [];
      if (value?.function === "_[_]" && isIdent(args[0], "steps") && !bound.has("steps")) {
        const key = constantString(args[1]);
        if (key !== undefined) steps.add(key);
      }
      collectReferences(value?.target, bound, vars, steps, paths);
      for (const arg of args) collectReferences(arg, bound, vars, steps, paths);
      return;
    }
    case "listExpr":
      for (const element of (value?.elements as unknown[]) ?? []) collectReferences(element, bound, vars, steps, paths);
      return;
    case "structExpr":
      for (const entry of (value?.entries as Array<Record<string, unknown>>) ?? []) {
        collectReferences(entry.mapKey, bound, vars, steps, paths);
        collectReferences(entry.value, bound, vars, steps, paths);
      }
      return;
    case "comprehensionExpr": {
      const inner = new Set(bound);
      for (const key of ["iterVar", "iterVar2", "accuVar"]) {
        if (typeof value?.[key] === "string" && value[key]) inner.add(value[key] as string);
      }
      collectReferences(value?.iterRange, bound, vars, steps, paths);
      collectReferences(value?.accuInit, inner, vars, steps, paths);
      collectReferences(value?.loopCondition, inner, vars, steps, paths);
      collectReferences(value?.loopStep, inner, vars, steps, paths);
      collectReferences(value?.result, inner, vars, steps, paths);
      return;
    }
    default:
      return;
  }
}

function isIdent(node: unknown, name: string): boolean {
  const kind = (node as ExprNode | undefined)?.exprKind;
  return kind?.case === "identExpr" && (kind.value as { name?: string }).name === name;
}

function constantString(node: unknown): string | undefined {
  const kind = (node as ExprNode | undefined)?.exprKind;
  if (kind?.case !== "constExpr") return undefined;
  const constant = (kind.value as { constantKind?: { case?: string; value?: unknown } }).constantKind;
  return constant?.case === "stringValue" ? String(constant.value) : undefined;
}

// Objects are converted once and reused: a run evaluates many placeholders over the same
// (possibly large) objects. Callers never mutate a scope after handing it to an expression.
const converted = new WeakMap<object, CelInput>();

// JSON integers become CEL ints (as Kubernetes' CEL does for integer fields), so that
// `object.spec.replicas + 1` works; other numbers stay doubles.
function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (typeof value === "string" || typeof value === "boolean" || typeof value === "bigint") return value;
  if (value instanceof Uint8Array) return value;
  if (typeof value !== "object") return String(value);
  const cached = converted.get(value);
  if (cached !== undefined) return cached;
  let out: CelInput;
  if (Array.isArray(value)) {
    out = value.map(toCel);
  } else {
    const map: Record<string, CelInput> = {};
    for (const [k, v] of Object.entries(value)) map[k] = toCel(v);
    out = map as unknown as CelInput;
  }
  converted.set(value, out);
  return out;
}

/** Turns a CEL result back into plain JSON-compatible JavaScript. */
function fromCel(value: CelValue): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number") return value;
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (isCelUint(value)) return fromCel(value.value);
  if (isCelList(value)) return Array.from(value, fromCel);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(isCelUint(k) ? k.value : k)] = fromCel(v);
    return out;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return wellKnownToString(value);
}

function wellKnownToString(value: object): unknown {
  const message = (value as { message?: { $typeName?: string; seconds?: bigint; nanos?: number } }).message;
  if (message?.$typeName === "google.protobuf.Timestamp") {
    const ms = Number(message.seconds ?? 0n) * 1000 + Math.floor((message.nanos ?? 0) / 1e6);
    return new Date(ms).toISOString();
  }
  if (message?.$typeName === "google.protobuf.Duration") {
    const seconds = Number(message.seconds ?? 0n) + (message.nanos ?? 0) / 1e9;
    return `${seconds}s`;
  }
  return String(value);
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}
