// The one error every expression failure becomes (syntax, evaluation, cost, deadline), and how a
// value is named in such an error.

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

/** A value as an error message names it: its type, and a scalar's text (cut at 80 characters). */
export function describeType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  const text = typeof value === "bigint" ? String(value) : (JSON.stringify(value) ?? String(value));
  return `${typeof value} ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`;
}
