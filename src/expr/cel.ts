// CEL is the one expression language of resource-hooks: trigger conditions (`when`), step
// conditions (`if`) and template placeholders all go through this module, so users learn one
// language and nothing is ever evaluated with eval/new Function.
//
// The hook author writes the expression, but the owner of a watched object controls the data it
// runs over, so every evaluation is bounded (see "Cost" below) and data reaches CEL as plain maps
// and lists whatever their keys (see "Data" below).
import {
  celEnv,
  celFunc,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  listType,
  CelScalar,
  parse,
  plan,
  type CelFunc,
  type CelInput,
  type CelList,
  type CelValue,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

/**
 * Cost units one evaluation may spend by default. A unit is one element visited in a map or list,
 * one field read, one function call, or ten characters a string function reads or writes. A unit
 * takes 100-300 ns in @bufbuild/cel on one core, so the default stops a runaway expression within
 * about 0.1 s; an ordinary comprehension over 4,000 annotations costs about 10,000.
 */
export const DEFAULT_CEL_COST_LIMIT = 500_000;

/** Strings an expression produces are refused beyond this length (characters). */
export const MAX_CEL_STRING_LENGTH = 4 * 1024 * 1024;

/** Results nested deeper than this are refused (they would overflow the stack when serialized). */
export const MAX_RESULT_DEPTH = 1000;

export interface EvaluationOptions {
  /** Cost units this evaluation may spend; default DEFAULT_CEL_COST_LIMIT. */
  costLimit?: number;
  /** Epoch milliseconds after which the evaluation stops (the step's or the run's deadline). */
  deadline?: number;
}

export interface CompiledExpression {
  readonly source: string;
  /** Top-level variables the expression reads (comprehension variables excluded). */
  readonly variables: ReadonlySet<string>;
  /** Names X of every `steps.X` / `steps["X"]` the expression reads. */
  readonly stepReferences: ReadonlySet<string>;
  /** Static worst-case cost estimate (see estimateCost), for `validate`. */
  readonly estimatedCost: number;
  /** Throws ExpressionError for any failure, including exceeding the cost limit or the deadline. */
  evaluate(variables: Readonly<Record<string, unknown>>, options?: EvaluationOptions): unknown;
}

// ---------------------------------------------------------------------------------------------
// Cost
//
// @bufbuild/cel (0.6) has no cost tracking, no cost limits and no static estimation (cel-go is the
// only CEL implementation that has them), and its evaluator is synchronous with no interruption
// hook. So the bound is built around it, where all work over data has to pass:
//   * data reaches CEL through the PlainMap/PlainList views below, which charge one unit per
//     element iterated and per field read: comprehensions over object data (the quadratic case)
//     are counted element by element;
//   * every function and operator is wrapped: one unit per call plus the size of its string
//     arguments and result, and `join`/`replace`/`+` are refused before they build a string longer
//     than MAX_CEL_STRING_LENGTH;
//   * list concatenation (the accumulator of `map` and `filter`) is replaced by an appending list
//     (@bufbuild/cel nests one lazy view per element, which makes iterating a mapped list quadratic
//     and uncounted);
//   * converting the result back to JSON counts one unit per element (a small expression can
//     return a list holding the same big list many times).
// Exceeding the limit or the deadline throws out of the evaluator; the meter stays exhausted, so an
// error that CEL semantics would absorb (`error || true`) cannot hide it. A worker thread with a
// hard deadline would bound time too, but would copy every scope across threads and make
// rendering asynchronous; counting keeps evaluation synchronous and cheap.

class CostExceeded extends Error {
  override name = "CostExceeded";
}

class Meter {
  used = 0;
  exceeded: string | undefined;
  private nextClockCheck = CLOCK_CHECK_EVERY;
  constructor(
    readonly limit: number,
    readonly deadline: number | undefined,
  ) {}

  charge(units: number): void {
    if (this.exceeded !== undefined) throw new CostExceeded(this.exceeded);
    this.used += units;
    if (this.used > this.limit) {
      this.exceeded = `the expression exceeded its cost limit of ${this.limit} (a comprehension over large data, or large strings)`;
      throw new CostExceeded(this.exceeded);
    }
    if (this.deadline !== undefined && this.used >= this.nextClockCheck) {
      this.nextClockCheck = this.used + CLOCK_CHECK_EVERY;
      if (Date.now() > this.deadline) {
        this.exceeded = "the expression ran past the step's deadline";
        throw new CostExceeded(this.exceeded);
      }
    }
  }
}

/** Units between two looks at the clock (Kubernetes checks every 100 comprehension iterations). */
const CLOCK_CHECK_EVERY = 1000;

// Evaluation is synchronous, so the meter of the evaluation in progress is a module variable.
let meter: Meter | undefined;

function charge(units: number): void {
  if (meter !== undefined) meter.charge(units);
}

/**
 * Runs `fn` under one meter. A metered call inside another (a template rendering several
 * placeholders) shares the outer meter, so a limit bounds the whole call the caller made.
 */
export function withCostLimit<T>(options: EvaluationOptions | undefined, fn: () => T): T {
  if (meter !== undefined) {
    if (options?.deadline !== undefined && Date.now() > options.deadline)
      throw new ExpressionError("the expression ran past the step's deadline");
    return fn();
  }
  const limit = options?.costLimit ?? DEFAULT_CEL_COST_LIMIT;
  if (!(limit > 0)) throw new ExpressionError(`invalid cost limit ${String(limit)}`);
  const own = new Meter(limit, options?.deadline);
  if (own.deadline !== undefined && Date.now() > own.deadline)
    throw new ExpressionError("the expression ran past the step's deadline");
  meter = own;
  try {
    return fn();
  } catch (err) {
    if (err instanceof CostExceeded) throw new ExpressionError(err.message);
    // A stack overflow on hostile nesting is an expression failure, never a crash.
    if (err instanceof RangeError) throw new ExpressionError(err.message);
    throw err;
  } finally {
    meter = undefined;
  }
}

const stringCost = (s: string): number => Math.floor(s.length / 10);

function sizeCost(value: CelValue | undefined): number {
  if (typeof value === "string") return stringCost(value);
  if (value instanceof Uint8Array) return Math.floor(value.length / 10);
  return 0;
}

function totalStringLength(list: CelValue | undefined): number {
  if (!isCelList(list)) return 0;
  let total = 0;
  for (const item of list) if (typeof item === "string") total += item.length;
  return total;
}

function tooLong(length: number): never {
  throw new CostExceeded(
    `the expression would build a string of ${length} characters (at most ${MAX_CEL_STRING_LENGTH})`,
  );
}

/** Refuses, before they run, the string functions whose result can be much larger than their input. */
function guardResultSize(name: string, target: CelValue | undefined, args: CelValue[]): void {
  if (name === "join" && isCelList(target)) {
    const separator = typeof args[0] === "string" ? args[0].length : 0;
    const length = totalStringLength(target) + separator * Math.max(0, target.size - 1);
    if (length > MAX_CEL_STRING_LENGTH) tooLong(length);
  } else if (
    name === "replace" &&
    typeof target === "string" &&
    typeof args[0] === "string" &&
    typeof args[1] === "string"
  ) {
    const [from, to] = [args[0], args[1]];
    if (to.length > from.length) {
      const occurrences = from.length === 0 ? target.length + 1 : Math.floor(target.length / from.length);
      const length = target.length + occurrences * (to.length - from.length);
      if (length > MAX_CEL_STRING_LENGTH) tooLong(length);
    }
  } else if (name === "_+_" && typeof args[0] === "string" && typeof args[1] === "string") {
    const length = args[0].length + args[1].length;
    if (length > MAX_CEL_STRING_LENGTH) tooLong(length);
  }
}

/** Functions that take O(1) whatever the size of their argument. */
const CONSTANT_TIME = new Set(["size", "type", "dyn"]);

// The wrapper inherits from the original CelFunc (its id, name, types and the library's brand),
// and only `call` is replaced.
function metered(fn: CelFunc): CelFunc {
  const constant = CONSTANT_TIME.has(fn.name);
  const wrapper = Object.create(fn) as CelFunc;
  Object.defineProperty(wrapper, "call", {
    value(id: number, target: CelValue | undefined, args: CelValue[]) {
      guardResultSize(fn.name, target, args);
      const result = fn.call(id, target, args);
      if (result !== undefined && meter !== undefined) {
        let units = 1;
        if (!constant) {
          units += sizeCost(target);
          for (const arg of args) units += sizeCost(arg);
          if (!isCelError(result)) units += sizeCost(result as CelValue);
        }
        meter.charge(units);
        if (typeof result === "string" && result.length > MAX_CEL_STRING_LENGTH) tooLong(result.length);
      }
      return result;
    },
  });
  return wrapper;
}

// ---------------------------------------------------------------------------------------------
// Data
//
// @bufbuild/cel turns plain JavaScript objects into maps only when `value.constructor.name` is
// "Object" and the object has no `$typeName` (else it is taken for a protobuf message): a label
// key `constructor` made a map unusable and `$typeName` turned one into a Timestamp. Its maps and
// lists are branded with registered symbols (Symbol.for), so these views, which read the JSON
// value in place with own-property lookups only, are maps and lists to CEL whatever the keys.
// They convert on access, so an expression that reads object.metadata.name converts two fields,
// not the whole object, and they charge the meter for every element they hand out.

const MAP_BRAND = Symbol.for("@bufbuild/cel/map");
const LIST_BRAND = Symbol.for("@bufbuild/cel/list");
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

class PlainMap {
  readonly [MAP_BRAND] = {};
  private keyList: string[] | undefined;
  constructor(readonly source: Readonly<Record<string, unknown>>) {}

  /** Own enumerable keys with a defined value (undefined is absent, as in JSON). */
  private ownKeys(): string[] {
    if (this.keyList === undefined) this.keyList = Object.keys(this.source).filter((k) => this.source[k] !== undefined);
    return this.keyList;
  }
  get size(): number {
    return this.ownKeys().length;
  }
  get(key: unknown): CelValue | undefined {
    charge(1);
    if (typeof key !== "string" || !hasOwn(this.source, key)) return undefined;
    const value = this.source[key];
    return value === undefined ? undefined : toCel(value);
  }
  has(key: unknown): boolean {
    charge(1);
    return typeof key === "string" && hasOwn(this.source, key) && this.source[key] !== undefined;
  }
  // Iteration charges the whole size up front: CEL's comprehensions copy the keys into an array
  // before looping anyway, and one charge per element would cost more than the loop itself.
  keys(): IterableIterator<string> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys[Symbol.iterator]();
  }
  values(): IterableIterator<CelValue> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys.map((key) => toCel(this.source[key]))[Symbol.iterator]();
  }
  entries(): IterableIterator<[string, CelValue]> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys.map((key): [string, CelValue] => [key, toCel(this.source[key])])[Symbol.iterator]();
  }
  forEach(callback: (value: CelValue, key: string, map: PlainMap) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }
  [Symbol.iterator](): IterableIterator<[string, CelValue]> {
    return this.entries();
  }
}

