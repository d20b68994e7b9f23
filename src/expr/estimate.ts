// A static, worst-case cost estimate of an expression, in the units of the runtime limit
// (cost.ts), for `validate`: cel-go estimates from type information, which @bufbuild/cel does not
// have, so every collection an expression iterates is assumed to have the same size.
import { kindOf, parseOrThrow, type ExprNode } from "./ast.js";
import type { CompiledExpression } from "./cel.js";

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
  return estimateNode(parseOrThrow(source).expr, size);
}

type Fields = Record<string, unknown>;

const sum = (nodes: unknown, size: number): number =>
  ((nodes as unknown[] | undefined) ?? []).reduce<number>((cost, node) => cost + estimateNode(node, size), 0);

/** The cost of each kind of node from its fields; any other kind costs 1. */
const NODE_COSTS = new Map<string | undefined, (value: Fields, size: number) => number>([
  ["identExpr", () => 1],
  ["constExpr", () => 1],
  ["selectExpr", (value, size) => 1 + estimateNode(value.operand, size)],
  ["callExpr", (value, size) => 1 + estimateNode(value.target, size) + sum(value.args, size)],
  ["listExpr", (value, size) => 1 + sum(value.elements, size)],
  [
    "structExpr",
    (value, size) =>
      1 +
      ((value.entries as Fields[] | undefined) ?? []).reduce(
        (cost, entry) => cost + estimateNode(entry.mapKey, size) + estimateNode(entry.value, size),
        0,
      ),
  ],
  ["comprehensionExpr", comprehensionCost],
]);

/** A node's estimate; not a node at all costs nothing. */
export function estimateNode(node: unknown, size: number): number {
  if (!node || typeof node !== "object") return 0;
  const kind = kindOf(node);
  const cost = kind && NODE_COSTS.get(kind.case);
  return cost ? cost(kind.value, size) : 1;
}

function comprehensionCost(value: Fields, size: number): number {
  const range = value.iterRange as ExprNode | undefined;
  const literal =
    range?.exprKind?.case === "listExpr"
      ? ((range.exprKind.value as { elements?: unknown[] }).elements ?? []).length
      : size;
  const perElement = 1 + estimateNode(value.loopCondition, size) + estimateNode(value.loopStep, size);
  return (
    estimateNode(range, size) +
    estimateNode(value.accuInit, size) +
    literal * perElement +
    estimateNode(value.result, size)
  );
}
