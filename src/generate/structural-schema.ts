// Converts the JSON Schema of hooks.yaml into a structural schema, the OpenAPI v3 subset that
// kube-apiserver accepts for a CustomResourceDefinition (the HookSet CRD): one source of truth for
// what a HookSet may contain, whether it is read from a file or applied to the cluster.
//
// Written here because no maintained npm package does this conversion for a hand-written JSON
// Schema (the ones that exist generate CRDs from Go or Rust types). The rules it follows, from
// the Kubernetes documentation "Specifying a structural schema":
// - every node has a type, except nodes marked x-kubernetes-int-or-string or
//   x-kubernetes-preserve-unknown-fields;
// - oneOf/anyOf/allOf/not are value validations only: no type, description, default,
//   additionalProperties or nullable inside them, and every field they name is also declared
//   outside them (the "skeleton");
// - no $ref, and additionalProperties never together with properties.
// JSON Schema's dependencies ("a needs b") become x-kubernetes-validations CEL rules.
// Value validations keep the checks the API server can make at admission (types, enums,
// patterns, required, bounds), so an obviously wrong HookSet is refused with its field path.
// A node whose values may be of two kinds (a string or an object) has no type the API server
// can express: it is kept as free-form JSON, and `resource-hooks validate` (later the
// controller's Accepted condition) still checks it in full.
type Schema = { [keyword: string]: unknown };

/** Keywords the API server checks in place; copied as they are. */
const VALUE_KEYWORDS = [
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "required",
] as const;

/**
 * Keywords left out on purpose. patternErrorMessage, examples and title are editor hints.
 * default: the loader applies defaults; the API server would otherwise write them into the
 * stored HookSet, which then differs from the file in Git (an Argo CD diff). propertyNames has
 * no structural equivalent (a CEL rule over the keys of a map nested in two unbounded lists
 * exceeds the API server's cost budget). additionalProperties: false is what the API server
 * does anyway: it prunes unknown fields, and kubectl's strict field validation refuses them.
 */
const DROPPED = new Set(["patternErrorMessage", "examples", "title", "default", "propertyNames"]);
/** Keywords this converter understands; any other keyword fails loudly instead of being lost. */
const HANDLED = new Set([
  ...VALUE_KEYWORDS,
  ...DROPPED,
  "type",
  "description",
  "const",
  "properties",
  "additionalProperties",
  "items",
  "uniqueItems",
  "oneOf",
  "anyOf",
  "dependencies",
]);
const SCALARS = new Set(["string", "integer", "number", "boolean"]);

export class StructuralSchemaError extends Error {
  override name = "StructuralSchemaError";
}

const isSchema = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);
const branchesOf = (s: Schema): Schema[] => [
  ...((s.oneOf as Schema[] | undefined) ?? []),
  ...((s.anyOf as Schema[] | undefined) ?? []),
];
const enumOf = (s: Schema): unknown[] | undefined => ("const" in s ? [s.const] : (s.enum as unknown[] | undefined));
function jsonType(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return v === null ? "null" : typeof v;
}
const isEmpty = (s: Schema) => Object.keys(s).length === 0;

function checkKeywords(s: Schema, path: string): void {
  for (const keyword of Object.keys(s))
    if (!HANDLED.has(keyword))
      throw new StructuralSchemaError(`${path}: "${keyword}" has no structural equivalent known to this converter`);
  if (Array.isArray(s.type)) throw new StructuralSchemaError(`${path}: a list of types is not structural`);
}

/** The JSON types a node's values may have; "any" when the node does not restrict it. */
function typesOf(s: Schema): Set<string> {
  if (typeof s.type === "string") return new Set([s.type]);
  const branches = branchesOf(s);
  if (branches.length) return new Set(branches.flatMap((b) => [...typesOf(b)]));
  const values = enumOf(s);
  if (values) return new Set(values.map(jsonType));
  return new Set(["any"]);
}

/** Every schema a property has across the node and its oneOf/anyOf branches, by name. */
function propertyVariants(s: Schema, into = new Map<string, Schema[]>()): Map<string, Schema[]> {
  for (const [name, schema] of Object.entries((s.properties as Record<string, Schema> | undefined) ?? {})) {
    const variants = into.get(name) ?? [];
    if (!variants.some((v) => JSON.stringify(v) === JSON.stringify(schema))) variants.push(schema);
    into.set(name, variants);
  }
  for (const branch of branchesOf(s)) propertyVariants(branch, into);
  return into;
}

function itemVariants(s: Schema): Schema[] {
  const own = isSchema(s.items) ? [s.items] : [];
  return [...own, ...branchesOf(s).flatMap(itemVariants)];
}

const oneOrAnyOf = (variants: Schema[]): Schema => (variants.length === 1 ? variants[0]! : { anyOf: variants });

/** A node's description, else its branches' (each kind of value it takes), one per line. */
function descriptionOf(s: Schema): string | undefined {
  if (typeof s.description === "string") return s.description;
  const descriptions = [...new Set(branchesOf(s).map(descriptionOf))].filter((d) => d !== undefined);
  return descriptions.length ? descriptions.join("\n") : undefined;
}