class PlainList {
  readonly [LIST_BRAND] = {};
  constructor(
    readonly source: readonly unknown[],
    /** Elements source[0, length) belong to this list; see concatLists. */
    readonly length: number = source.length,
    /** Elements are CelValues already (built by CEL), not JSON to convert. */
    readonly converted = false,
  ) {}

  get size(): number {
    return this.length;
  }
  get(index: number): CelValue | undefined {
    charge(1);
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    return this.element(index);
  }
  private element(index: number): CelValue {
    const value = this.source[index];
    return this.converted ? (value as CelValue) : toCel(value);
  }
  *values(): IterableIterator<CelValue> {
    charge(this.length);
    for (let i = 0; i < this.length; i++) yield this.element(i);
  }
  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }
}

// An appending list for `accu + [x]`: when the left list is the newest view of its array, the right
// elements are pushed onto that array and a longer view is returned (views never see past their
// length, so older views are unaffected); otherwise both are copied. `map` over n elements is then
// O(n), and every list stays flat.
function concatLists(left: CelList, right: CelList): CelList {
  if (left instanceof PlainList && left.converted && left.length === left.source.length) {
    const array = left.source as CelValue[];
    for (const item of right) array.push(item);
    return new PlainList(array, array.length, true) as unknown as CelList;
  }
  const array: CelValue[] = [];
  for (const item of left) array.push(item);
  for (const item of right) array.push(item);
  return new PlainList(array, array.length, true) as unknown as CelList;
}

