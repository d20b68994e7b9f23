// CEL is bounded (issue 9, finding 7) and data reaches it as plain maps whatever the keys
// (finding 8): the hook author writes the expression, the object's owner writes the data.
import { describe, expect, it } from "vitest";
import {
  compileExpression,
  DEFAULT_CEL_COST_LIMIT,
  estimateCost,
  evaluateCondition,
  ExpressionError,
} from "../../src/expr/cel.js";
import { renderString, renderValue } from "../../src/expr/template.js";

function annotated(count: number): Record<string, unknown> {
  const annotations: Record<string, string> = {};
  for (let i = 0; i < count; i++) annotations[`example.com/key-${i}`] = `value-${i}`;
  return { metadata: { name: "web", annotations } };
}

function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw new Error(`expected an ExpressionError, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected an ExpressionError, got a result");
}

describe("CEL cost limit", () => {
  const object = annotated(4000);
  const quadratic = "object.metadata.annotations.all(k, object.metadata.annotations.all(j, j != k + '!'))";

  it("stops a quadratic expression over 4,000 annotations with an ExpressionError", () => {
    const err = errorOf(() => evaluateCondition(compileExpression(quadratic), { object }));
    expect(err.message).toMatch(/exceeded its cost limit of 500000/);
  });

  it("cannot be hidden by CEL's error absorption (error || true)", () => {
    const err = errorOf(() => evaluateCondition(compileExpression(`(${quadratic}) || true`), { object }));
    expect(err.message).toMatch(/cost limit/);
  });

  it("counts the result too: a small expression returning one big list many times", () => {
    const err = errorOf(() =>
      renderString("{{ object.metadata.annotations.map(k, object.metadata.annotations) }}", { object }),
    );
    expect(err.message).toMatch(/cost limit/);
  });

  it("lets ordinary comprehensions over the same data through, and mapped lists stay cheap to iterate", () => {
    expect(
      evaluateCondition(
        compileExpression("object.metadata.annotations.exists(k, k.startsWith('example.com/key-3999'))"),
        { object },
      ),
    ).toBe(true);
    expect(
      compileExpression("object.metadata.annotations.map(k, k).filter(k, k.endsWith('-7')).size()").evaluate({
        object,
      }),
    ).toBe(1);
    expect(
      compileExpression(
        "object.metadata.annotations.map(k, k).map(k, k + '!').exists(k, k == 'example.com/key-3999!')",
      ).evaluate({ object }),
    ).toBe(true);
  });

  it("takes a per-call limit and a deadline", () => {
    const expr = compileExpression("object.metadata.annotations.exists(k, k == 'none')");
    expect(expr.evaluate({ object }, { costLimit: 100_000 })).toBe(false);
    expect(errorOf(() => expr.evaluate({ object }, { costLimit: 1000 })).message).toMatch(/cost limit of 1000\b/);
    expect(errorOf(() => expr.evaluate({ object }, { deadline: Date.now() - 1 })).message).toMatch(/deadline/);
    expect(errorOf(() => expr.evaluate({ object }, { costLimit: 0 })).message).toMatch(/invalid cost limit/);
  });

  it("bounds a whole rendering with one budget, whatever the number of placeholders", () => {
    const one = "{{ object.metadata.annotations.exists(k, k == 'none') }}";
    expect(renderValue([one], { object }, { costLimit: 25_000 })).toEqual([false]);
    expect(errorOf(() => renderValue([one, one, one], { object }, { costLimit: 25_000 })).message).toMatch(
      /cost limit/,
    );
  });

  it("refuses to build huge strings before building them", () => {
    const big = { metadata: { name: "x".repeat(300_000) } };
    expect(
      errorOf(() =>
        compileExpression("object.metadata.name.replace('', object.metadata.name)").evaluate({ object: big }),
      ).message,
    ).toMatch(/string of \d+ characters/);
    expect(
      errorOf(() =>
        compileExpression("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15].map(i, object.metadata.name).join('')").evaluate({
          object: big,
        }),
      ).message,
    ).toMatch(/string of|cost limit/);
  });

  it("turns hostile nesting into an ExpressionError, not a stack overflow", () => {
    const nest = (): unknown => {
      let deep: unknown = "leaf";
      for (let i = 0; i < 20_000; i++) deep = [deep];
      return deep;
    };
    const scope = { object: { data: nest() }, oldObject: { data: nest() } };
    expect(errorOf(() => renderString("{{ object.data }}", scope)).message).toMatch(/nested deeper/);
    expect(() => compileExpression("object.data == oldObject.data").evaluate(scope)).toThrow(ExpressionError);
  });

  it("estimates cost statically: nested comprehensions over data exceed the default limit", () => {
    expect(estimateCost("object.metadata.name == 'web'")).toBeLessThan(20);
    const single = estimateCost("object.metadata.annotations.exists(k, k == 'x')");
    expect(single).toBeGreaterThan(1000);
    expect(single).toBeLessThan(DEFAULT_CEL_COST_LIMIT);
    expect(estimateCost(quadratic)).toBeGreaterThan(DEFAULT_CEL_COST_LIMIT);
    expect(compileExpression(quadratic).estimatedCost).toBe(estimateCost(quadratic));
    expect(estimateCost("[1, 2, 3].all(x, x > 0)")).toBeLessThan(50);
    expect(estimateCost(quadratic, { collectionSize: 10 })).toBeLessThan(5000);
    expect(() => estimateCost("object.(")).toThrow(ExpressionError);
  });
});

describe("object data reaches CEL as plain maps, whatever the keys", () => {
  // As the runner receives them: parsed JSON, where __proto__ is an ordinary own key.
  const labels = JSON.parse(
    '{"constructor":"c","__proto__":"p","$typeName":"google.protobuf.Timestamp","toString":"t","hasOwnProperty":"h","valueOf":"v","team":"web"}',
  ) as Record<string, unknown>;
  const scope = { object: { metadata: { name: "web", labels } } };

  it.each(["constructor", "__proto__", "$typeName", "toString", "hasOwnProperty", "valueOf", "team"])(
    "finds the label key %s with `in` and by index",
    (key) => {
      expect(evaluateCondition(compileExpression(`'${key}' in object.metadata.labels`), scope)).toBe(true);
      expect(compileExpression(`object.metadata.labels['${key}']`).evaluate(scope)).toBe(labels[key]);
    },
  );

  it("does not see inherited properties as keys", () => {
    const plain = { object: { metadata: { labels: { team: "web" } } } };
    expect(
      evaluateCondition(
        compileExpression("'constructor' in object.metadata.labels || 'toString' in object.metadata.labels"),
        plain,
      ),
    ).toBe(false);
    expect(compileExpression("object.metadata.labels.size()").evaluate(plain)).toBe(1);
  });

  it("renders the map back unchanged, __proto__ included as an own key", () => {
    const rendered = renderString("{{ object.metadata.labels }}", scope) as Record<string, unknown>;
    expect(JSON.stringify(rendered)).toBe(JSON.stringify(labels));
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(Object.keys(rendered)).toContain("__proto__");
    expect(renderString("labels: {{ object.metadata.labels }}", scope)).toBe(`labels: ${JSON.stringify(labels)}`);
    expect(compileExpression("object.metadata.labels.size()").evaluate(scope)).toBe(7);
    expect(compileExpression("object.metadata.labels == object.metadata.labels").evaluate(scope)).toBe(true);
  });

  it("never resolves JavaScript's own names as variables", () => {
    expect(() => compileExpression("constructor").evaluate({})).toThrow(ExpressionError);
    expect(() => compileExpression("toString == 1").evaluate({})).toThrow(ExpressionError);
  });
});
