// Translates JSON Schema (ajv) errors into problems in our words, at the offending value.
import type { ErrorObject } from "ajv";
import { closest } from "fastest-levenshtein";
import { stepTypes } from "../steps/registry.js";
import type { Reporter, Segment } from "./problems.js";

function pointerToPath(pointer: string, data: unknown): Segment[] {
  if (!pointer) return [];
  const path: Segment[] = [];
  let at: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) {
      path.push(Number(key));
      at = at[Number(key)];
    } else {
      path.push(key);
      at = at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value === "string" ? "string" : typeof value} ${JSON.stringify(value)}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: "a map",
  array: "a list",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
};

/**
 * For a failed oneOf/anyOf, ajv reports every alternative's errors. Keep only those of the
 * alternative the value came closest to (its type matched, fewest errors): that is the shape
 * the user meant.
 */
function closestAlternatives(errors: ErrorObject[]): ErrorObject[] {
  let kept = errors;
  const choices = errors
    .filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf")
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const choice of choices) {
    if (!kept.includes(choice)) continue;
    const prefix = `${choice.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of kept) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split("/")[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    if (branches.size === 0) continue;
    // A wrong type or a wrong discriminator (a `const` such as provider: cloudflare) rules a branch out first.
    const typeMismatch = (es: ErrorObject[]) =>
      es.some((e) => e.keyword === "type" && e.instancePath === choice.instancePath);
    const constMismatch = (es: ErrorObject[]) => es.some((e) => e.keyword === "const");
    const rank = (es: ErrorObject[]) => Number(typeMismatch(es)) * 2 + Number(constMismatch(es));
    const best = [...branches.values()].sort((a, b) => rank(a) - rank(b) || a.length - b.length)[0]!;
    kept = kept.filter((e) => e !== choice && (!e.schemaPath.startsWith(prefix) || best.includes(e)));
  }
  return kept;
}

export function reportSchemaErrors(errors: ErrorObject[], data: unknown, reporter: Reporter): void {
  for (const error of closestAlternatives(errors)) {
    const path = pointerToPath(error.instancePath, data);
    switch (error.keyword) {
      case "additionalProperties": {
        const field = String((error.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
        if (path.length >= 4 && path[path.length - 2] === "steps" && path[0] === "spec") {
          reporter.at(
            path,
            `unknown step type "${field}" (expected one of ${stepTypes.map((t) => t.type).join(", ")})`,
            field,
          );
        } else {
          const guess = known.length ? closest(field, known) : undefined;
          reporter.at(path, `unknown field "${field}"${guess ? ` (did you mean "${guess}"?)` : ""}`, field);
        }
        break;
      }
      case "required":
        reporter.at(path, `missing required field "${(error.params as { missingProperty: string }).missingProperty}"`);
        break;
      case "type": {
        // An inline value where a secret reference belongs: say so, and do not echo the secret.
        if ((error.parentSchema as { properties?: Record<string, unknown> }).properties?.secretKeyRef) {
          reporter.at(
            path,
            "expected a secret reference, {secretKeyRef: {name, key}} or {env: NAME}: secrets are never written in hooks.yaml",
          );
          break;
        }
        const expected = String((error.params as { type: string }).type)
          .split(",")
          .map((t) => TYPE_NAMES[t] ?? t)
          .join(" or ");
        reporter.at(path, `expected ${expected}, got ${describeValue(error.data)}`);
        break;
      }
      case "enum":
        reporter.at(
          path,
          `expected one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(error.data)}`,
        );
        break;
      case "const":
        reporter.at(
          path,
          `expected ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}, got ${describeValue(error.data)}`,
        );
        break;
      case "pattern": {
        const custom = (error.parentSchema as { patternErrorMessage?: string }).patternErrorMessage;
        reporter.at(
          path,
          `expected ${custom ?? `a string matching ${(error.params as { pattern: string }).pattern}`}, got ${describeValue(error.data)}`,
        );
        break;
      }
      case "minimum":
      case "maximum":
        reporter.at(
          path,
          `expected ${error.keyword === "minimum" ? "at least" : "at most"} ${(error.params as { limit: number }).limit}, got ${describeValue(error.data)}`,
        );
        break;
      case "minItems":
        reporter.at(path, `expected at least ${(error.params as { limit: number }).limit} item(s)`);
        break;
      case "uniqueItems":
        reporter.at(path, "expected no duplicate items");
        break;
      case "minLength":
        reporter.at(path, "expected a non-empty string");
        break;
      default:
        reporter.at(path, String(error.message));
    }
  }
}
