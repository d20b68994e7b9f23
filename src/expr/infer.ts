// What an expression gives, without data.
//
// @bufbuild/cel 0.6 has a type checker for constants and identifiers only, so `validate` infers
// what an expression gives from its outermost operation: enough to refuse
// `when: object.spec.replicas + 1` or `if: "yes"`, and "dyn" (unknown until it runs) for whatever
// reads data.
import { parse } from "@bufbuild/cel";
import { kindOf, quoteHyphenatedStepNames, type ParsedExpression } from "./ast.js";

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
const CONSTANT_TYPES: Record<string, ResultType> = {
  boolValue: "bool",
  int64Value: "int",
  uint64Value: "uint",
  doubleValue: "double",
  stringValue: "string",
  bytesValue: "bytes",
  nullValue: "null",
};

/** What an expression gives, as far as its shape tells without data ("dyn": only running it tells). */
export function inferResultType(source: string): ResultType {
  let parsed: ParsedExpression;
  try {
    parsed = parse(quoteHyphenatedStepNames(source));
  } catch {
    return "dyn";
  }
  return typeOfNode(parsed.expr, new Map());
}

type Bound = ReadonlyMap<string, ResultType>;

/** The type of each kind of node, from its fields; a kind not listed is "dyn". */
const NODE_TYPES = new Map<string | undefined, (value: Record<string, unknown>, bound: Bound) => ResultType>([
  [
    "constExpr",
    (value) => {
      const constant = (value as { constantKind?: { case?: string } }).constantKind?.case;
      return CONSTANT_TYPES[constant ?? ""] ?? "dyn";
    },
  ],
  ["identExpr", (value, bound) => bound.get(String(value.name)) ?? "dyn"],
  ["selectExpr", (value) => ((value as { testOnly?: boolean }).testOnly ? "bool" : "dyn")],
  ["listExpr", () => "list"],
  ["structExpr", () => "map"],
  ["callExpr", typeOfCall],
  // all/exists give the accumulator (a bool), map/filter a list, exists_one a comparison.
  [
    "comprehensionExpr",
    (value, bound) => {
      const inner = new Map(bound);
      inner.set(String(value.accuVar), typeOfNode(value.accuInit, bound));
      return typeOfNode(value.result, inner);
    },
  ],
]);

function typeOfNode(node: unknown, bound: Bound): ResultType {
  const kind = kindOf(node);
  const typeOf = kind && NODE_TYPES.get(kind.case);
  return typeOf ? typeOf(kind.value, bound) : "dyn";
}

function typeOfCall(value: Record<string, unknown>, bound: Bound): ResultType {
  const fn = String(value.function);
  const args = (value.args as unknown[] | undefined) ?? [];
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