const LIST = listType(CelScalar.DYN);

// Views are made once per JSON object and reused: a run evaluates many placeholders over the same
// (possibly large) objects. Callers never mutate a scope after handing it to an expression.
const views = new WeakMap<object, CelValue>();

// JSON integers become CEL ints (as Kubernetes' CEL does for integer fields), so that
// `object.spec.replicas + 1` works; other numbers stay doubles.
function toCel(value: unknown): CelValue {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
      return value;
    case "number":
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case "undefined":
      return null;
    case "object":
      break;
    default:
      // functions and symbols are not data
      return null;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return value;
  if (isCelMap(value) || isCelList(value) || isCelUint(value)) return value as CelValue;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  let view = views.get(value);
  if (view === undefined) {
    view = (Array.isArray(value)
      ? new PlainList(value)
      : new PlainMap(value as Record<string, unknown>)) as unknown as CelValue;
    views.set(value, view);
  }
  return view;
}

/** Turns a CEL result back into plain JSON-compatible JavaScript. */
function fromCel(value: CelValue, depth = 0): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (depth > MAX_RESULT_DEPTH)
    throw new ExpressionError(`the result is nested deeper than ${MAX_RESULT_DEPTH} levels`);
  if (isCelUint(value)) return fromCel(value.value, depth);
  if (isCelList(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      charge(1);
      out.push(fromCel(item, depth + 1));
    }
    return out;
  }
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      charge(1);
      setOwn(out, String(isCelUint(k) ? k.value : k), fromCel(v, depth + 1));
    }
    return out;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return wellKnownToString(value);
}

