// The cost meter: every evaluation is bounded, because the hook author writes the expression but
// the owner of a watched object controls the data it runs over.
//
// @bufbuild/cel (0.6) has no cost tracking, no cost limits and no static estimation (cel-go is the
// only CEL implementation that has them), and its evaluator is synchronous with no interruption
// hook. So the bound is built around it, where all work over data has to pass:
//   * data reaches CEL through the PlainMap/PlainList views (values.ts), which charge one unit per
//     element iterated and per field read: comprehensions over object data (the quadratic case)
//     are counted element by element;
//   * every function and operator is wrapped (metered): one unit per call plus the size of its
//     string arguments and result, and `join`/`replace`/`+` are refused before they build a string
//     longer than MAX_CEL_STRING_LENGTH;
//   * list concatenation (the accumulator of `map` and `filter`) is replaced by an appending list
//     (@bufbuild/cel nests one lazy view per element, which makes iterating a mapped list quadratic
//     and uncounted);
//   * converting the result back to JSON counts one unit per element (a small expression can
//     return a list holding the same big list many times).
// Exceeding the limit or the deadline throws out of the evaluator; the meter stays exhausted, so an
// error that CEL semantics would absorb (`error || true`) cannot hide it. A worker thread with a
// hard deadline would bound time too, but would copy every scope across threads and make
// rendering asynchronous; counting keeps evaluation synchronous and cheap.
import { isCelError, isCelList, type CelFunc, type CelValue } from "@bufbuild/cel";
import { ExpressionError } from "./errors.js";

/**
 * Cost units one evaluation may spend by default. A unit is one element visited in a map or list,
 * one field read, one function call, or ten characters a string function reads or writes. The
 * default stops a runaway expression within a fraction of a second of CPU (docs/hooks-reference.md, "Expressions are
 * bounded"), far above what ordinary expressions spend: a comprehension over 4,000 annotations
 * costs about 10,000.
 */
export const DEFAULT_CEL_COST_LIMIT = 500_000;

/** Strings an expression produces are refused beyond this length (characters). */
export const MAX_CEL_STRING_LENGTH = 4 * 1024 * 1024;

export interface EvaluationOptions {
  /** Cost units this evaluation may spend; default DEFAULT_CEL_COST_LIMIT. */
  costLimit?: number;
  /** Epoch milliseconds after which the evaluation stops (the step's or the run's deadline). */
  deadline?: number;
}

class CostExceeded extends Error {
  override name = "CostExceeded";
}

/** Units between two looks at the clock (Kubernetes checks every 100 comprehension iterations). */
const CLOCK_CHECK_EVERY = 1000;

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
      this.exceeded =
        `the expression exceeded its cost limit of ${this.limit} ` +
        "(a comprehension over large data, or large strings)";
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

// Evaluation is synchronous, so the meter of the evaluation in progress is a module variable.
let meter: Meter | undefined;

/** Charges the evaluation in progress (none: free, e.g. converting data outside an evaluation). */
export function charge(units: number): void {
  if (meter !== undefined) meter.charge(units);
}

/**
 * Throws when the evaluation in progress has exceeded its limit, even if CEL absorbed the error
 * (`error || true`) and produced a result.
 */
export function throwIfExceeded(): void {
  if (meter?.exceeded !== undefined) throw new CostExceeded(meter.exceeded);
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
export function metered(fn: CelFunc): CelFunc {
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
