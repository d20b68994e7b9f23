// CEL is the one expression language of resource-hooks: trigger conditions (`when`), step
// conditions (`if`) and template placeholders all go through this module, so users learn one
// language and nothing is ever evaluated with eval/new Function.
//
// The hook author writes the expression, but the owner of a watched object controls the data it
// runs over, so every evaluation is bounded (cost.ts) and data reaches CEL as plain maps and lists
// whatever their keys (values.ts). This module compiles and evaluates; the rest of the program
// imports expressions from here.
import { celEnv, celFunc, isCelError, listType, CelScalar, plan, type CelInput } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { parseOrThrow, quoteHyphenatedStepNames } from "./ast.js";
import { metered, throwIfExceeded, withCostLimit, type EvaluationOptions } from "./cost.js";
import { describeType, ExpressionError } from "./errors.js";
import { DEFAULT_COLLECTION_SIZE, estimateNode } from "./estimate.js";
import { referencesOf } from "./references.js";
import { concatLists, fromCel, hasOwn, toCel } from "./values.js";

// What the rest of the program uses of the other modules of src/expr.
export { DEFAULT_CEL_COST_LIMIT, type EvaluationOptions } from "./cost.js";
export { describeType, ExpressionError } from "./errors.js";
export { estimateCost } from "./estimate.js";
export { inferResultType, type ResultType } from "./infer.js";
export { setOwn } from "./values.js";

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

const LIST = listType(CelScalar.DYN);

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
  const parsed = parseOrThrow(quoteHyphenatedStepNames(source));
  let program: ReturnType<typeof plan>;
  try {
    program = plan(env, parsed);
  } catch (err) {
    throw new ExpressionError(err instanceof Error ? err.message : String(err));
  }
  const { variables, steps } = referencesOf(parsed.expr);
  const compiled: CompiledExpression = {
    source,
    variables,
    stepReferences: steps,
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
        throwIfExceeded();
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
