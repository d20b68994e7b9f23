// Translates JSON Schema (ajv) errors into problems in our words, at the offending value.
import type { ErrorObject } from "ajv";
import { closest } from "fastest-levenshtein";
import { stepTypes } from "../steps/registry.js";
import { DURATION_PATTERN } from "./duration.js";
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

type Params = Record<string, unknown>;
type Describe = (error: ErrorObject, path: Segment[]) => { message: string; key?: string };

const got = (error: ErrorObject) => `got ${describeValue(error.data)}`;

/** Patterns the schema shares, in words: a duration's regular expression says nothing to a reader. */
const PATTERN_WORDS: Record<string, string> = { [DURATION_PATTERN]: 'a duration such as "30s", "5m" or "1h30m"' };

function unknownField(error: ErrorObject, path: Segment[]): { message: string; key: string } {
  const field = String((error.params as Params).additionalProperty);
  if (path.length >= 4 && path[path.length - 2] === "steps" && path[0] === "spec") {
    const types = stepTypes.map((t) => t.type).join(", ");
    return { message: `unknown step type ${JSON.stringify(field)} (expected one of ${types})`, key: field };
  }
  const known = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
  const guess = known.length ? closest(field, known) : undefined;
  return { message: `unknown field ${JSON.stringify(field)}${guess ? ` (did you mean "${guess}"?)` : ""}`, key: field };
}

function wrongType(error: ErrorObject): { message: string } {
  // An inline value where a secret reference belongs: say so, and do not echo the secret.
  if ((error.parentSchema as { properties?: Record<string, unknown> }).properties?.secretKeyRef)
    return {
      message:
        "expected a secret reference, {secretKeyRef: {name, key}} or {env: NAME}: " +
        "secrets are never written in hooks.yaml",
    };
  const expected = String((error.params as Params).type)
    .split(",")
    .map((t) => TYPE_NAMES[t] ?? t)
    .join(" or ");
  return { message: `expected ${expected}, ${got(error)}` };
}

function wrongPattern(error: ErrorObject): { message: string } {
  const pattern = String((error.params as Params).pattern);
  const custom = (error.parentSchema as { patternErrorMessage?: string }).patternErrorMessage;
  return { message: `expected ${custom ?? PATTERN_WORDS[pattern] ?? `a string matching ${pattern}`}, ${got(error)}` };
}

const limit = (error: ErrorObject) => String((error.params as Params).limit);

const DESCRIBE: Record<string, Describe> = {
  additionalProperties: unknownField,
  required: (e) => ({ message: `missing required field "${String((e.params as Params).missingProperty)}"` }),
  type: wrongType,
  enum: (e) => {
    const allowed = ((e.params as Params).allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ");
    return { message: `expected one of ${allowed}, ${got(e)}` };
  },
  const: (e) => ({ message: `expected ${JSON.stringify((e.params as Params).allowedValue)}, ${got(e)}` }),
  pattern: wrongPattern,
  minimum: (e) => ({ message: `expected at least ${limit(e)}, ${got(e)}` }),
  maximum: (e) => ({ message: `expected at most ${limit(e)}, ${got(e)}` }),
  minItems: (e) => ({ message: `expected at least ${limit(e)} item(s)` }),
  uniqueItems: () => ({ message: "expected no duplicate items" }),
  minLength: () => ({ message: "expected a non-empty string" }),
};

export function reportSchemaErrors(errors: ErrorObject[], data: unknown, reporter: Reporter): void {
  for (const error of closestAlternatives(errors)) {
    const path = pointerToPath(error.instancePath, data);
    const describe = DESCRIBE[error.keyword];
    const { message, key } = describe ? describe(error, path) : { message: String(error.message), key: undefined };
    reporter.at(path, message, key);
  }
}