/** The structural form of one node of the JSON Schema; `path` names it in errors. */
export function toStructural(s: Schema, path = "$"): Schema {
  checkKeywords(s, path);
  const types = [...typesOf(s)].filter((t) => t !== "null");
  const description = descriptionOf(s);
  const described = description ? { description } : {};
  if (types.length === 2 && types.includes("integer") && types.includes("string"))
    return { ...described, "x-kubernetes-int-or-string": true };
  // Any JSON, or values of more than one kind (a string or an object): no structural type.
  if (types.length !== 1 || types[0] === "any") return { ...described, "x-kubernetes-preserve-unknown-fields": true };
  const type = types[0]!;
  const out: Schema = { type, ...described };
  for (const keyword of VALUE_KEYWORDS) if (s[keyword] !== undefined) out[keyword] = s[keyword];
  const values = enumOf(s);
  if (values) out.enum = values;
  if (type === "object") objectSkeleton(s, out, path);
  if (type === "array") arraySkeleton(s, out, path);
  Object.assign(out, junctorChecks(s, out, path));
  return out;
}

/** A node's oneOf/anyOf as value validations of `skeleton`. */
function junctorChecks(s: Schema, skeleton: Schema, path: string): Schema {
  const out: Schema = {};
  for (const junctor of ["oneOf", "anyOf"] as const) {
    const branches = s[junctor] as Schema[] | undefined;
    if (!branches) continue;
    const checks = branches.map((b, i) => valueValidation(b, skeleton, `${path}.${junctor}[${i}]`));
    // An anyOf with a branch that checks nothing accepts every value: leave it out.
    if (junctor === "anyOf" && checks.some(isEmpty)) continue;
    out[junctor] = checks;
  }
  return out;
}

function objectSkeleton(s: Schema, out: Schema, path: string): void {
  const variants = propertyVariants(s);
  if (variants.size) {
    out.properties = Object.fromEntries(
      [...variants].map(([name, schemas]) => [name, toStructural(oneOrAnyOf(schemas), `${path}.${name}`)]),
    );
  }
  const additional = s.additionalProperties;
  if (isSchema(additional)) {
    if (variants.size) throw new StructuralSchemaError(`${path}: additionalProperties together with properties`);
    out.additionalProperties = toStructural(additional, `${path}.*`);
  } else if (additional === true || !variants.size) {
    // A free-form object (a manifest, a merge patch, Slack blocks): kept whole instead of pruned.
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  const dependencies = s.dependencies as Record<string, string[]> | undefined;
  if (dependencies) {
    // {a: [b]}, "a needs b": a CEL rule, so the API server names the missing field. has() costs
    // the same for any object size, so the rule stays within the CRD's cost budget.
    out["x-kubernetes-validations"] = Object.entries(dependencies).map(([name, needs]) => ({
      rule: `!has(self.${name}) || (${needs.map((n) => `has(self.${n})`).join(" && ")})`,
      message: `${name} needs ${needs.join(" and ")}`,
    }));
  }
}

function arraySkeleton(s: Schema, out: Schema, path: string): void {
  const items = itemVariants(s);
  out.items = items.length
    ? toStructural(oneOrAnyOf(items), `${path}[]`)
    : { "x-kubernetes-preserve-unknown-fields": true };
  if (s.uniqueItems === true) {
    // uniqueItems is forbidden in a CRD; a list of type set makes the API server refuse duplicates.
    if (!SCALARS.has(String((out.items as Schema).type)))
      throw new StructuralSchemaError(`${path}: uniqueItems on a list of non-scalar items`);
    out["x-kubernetes-list-type"] = "set";
  }
}

/**
 * A oneOf/anyOf branch as a value validation of `skeleton`, the structural node it applies to:
 * only checks, on fields the skeleton declares. A branch's additionalProperties: false becomes
 * "none of the skeleton's other fields", so the branches stay as exclusive as they were.
 */
function valueValidation(s: Schema, skeleton: Schema, path: string): Schema {
  checkKeywords(s, path);
  // The skeleton has no type here (free-form JSON): a check would name fields it does not declare.
  if (skeleton.type === undefined) return {};
  if (s.dependencies || s.uniqueItems)
    throw new StructuralSchemaError(`${path}: dependencies or uniqueItems inside oneOf/anyOf`);
  const out: Schema = {};
  for (const keyword of VALUE_KEYWORDS) if (s[keyword] !== undefined) out[keyword] = s[keyword];
  const values = enumOf(s);
  if (values) out.enum = values;
  const declared = (skeleton.properties as Record<string, Schema> | undefined) ?? {};
  const own = (s.properties as Record<string, Schema> | undefined) ?? {};
  const properties: Record<string, Schema> = {};
  for (const [name, schema] of Object.entries(own)) {
    const check = valueValidation(schema, declared[name]!, `${path}.${name}`);
    if (!isEmpty(check)) properties[name] = check;
  }
  if (!isEmpty(properties)) out.properties = properties;
  if (s.additionalProperties === false) {
    const others = Object.keys(declared).filter((name) => !(name in own));
    if (others.length) out.not = { anyOf: others.map((name) => ({ required: [name] })) };
  }
  if (isSchema(s.items) && isSchema(skeleton.items)) {
    const check = valueValidation(s.items, skeleton.items, `${path}[]`);
    if (!isEmpty(check)) out.items = check;
  }
  return { ...out, ...junctorChecks(s, skeleton, path) };
}