/** `out[key] = value` that also works for the key `__proto__` (an own property, as JSON.parse makes it). */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
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

// ---------------------------------------------------------------------------------------------
// Environment and compilation

// Every standard and string-extension function, metered; list `+` replaced by concatLists.
const env = (() => {
  const base = celEnv({ funcs: strings });
  const funcs = [...base.funcs].map(metered);
  funcs.push(metered(celFunc("_+_", [LIST, LIST], LIST, (l, r) => concatLists(l, r))));
  return celEnv({ funcs });
})();

const compiledCache = new Map<string, CompiledExpression>();

/** Parses and plans a CEL expression; throws ExpressionError naming the syntax problem. */
export function compileExpression(source: string): CompiledExpression {
  const cached = compiledCache.get(source);
  if (cached) return cached;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(quoteHyphenatedStepNames(source));
  } catch (err) {
    throw new ExpressionError(cleanParseMessage(err));
  }
  let program: ReturnType<typeof plan>;
  try {
    program = plan(env, parsed);
  } catch (err) {
    throw new ExpressionError(err instanceof Error ? err.message : String(err));
  }
  const variables = new Set<string>();
  const stepReferences = new Set<string>();
  collectReferences(parsed.expr, new Set(), variables, stepReferences);
  const compiled: CompiledExpression = {
    source,
    variables,
    stepReferences,
    estimatedCost: estimateNode(parsed.expr, DEFAULT_COLLECTION_SIZE),
    evaluate(vars, options) {
      return withCostLimit(options, () => {
        // A prototype-less activation: an identifier such as `constructor` is undeclared, not
        // Object's constructor.
        const bindings = Object.create(null) as Record<string, CelInput>;
        for (const name of variables) {
          if (hasOwn(vars, name) && vars[name] !== undefined) bindings[name] = toCel(vars[name]) as CelInput;
        }
        const result = program(bindings);
        if (meter?.exceeded !== undefined) throw new CostExceeded(meter.exceeded);
        if (isCelError(result)) throw new ExpressionError(result.message);
        return fromCel(result);
      });
    },
  };
  if (compiledCache.size > 10_000) compiledCache.clear();
  compiledCache.set(source, compiled);
  return compiled;
}

/** Evaluates a condition; anything but boolean true/false is an error, as in Kubernetes' CEL. */
export function evaluateCondition(
  expr: CompiledExpression,
  vars: Readonly<Record<string, unknown>>,
  options?: EvaluationOptions,
): boolean {
  const value = expr.evaluate(vars, options);
  if (typeof value !== "boolean") {
    throw new ExpressionError(
      `condition ${JSON.stringify(expr.source)} gave ${describeType(value)}, expected a boolean`,
    );
  }
  return value;
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

// ---------------------------------------------------------------------------------------------
// Result type
//
// @bufbuild/cel 0.6 has a type checker for constants and identifiers only, so `validate` infers
// what an expression gives from its outermost operation: enough to refuse `when: object.spec.replicas`
// + 1 or `if: "yes"`, and "dyn" (unknown until it runs) for whatever reads data.

export type ResultType = "bool" | "int" | "uint" | "double" | "string" | "bytes" | "null" | "list" | "map" | "dyn";

const BOOLEAN_FUNCTIONS = new Set([
  "_==_",
  "_!=_",
  "_<_",
  "_<=_",
  "_>_",
  "_>=_",
  "_&&_",
  "_||_",
  "!_",
  "@in",
  "@not_strictly_false",
  "startsWith",
  "endsWith",
  "contains",
  "matches",
  "has",
  "bool",
]);
const INT_FUNCTIONS = new Set([
  "size",
  "int",
  "indexOf",
  "lastIndexOf",
  "getFullYear",
  "getMonth",
  "getDayOfMonth",
  "getDayOfWeek",
  "getDayOfYear",
  "getHours",
  "getMinutes",
  "getSeconds",
  "getMilliseconds",
  "getDate",
]);
const STRING_FUNCTIONS = new Set([
  "string",
  "lowerAscii",
  "upperAscii",
  "trim",
  "replace",
  "substring",
  "charAt",
  "format",
  "join",
  "quote",
  "reverse",
]);
const TYPED_FUNCTIONS: Record<string, ResultType> = { double: "double", uint: "uint", bytes: "bytes", split: "list" };
const ARITHMETIC = new Set(["_+_", "_-_", "_*_", "_/_", "_%_", "-_"]);

/** What an expression gives, as far as its shape tells without data ("dyn": only running it tells). */
export function inferResultType(source: string): ResultType {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(quoteHyphenatedStepNames(source));
  } catch {
    return "dyn";
  }
  return typeOfNode(parsed.expr, new Map());
}

