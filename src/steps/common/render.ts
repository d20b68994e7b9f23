// Rendering config fields through ctx.render with the type the step needs. A template error or a
// value of the wrong type is a configuration problem of this event: not retryable.
import { describeType } from "../../expr/cel.js";
import { StepFailure, type StepContext } from "../types.js";

export function renderValueAt<T>(ctx: StepContext, value: T, field: string): T {
  try {
    return ctx.render(value);
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new StepFailure(`${field}: ${message}`, { retryable: false, cause: err });
  }
}

/** A URL template field (ctx.renderUrl: values percent-encoded, {{+ expr }} as is). */
export function renderUrlAt(ctx: StepContext, template: string, field: string): string {
  try {
    return ctx.renderUrl(template);
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new StepFailure(`${field}: ${message}`, { retryable: false, cause: err });
  }
}

/**
 * A list of URL templates (each rendered by ctx.renderUrl), or one template that gives the whole
 * list (its strings are used as they are: the expression made the URLs). Empty strings are dropped.
 */
export function renderUrlList(ctx: StepContext, value: string | readonly string[], field: string): string[] {
  if (typeof value === "string") return renderList(ctx, value, field);
  return value.map((item, i) => renderUrlAt(ctx, item, `${field}[${i}]`)).filter((item) => item !== "");
}

/** A templated string field; numbers and booleans become text, anything else is a failure. */
export function renderText(ctx: StepContext, value: string, field: string): string {
  const rendered: unknown = renderValueAt<unknown>(ctx, value, field);
  if (typeof rendered === "string") return rendered;
  if (typeof rendered === "number" || typeof rendered === "boolean" || typeof rendered === "bigint")
    return String(rendered);
  throw new StepFailure(`${field}: the template gave ${describeType(rendered)}, expected a string`, {
    retryable: false,
  });
}

/**
 * A list of strings: a YAML list of templated strings, or one template that gives a list. Empty
 * strings are dropped.
 */
export function renderList(ctx: StepContext, value: string | readonly string[], field: string): string[] {
  const rendered: unknown = renderValueAt<unknown>(ctx, value, field);
  const items = Array.isArray(rendered) ? (rendered as unknown[]) : [rendered];
  return items.flatMap((item, i) => {
    if (typeof item === "string") return item === "" ? [] : [item];
    if (typeof item === "number" || typeof item === "boolean") return [String(item)];
    if (item === null || item === undefined) return [];
    throw new StepFailure(`${field}[${i}]: the template gave ${describeType(item)}, expected a string`, {
      retryable: false,
    });
  });
}

export function containsTemplate(value: unknown): boolean {
  return typeof value === "string" && value.includes("{{");
}
