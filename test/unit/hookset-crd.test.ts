// The HookSet CRD: its spec schema is derived from hooks.yaml's JSON Schema, is structural (what
// kube-apiserver requires of a CRD), accepts what hooks.yaml accepts and refuses obviously wrong
// HookSets with the field path. The e2e test (hookset-crd.e2e.test.ts) proves the same on a real
// kube-apiserver.
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { BARE_ON_MESSAGE, hookSetCrd } from "../../src/generate/hookset-crd.js";
import { StructuralSchemaError, toStructural } from "../../src/generate/structural-schema.js";
import { compileExpression, evaluateCondition } from "../../src/expr/cel.js";
import { hookSetSchema } from "../../src/hookset/schema.js";
import { structuralViolations } from "../helpers/structural-schema.js";

type Schema = { [keyword: string]: unknown };
// ajv-formats is CommonJS: its default export is the plugin function under ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const crd = hookSetCrd({ "app.kubernetes.io/managed-by": "resource-hooks" });
const version = (crd.spec.versions as Schema[])[0]!;
const root = (version.schema as { openAPIV3Schema: Schema }).openAPIV3Schema;
const props = (s: Schema) => (s.properties ?? {}) as Record<string, Schema>;
const crdSpec = props(root).spec!;
const sourceSpec = props(hookSetSchema()).spec!;
const example = parse(readFileSync("examples/hooks.yaml", "utf8")) as { spec: Schema };

/**
 * The CRD schema as kube-apiserver applies it, in JSON Schema: kubectl's strict field validation
 * refuses a field the schema does not declare, except below x-kubernetes-preserve-unknown-fields.
 */
function asServerValidates(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(props(s)).map(([k, v]) => [k, asServerValidates(v)]));
    if (s["x-kubernetes-preserve-unknown-fields"] !== true) out.additionalProperties = false;
  }
  if (s.items) out.items = asServerValidates(s.items as Schema);
  if (typeof s.additionalProperties === "object")
    out.additionalProperties = asServerValidates(s.additionalProperties as Schema);
  return out;
}
const serverValidate = addFormats(new Ajv({ strict: false, allErrors: true })).compile(asServerValidates(crdSpec));
const sourceValidate = new Ajv({ strict: false, allErrors: true }).compile(sourceSpec);
/** The field paths the CRD schema refuses a spec with, as kubectl prints them (spec.hooks[0].name). */
function refusedAt(spec: unknown): string[] {
  if (serverValidate(spec)) return [];
  const fieldPath = (e: ErrorObject) =>
    "spec" +
    e.instancePath
      .split("/")
      .slice(1)
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
      .join("");
  return [...new Set(serverValidate.errors!.map(fieldPath))];
}