function typeOfNode(node: unknown, bound: Map<string, ResultType>): ResultType {
  const kind = (node as ExprNode | undefined)?.exprKind;
  const value = kind?.value as Record<string, unknown> | undefined;
  switch (kind?.case) {
    case "constExpr": {
      const constant = (value as { constantKind?: { case?: string } }).constantKind?.case;
      const types: Record<string, ResultType> = {
        boolValue: "bool",
        int64Value: "int",
        uint64Value: "uint",
        doubleValue: "double",
        stringValue: "string",
        bytesValue: "bytes",
        nullValue: "null",
      };
      return types[constant ?? ""] ?? "dyn";
    }
    case "identExpr":
      return bound.get(String(value?.name)) ?? "dyn";
    case "selectExpr":
      return (value as { testOnly?: boolean }).testOnly ? "bool" : "dyn";
    case "listExpr":
      return "list";
    case "structExpr":
      return "map";
    case "callExpr": {
      const fn = String(value?.function);
      const args = (value?.args as unknown[]) ?? [];
      if (BOOLEAN_FUNCTIONS.has(fn)) return "bool";
      if (INT_FUNCTIONS.has(fn)) return "int";
      if (STRING_FUNCTIONS.has(fn)) return "string";
      if (TYPED_FUNCTIONS[fn]) return TYPED_FUNCTIONS[fn];
      if (fn === "_?_:_") {
        const a = typeOfNode(args[1], bound);
        const b = typeOfNode(args[2], bound);
        return a === b ? a : "dyn";
      }
      if (ARITHMETIC.has(fn)) {
        const types = args.map((arg) => typeOfNode(arg, bound)).filter((t) => t !== "dyn");
        return types[0] ?? "dyn";
      }
      return "dyn";
    }
    case "comprehensionExpr": {
      // all/exists give the accumulator (a bool), map/filter a list, exists_one a comparison.
      const accuVar = String(value?.accuVar);
      const accuType = typeOfNode(value?.accuInit, bound);
      const inner = new Map(bound);
      inner.set(accuVar, accuType);
      return typeOfNode(value?.result, inner);
    }
    default:
      return "dyn";
  }
}

function cleanParseMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^syntax error: /, "").replace(/<input>:/g, "");
}

// ---------------------------------------------------------------------------------------------
// Static estimate

/** Elements a comprehension over data is assumed to visit when estimating (no schema says better). */
export const DEFAULT_COLLECTION_SIZE = 1000;

/**
 * A worst-case cost estimate, in the units of the runtime limit, assuming every list or map an
 * expression iterates has `collectionSize` elements (a list literal: its own length). One
 * comprehension over object data estimates at a few thousand; one nested in another at millions,
 * above DEFAULT_CEL_COST_LIMIT: `validate` can warn about expressions that are quadratic in data.
 */
export function estimateCost(expr: CompiledExpression | string, options: { collectionSize?: number } = {}): number {
  const size = options.collectionSize ?? DEFAULT_COLLECTION_SIZE;
  if (typeof expr !== "string" && size === DEFAULT_COLLECTION_SIZE) return expr.estimatedCost;
  const source = typeof expr === "string" ? expr : expr.source;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    throw new ExpressionError(cleanParseMessage(err));
  }
  return estimateNode(parsed.expr, size);
}

