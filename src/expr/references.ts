// What an expression reads: its top-level variables and the steps whose output it uses, from the
// parsed tree (compile time). Comprehensions (all, exists, map, filter) bind their own variables,
// which are not top-level variables.
import { constantString, isIdent, kindOf, type ExprNode } from "./ast.js";

export interface References {
  /** Top-level variables the expression reads (comprehension variables excluded). */
  variables: Set<string>;
  /** Names X of every `steps.X` / `steps["X"]` the expression reads. */
  steps: Set<string>;
}

export function referencesOf(expr: unknown): References {
  const found: References = { variables: new Set(), steps: new Set() };
  collect(expr, new Set(), found);
  return found;
}

type Fields = Record<string, unknown>;
type Visit = (value: Fields, bound: ReadonlySet<string>, found: References) => void;

const VISITS = new Map<string | undefined, Visit>([
  [
    "identExpr",
    (value, bound, found) => {
      const name = String(value.name);
      if (!bound.has(name)) found.variables.add(name);
    },
  ],
  [
    "selectExpr",
    (value, bound, found) => {
      if (isIdent(value.operand, "steps") && !bound.has("steps")) found.steps.add(String(value.field));
      collect(value.operand, bound, found);
    },
  ],
  [
    "callExpr",
    (value, bound, found) => {
      const args = (value.args as unknown[] | undefined) ?? [];
      if (value.function === "_[_]" && isIdent(args[0], "steps") && !bound.has("steps")) {
        const key = constantString(args[1]);
        if (key !== undefined) found.steps.add(key);
      }
      collect(value.target, bound, found);
      for (const arg of args) collect(arg, bound, found);
    },
  ],
  [
    "listExpr",
    (value, bound, found) => {
      for (const element of (value.elements as unknown[] | undefined) ?? []) collect(element, bound, found);
    },
  ],
  [
    "structExpr",
    (value, bound, found) => {
      for (const entry of (value.entries as Fields[] | undefined) ?? []) {
        collect(entry.mapKey, bound, found);
        collect(entry.value, bound, found);
      }
    },
  ],
  ["comprehensionExpr", visitComprehension],
]);

function collect(node: unknown, bound: ReadonlySet<string>, found: References): void {
  const kind = kindOf(node);
  if (!kind) return;
  const chain = kind.case === "selectExpr" || kind.case === "callExpr" ? selectionChain(node) : undefined;
  if (chain && !bound.has(chain.root)) {
    found.variables.add(chain.root);
    if (chain.root === "steps" && chain.path[0] !== undefined) found.steps.add(chain.path[0]);
    return;
  }
  VISITS.get(kind.case)?.(kind.value, bound, found);
}

function visitComprehension(value: Fields, bound: ReadonlySet<string>, found: References): void {
  const inner = new Set(bound);
  for (const key of ["iterVar", "iterVar2", "accuVar"]) {
    if (typeof value[key] === "string" && value[key]) inner.add(value[key]);
  }
  collect(value.iterRange, bound, found);
  collect(value.accuInit, inner, found);
  collect(value.loopCondition, inner, found);
  collect(value.loopStep, inner, found);
  collect(value.result, inner, found);
}

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
