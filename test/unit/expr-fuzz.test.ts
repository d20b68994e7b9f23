// Property-based fuzzing of CEL evaluation and template rendering over hostile scopes: any JSON
// (odd keys such as __proto__ and $typeName, deep nesting, huge strings, lone surrogates). The
// only thing that may escape is an ExpressionError; results always serialize. Seeded and bounded
// by run count; FUZZ_RUNS=100000 scales it up.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileExpression, ExpressionError } from "../../src/expr/cel.js";
import { renderString, renderUrl, renderValue } from "../../src/expr/template.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
// Generous: the bound is the run count; this only keeps vitest from cutting a slow machine short.
const TIMEOUT = 300_000;
const SEED = 20261125;
// A small budget keeps each case fast; the property is the same under any limit.
const options = { costLimit: 5_000 };

const oddKey = fc.oneof(
  fc.constantFrom(
    "__proto__",
    "constructor",
    "$typeName",
    "toString",
    "hasOwnProperty",
    "prototype",
    "valueOf",
    "",
    " ",
    "a.b",
    "metadata",
    "labels",
    "name",
    "spec",
    "replicas",
    "items",
    "data",
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 6 }),
);

const leaf = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308, "..", "?admin=1&x=", "#frag", "@evil.example", "\ud800"),
  fc.integer({ min: 1000, max: 50_000 }).map((n) => "x".repeat(n)),
);

const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 6 }),
    fc.dictionary(oddKey, tie("value"), { maxKeys: 6 }).map((o) => JSON.parse(JSON.stringify(o)) as unknown),
  ),
})).value;

// Deep nesting beyond any recursion limit, and wide maps, built directly.
const deep = fc.tuple(fc.integer({ min: 100, max: 12_000 }), fc.boolean(), leaf).map(([depth, lists, inner]) => {
  let value: unknown = inner;
  for (let i = 0; i < depth; i++) value = lists ? [value] : { metadata: value };
  return value;
});
const wide = fc
  .integer({ min: 100, max: 2000 })
  .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`])));

const objectLike = fc.oneof(
  json,
  deep,
  fc.record({
    metadata: fc.record({ name: leaf, labels: fc.oneof(json, wide), annotations: fc.oneof(json, wide) }),
    spec: json,
    data: fc.oneof(json, wide),
    items: fc.array(json, { maxLength: 5 }),
  }),
);

const scope = fc.record({
  object: objectLike,
  oldObject: objectLike,
  event: json,
  steps: fc.dictionary(oddKey, fc.record({ status: leaf, output: json })),
});

const expressions = [
  "object.metadata.name",
  "object.metadata.labels",
  "'constructor' in object.metadata.labels",
  "'__proto__' in object.metadata.labels && object.metadata.labels['__proto__'] != ''",
  "object.metadata.labels['$typeName']",
  "object.spec.replicas + 1",
  "object.spec.replicas > oldObject.spec.replicas",
  "has(object.spec.paused)",
  "object.metadata.annotations.exists(k, k.startsWith('k1'))",
  "object.metadata.annotations.all(k, object.metadata.annotations.exists(j, j == k))",
  "object.metadata.labels.exists(k, object.metadata.labels[k] == 'web')",
  "object == oldObject",
  "size(object)",
  "object.items.map(i, i)",
  "object.items.map(i, object.items).map(l, l.size())",
  "object.data.map(k, object.data[k]).join(',')",
  "string(object.metadata.name).size()",
  "object.metadata.name.matches('^(a+)+$')",
  "object.metadata.name + object.metadata.name",
  "object.metadata.name.replace('', object.metadata.name)",
  "object.metadata.name.split('').size()",
  "type(object) == map",
  "dyn(object).items.filter(i, i.size() > 2)",
  "[object, oldObject].exists(o, o == null)",
  "steps.a.output.body[0]",
  "int(object.spec.replicas) * 1000000000000",
  "object.metadata",
  "event",
  "object",
];

function onlyExpressionErrors(fn: () => unknown): void {
  try {
    const result = fn();
    // Results always serialize (no bigint, no cycles, bounded depth).
    JSON.stringify(result);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
  }
}

describe("fuzz: hostile scopes", () => {
  it(
    "CEL evaluation only ever throws ExpressionError",
    () => {
      fc.assert(
        fc.property(scope, fc.constantFrom(...expressions), (vars, source) => {
          onlyExpressionErrors(() => compileExpression(source).evaluate(vars, options));
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    "lookups by any key only ever throw ExpressionError",
    () => {
      fc.assert(
        fc.property(scope, oddKey, (vars, key) => {
          onlyExpressionErrors(() => compileExpression(`object[${JSON.stringify(key)}]`).evaluate(vars, options));
          onlyExpressionErrors(() =>
            compileExpression(`${JSON.stringify(key)} in object.metadata.labels`).evaluate(vars, options),
          );
        }),
        { seed: SEED + 1, numRuns: Math.ceil(RUNS / 2) },
      );
    },
    TIMEOUT,
  );

  it(
    "templates and URL templates only ever throw ExpressionError",
    () => {
      const templates = fc
        .constantFrom(...expressions)
        .chain((e) =>
          fc.constantFrom(
            `{{ ${e} }}`,
            `x {{ ${e} }} y`,
            `https://api.example.com/{{ ${e} }}?q={{ ${e} }}#{{ ${e} }}`,
            `{{+ ${e} }}/x`,
            `https://h.example{{ ${e} }}`,
          ),
        );
      fc.assert(
        fc.property(scope, templates, (vars, template) => {
          onlyExpressionErrors(() => renderString(template, vars, options));
          onlyExpressionErrors(() => renderValue({ a: [template], b: { c: template } }, vars, options));
          onlyExpressionErrors(() => {
            const url = renderUrl(template, vars, options);
            expect(typeof url).toBe("string");
            return url;
          });
        }),
        { seed: SEED + 2, numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});