/** Every property path a schema declares, through oneOf/anyOf branches, items and maps. */
function propertyPaths(s: Schema, path = "spec", out = new Set<string>()): Set<string> {
  for (const [name, sub] of Object.entries(props(s))) {
    out.add(`${path}.${name}`);
    propertyPaths(sub, `${path}.${name}`, out);
  }
  if (s.items && typeof s.items === "object") propertyPaths(s.items as Schema, `${path}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === "object")
    propertyPaths(s.additionalProperties as Schema, `${path}.*`, out);
  for (const branch of [...((s.oneOf as Schema[]) ?? []), ...((s.anyOf as Schema[]) ?? [])])
    propertyPaths(branch, path, out);
  return out;
}

/** A spec of one hook with these steps (valid for hooks.yaml's schema). */
const withSteps = (...steps: Schema[]) => ({
  hooks: [{ name: "h", on: { resource: { version: "v1", resource: "configmaps" } }, steps }],
});
const secret = { secretKeyRef: { name: "s", key: "k" } };

describe("HookSet CRD", () => {
  it("is hooksets.resource-hooks.io, namespaced, v1alpha1, with status and printer columns", () => {
    expect(crd.metadata).toEqual({
      name: "hooksets.resource-hooks.io",
      labels: { "app.kubernetes.io/managed-by": "resource-hooks" },
    });
    expect(crd.spec).toMatchObject({
      group: "resource-hooks.io",
      scope: "Namespaced",
      names: { kind: "HookSet", listKind: "HookSetList", plural: "hooksets", singular: "hookset", shortNames: ["hs"] },
    });
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
    expect((version.additionalPrinterColumns as Schema[]).map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ["Ready", "string", '.status.conditions[?(@.type=="Ready")].status'],
      ["Hooks", "integer", ".status.hooks"],
      ["Watches", "integer", ".status.watches"],
      ["Last Run", "date", ".status.lastRunTime"],
      ["Age", "date", ".metadata.creationTimestamp"],
    ]);
    const status = props(props(root).status!);
    expect(Object.keys(status)).toEqual(["observedGeneration", "hooks", "watches", "lastRunTime", "conditions"]);
    expect(status.conditions).toMatchObject({
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    });
    const condition = (status.conditions!.items as Schema).required;
    expect(condition).toEqual(["type", "status", "lastTransitionTime", "reason", "message"]);
  });

  it("is a structural schema (no $ref, a type everywhere, checks only inside oneOf/anyOf/allOf/not)", () => {
    expect(structuralViolations(root)).toEqual([]);
    // The root's metadata: the API server allows only restrictions on name and generateName.
    expect(props(root).metadata).toEqual({ type: "object" });
  });

  it("the checker finds what kube-apiserver refuses (so a passing check means something)", () => {
    expect(structuralViolations({ type: "object", properties: { a: { $ref: "#/x" } } })).toEqual([
      "$.a: $ref is not a CRD schema field",
      "$.a: no type",
    ]);
    expect(
      structuralViolations({
        type: "object",
        properties: { a: { type: "string" } },
        additionalProperties: false,
        oneOf: [{ type: "object", properties: { b: { description: "x" } } }],
      }),
    ).toEqual([
      "$: additionalProperties must not be false",
      "$: additionalProperties together with properties",
      "$.oneOf[0]: type inside a value validation",
      "$.oneOf[0].b: not declared outside the value validation",
      "$.oneOf[0].b: description inside a value validation",
    ]);
    expect(structuralViolations({ type: "array", uniqueItems: true, items: { type: "object" } })).toEqual([
      "$: uniqueItems must not be true",
    ]);
  });

  it("is derived from hooks.yaml's schema: the same spec, every field of it declared", () => {
    // Only the hook item differs: the key a bare YAML 1.1 `on:` becomes, and `on` required by a rule.
    const derived = toStructural(sourceSpec, "spec");
    const { true: bareOn, ...hookProperties } = props(props(crdSpec).hooks!.items as Schema);
    expect(bareOn).toMatchObject({ "x-kubernetes-preserve-unknown-fields": true });
    expect(hookProperties).toEqual(props(props(derived).hooks!.items as Schema));
    const hookItem = props(derived).hooks!.items as Schema;
    expect((props(crdSpec).hooks!.items as Schema).required).toEqual(
      (hookItem.required as string[]).filter((f) => f !== "on"),
    );
    expect((props(crdSpec).hooks!.items as Schema)["x-kubernetes-validations"]).toEqual([
      { rule: "!has(self.__true__)", message: BARE_ON_MESSAGE, fieldPath: ".true" },
      {
        rule: "has(self.on) || has(self.__true__)",
        message: "Required value",
        fieldPath: ".on",
        reason: "FieldValueRequired",
      },
    ]);
    expect(crdSpec.required).toEqual(["hooks"]);
    const declared = propertyPaths(crdSpec);
    const missing = [...propertyPaths(sourceSpec)].filter((p) => !declared.has(p));
    // Fields below a value that may be a string or an object (or a number or a string) have no
    // structural type: those values are kept as free-form JSON, checked by `validate` only.
    const freeForm = [
      "spec.hooks[].steps[].http.headers.*",
      "spec.hooks[].steps[].kubernetes.wait.for",
      "spec.hooks[].steps[].waitFor.for",
    ];
    expect(missing.filter((p) => !freeForm.some((f) => p.startsWith(`${f}.`)))).toEqual([]);
    expect(missing.length).toBeGreaterThan(0);
  });

  it("keeps the checks: enums, patterns, bounds, required, one-of-a-kind choices", () => {
    const hook = props(props(crdSpec).hooks!.items as Schema);
    expect(hook.concurrency).toMatchObject({ type: "string", enum: ["queue", "replace", "parallel"] });
    expect(hook.name).toMatchObject({ type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 });
    expect(props(crdSpec).hooks!.minItems).toBe(1);
    // uniqueItems is forbidden in a CRD: a set refuses duplicates instead.
    expect(props(hook.on!).events).toMatchObject({ type: "array", "x-kubernetes-list-type": "set" });
    const step = props(hook.steps!.items as Schema);
    // A free-form object is kept whole, not pruned to {}.
    expect(props(step.kubernetes!).manifest).toMatchObject({ "x-kubernetes-preserve-unknown-fields": true });
    expect(step.githubWorkflow!.oneOf).toHaveLength(2);
  });

  it("accepts examples/hooks.yaml's spec, and every kind of value hooks.yaml accepts", () => {
    expect(refusedAt(example.spec)).toEqual([]);
    const valid = [
      withSteps({ name: "a", waitFor: { for: "rollout" } }),
      withSteps({ name: "a", waitFor: { for: { condition: { type: "Ready" } }, apiVersion: "v1", kind: "Pod" } }),
      withSteps({
        name: "a",
        http: { url: "http://x", headers: { "X-A": "b", Authorization: { ...secret, prefix: "Bearer " } } },
      }),
      withSteps({ name: "a", http: { url: "http://x", body: [1, { a: null }], expectStatus: [200, "2xx"] } }),
      ...["merge", "strategic"].map((kind) =>
        withSteps({
          name: "a",
          kubernetes: {
            action: "patch",
            manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } },
            patch: { [kind]: { data: { a: "b" } } },
          },
        }),
      ),
      withSteps({
        name: "a",
        githubWorkflow: { owner: "o", repo: "r", workflow: 42, ref: "main", token: { env: "GH_TOKEN" } },
      }),
      withSteps({
        name: "a",
        githubWorkflow: { dispatch: "repository", owner: "o", repo: "r", eventType: "e", token: secret },
      }),
      withSteps({ name: "a", cdnPurge: { provider: "fastly", serviceId: "s", keys: ["k"], token: secret } }),
      withSteps({ name: "a", cdnPurge: { provider: "cloudflare", zoneId: "z", everything: true, token: secret } }),
      withSteps({
        name: "a",
        cdnPurge: {
          provider: "cloudfront",
          distributionId: "d",
          paths: "{{ ['/a'] }}",
          accessKeyId: secret,
          secretAccessKey: secret,
        },
      }),
      withSteps({ name: "a", slack: { webhookUrl: secret, text: "t", blocks: [{ type: "section" }] } }),
    ];
    for (const spec of valid) {
      expect(sourceValidate(spec), JSON.stringify(sourceValidate.errors)).toBe(true);
      expect(refusedAt(spec), JSON.stringify(spec)).toEqual([]);
    }
  });

  it("refuses an obviously wrong HookSet with the field path", () => {
    const hook = (extra: Schema) => ({
      hooks: [{ name: "h", on: { resource: { version: "v1", resource: "configmaps" } }, ...extra }],
    });
    expect(refusedAt(hook({}))).toEqual(["spec.hooks[0]"]); // no steps: required
    expect(refusedAt(hook({ steps: [] }))).toEqual(["spec.hooks[0].steps"]); // minItems 1
    expect(refusedAt(hook({ concurrency: "sometimes", steps: [{ name: "s", log: { message: "m" } }] }))).toEqual([
      "spec.hooks[0].concurrency",
    ]);
    expect(refusedAt({ hooks: [] })).toEqual(["spec.hooks"]);
    expect(refusedAt(withSteps({ name: "Not_A_Label", log: { message: "m" } }))).toEqual([
      "spec.hooks[0].steps[0].name",
    ]);
    expect(refusedAt(withSteps({ name: "s", timeout: "soon", log: { message: "m" } }))).toEqual([
      "spec.hooks[0].steps[0].timeout",
    ]);
    expect(refusedAt(withSteps({ name: "s", lgo: { message: "m" } }))).toEqual(["spec.hooks[0].steps[0]"]);
    // A step secret inlined instead of referenced, and a token that is both a Secret and an env variable.
    expect(refusedAt(withSteps({ name: "s", slack: { webhookUrl: "https://hooks", text: "t" } }))).toContain(
      "spec.hooks[0].steps[0].slack.webhookUrl",
    );
    const both = { ...secret, env: "X" };
    expect(
      refusedAt(withSteps({ name: "s", cdnPurge: { provider: "fastly", serviceId: "s", all: true, token: both } })),
    ).toContain("spec.hooks[0].steps[0].cdnPurge.token");
    // A field of the other dispatch kind.
    const gh = { owner: "o", repo: "r", workflow: "w.yml", ref: "main", token: secret, clientPayload: {} };
    expect(refusedAt(withSteps({ name: "s", githubWorkflow: gh }))).toContain("spec.hooks[0].steps[0].githubWorkflow");
  });

  it("keeps waitFor's apiVersion and kind together with a CEL rule the API server evaluates", () => {
    const waitFor = props(props(props(crdSpec).hooks!.items as Schema).steps!.items as Schema).waitFor!;
    const rules = waitFor["x-kubernetes-validations"] as Array<{ rule: string; message: string }>;
    expect(rules.map((r) => r.message)).toEqual(["apiVersion needs kind", "kind needs apiVersion"]);
    // The runner's CEL engine (the same language and has() semantics as the API server's).
    const passes = (self: Schema) => rules.every((r) => evaluateCondition(compileExpression(r.rule), { self }));
    expect(passes({ for: "rollout" })).toBe(true);
    expect(passes({ for: "rollout", apiVersion: "v1", kind: "Pod" })).toBe(true);
    expect(passes({ for: "rollout", apiVersion: "v1" })).toBe(false);
    expect(passes({ for: "rollout", kind: "Pod" })).toBe(false);
  });

  it("fails loudly on a JSON Schema keyword it cannot express, instead of dropping a check", () => {
    expect(() => toStructural({ type: "object", patternProperties: { "^a": {} } })).toThrow(StructuralSchemaError);
    expect(() => toStructural({ $ref: "#/definitions/x" })).toThrow(/\$ref/);
    expect(() => toStructural({ type: "array", uniqueItems: true, items: { type: "object" } })).toThrow(/uniqueItems/);
  });
});