function estimateNode(node: unknown, size: number): number {
  if (!node || typeof node !== "object") return 0;
  const kind = (node as ExprNode).exprKind;
  const value = kind?.value as Record<string, unknown> | undefined;
  switch (kind?.case) {
    case "identExpr":
    case "constExpr":
      return 1;
    case "selectExpr":
      return 1 + estimateNode(value?.operand, size);
    case "callExpr": {
      let cost = 1 + estimateNode(value?.target, size);
      for (const arg of (value?.args as unknown[]) ?? []) cost += estimateNode(arg, size);
      return cost;
    }
    case "listExpr": {
      let cost = 1;
      for (const element of (value?.elements as unknown[]) ?? []) cost += estimateNode(element, size);
      return cost;
    }
    case "structExpr": {
      let cost = 1;
      for (const entry of (value?.entries as Array<Record<string, unknown>>) ?? [])
        cost += estimateNode(entry.mapKey, size) + estimateNode(entry.value, size);
      return cost;
    }
    case "comprehensionExpr": {
      const range = value?.iterRange as ExprNode | undefined;
      const literal =
        range?.exprKind?.case === "listExpr"
          ? ((range.exprKind.value as { elements?: unknown[] }).elements ?? []).length
          : size;
      const perElement = 1 + estimateNode(value?.loopCondition, size) + estimateNode(value?.loopStep, size);
      return (
        estimateNode(range, size) +
        estimateNode(value?.accuInit, size) +
        literal * perElement +
        estimateNode(value?.result, size)
      );
    }
    default:
      return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// References

/** The variable and field path of a pure selection chain such as object.metadata["name"]. */
function selectionChain(node: unknown): { root: string; path: string[] } | undefined {
  const path: string[] = [];
  let at = node as ExprNode | undefined;
  for (;;) {
    const kind = at?.exprKind;
    if (kind?.case === "selectExpr") {
      const value = kind.value as { operand?: ExprNode; field?: string };
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
function collectReferences(node: unknown, bound: Set<string>, vars: Set<string>, steps: Set<string>): void {
  if (!node || typeof node !== "object") return;
  const kind = (node as ExprNode).exprKind;
  if (!kind) return;
  const value = kind.value as Record<string, unknown> | undefined;
  const chain = kind.case === "selectExpr" || kind.case === "callExpr" ? selectionChain(node) : undefined;
  if (chain && !bound.has(chain.root)) {
    vars.add(chain.root);
    if (chain.root === "steps" && chain.path[0] !== undefined) steps.add(chain.path[0]);
    return;
  }
  switch (kind.case) {
    case "identExpr": {
      const name = String(value?.name);
      if (!bound.has(name)) vars.add(name);
      return;
    }
    case "selectExpr": {
      const operand = value?.operand as ExprNode | undefined;
      if (isIdent(operand, "steps") && !bound.has("steps")) steps.add(String(value?.field));
      collectReferences(operand, bound, vars, steps);
      return;
    }
    case "callExpr": {
      const args = (value?.args as unknown[]) ?? [];
      if (value?.function === "_[_]" && isIdent(args[0], "steps") && !bound.has("steps")) {
        const key = constantString(args[1]);
        if (key !== undefined) steps.add(key);
      }
      collectReferences(value?.target, bound, vars, steps);
      for (const arg of args) collectReferences(arg, bound, vars, steps);
      return;
    }
    case "listExpr":
      for (const element of (value?.elements as unknown[]) ?? []) collectReferences(element, bound, vars, steps);
      return;
    case "structExpr":
      for (const entry of (value?.entries as Array<Record<string, unknown>>) ?? []) {
        collectReferences(entry.mapKey, bound, vars, steps);
        collectReferences(entry.value, bound, vars, steps);
      }
      return;
    case "comprehensionExpr": {
      const inner = new Set(bound);
      for (const key of ["iterVar", "iterVar2", "accuVar"]) {
        if (typeof value?.[key] === "string" && value[key]) inner.add(value[key] as string);
      }
      collectReferences(value?.iterRange, bound, vars, steps);
      collectReferences(value?.accuInit, inner, vars, steps);
      collectReferences(value?.loopCondition, inner, vars, steps);
      collectReferences(value?.loopStep, inner, vars, steps);
      collectReferences(value?.result, inner, vars, steps);
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

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  const text = typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value));
  return `${typeof value} ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`;
}
