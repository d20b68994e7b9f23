// The rules of a Kubernetes structural schema (apiextensions.k8s.io/v1) that the HookSet CRD
// relies on, as a checker for unit tests: the API server refuses a CRD that breaks one, and the
// e2e test (hookset-crd.e2e.test.ts) proves that on a real kube-apiserver. No npm package checks
// these rules for a hand-written schema, so this small one is ours. Returns the violations.
type Schema = { [keyword: string]: unknown };

/** The fields of apiextensions.k8s.io/v1 JSONSchemaProps a CRD may use (no $ref, definitions, ...). */
const ALLOWED = new Set([
  "description",
  "type",
  "format",
  "title",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "nullable",
  "example",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);
/** Not allowed inside allOf/anyOf/oneOf/not: they belong to the structure, not to a check. */
const STRUCTURE_ONLY = ["description", "type", "default", "additionalProperties", "nullable"];
const JUNCTORS = ["allOf", "anyOf", "oneOf"] as const;
const SCALARS = ["string", "integer", "number", "boolean"];

const isSchema = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);

export function structuralViolations(root: Schema): string[] {
  const problems: string[] = [];
  const structure = (s: Schema, path: string): void => {
    for (const keyword of Object.keys(s))
      if (!ALLOWED.has(keyword)) problems.push(`${path}: ${keyword} is not a CRD schema field`);
    const free = s["x-kubernetes-preserve-unknown-fields"] === true || s["x-kubernetes-int-or-string"] === true;
    if (typeof s.type !== "string" && !free) problems.push(`${path}: no type`);
    if (s.uniqueItems === true) problems.push(`${path}: uniqueItems must not be true`);
    if (s.additionalProperties === false) problems.push(`${path}: additionalProperties must not be false`);
    if (s.properties && s.additionalProperties !== undefined)
      problems.push(`${path}: additionalProperties together with properties`);
    if (s.type === "array" && !isSchema(s.items)) problems.push(`${path}: an array without items`);
    if (s["x-kubernetes-list-type"] === "set" && !SCALARS.includes(String((s.items as Schema)?.type)))
      problems.push(`${path}: a set of non-scalar items`);
    for (const [name, sub] of Object.entries((s.properties as Record<string, Schema>) ?? {}))
      structure(sub, `${path}.${name}`);
    if (isSchema(s.additionalProperties)) structure(s.additionalProperties, `${path}.*`);
    if (isSchema(s.items)) structure(s.items, `${path}[]`);
    for (const junctor of JUNCTORS)
      ((s[junctor] as Schema[] | undefined) ?? []).forEach((b, i) => validation(b, s, `${path}.${junctor}[${i}]`));
    if (isSchema(s.not)) validation(s.not, s, `${path}.not`);
  };
  // A value validation checks the node it sits on: what it names must be declared outside it.
  const validation = (v: Schema, skeleton: Schema | undefined, path: string): void => {
    for (const keyword of Object.keys(v)) {
      if (!ALLOWED.has(keyword)) problems.push(`${path}: ${keyword} is not a CRD schema field`);
      if (STRUCTURE_ONLY.includes(keyword) || keyword.startsWith("x-kubernetes-"))
        problems.push(`${path}: ${keyword} inside a value validation`);
    }
    if (v.uniqueItems === true) problems.push(`${path}: uniqueItems must not be true`);
    const declared = (skeleton?.properties as Record<string, Schema> | undefined) ?? {};
    for (const [name, sub] of Object.entries((v.properties as Record<string, Schema>) ?? {})) {
      if (!(name in declared)) problems.push(`${path}.${name}: not declared outside the value validation`);
      validation(sub, declared[name], `${path}.${name}`);
    }
    if (isSchema(v.items)) {
      if (!isSchema(skeleton?.items)) problems.push(`${path}[]: items not declared outside the value validation`);
      validation(v.items, skeleton?.items as Schema | undefined, `${path}[]`);
    }
    for (const junctor of JUNCTORS)
      ((v[junctor] as Schema[] | undefined) ?? []).forEach((b, i) =>
        validation(b, skeleton, `${path}.${junctor}[${i}]`),
      );
    if (isSchema(v.not)) validation(v.not, skeleton, `${path}.not`);
  };
  structure(root, "$");
  return problems;
}
