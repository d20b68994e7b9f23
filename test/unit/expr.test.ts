// CEL conditions and {{ }} templates: the one expression language of hooks.yaml.
import { describe, expect, it } from "vitest";
import { compileExpression, evaluateCondition, ExpressionError } from "../../src/expr/cel.js";
import { parseTemplate, renderString, renderValue } from "../../src/expr/template.js";
import { deployment } from "../helpers/objects.js";

const object = deployment({ replicas: 3 });
const scope = {
  object,
  oldObject: deployment({ replicas: 2 }),
  steps: { call: { status: "succeeded", output: { status: 201, body: { id: "p-1" } } } },
};

describe("CEL", () => {
  it("treats JSON integers as CEL ints and reads nested fields, keys with dots and list items", () => {
    expect(compileExpression("object.spec.replicas + 1").evaluate(scope)).toBe(4);
    expect(compileExpression("object.metadata.annotations['deployment.kubernetes.io/revision']").evaluate(scope)).toBe(
      "3",
    );
    expect(compileExpression("object.spec.template.spec.containers[1].args[1]").evaluate(scope)).toBe("9090");
    expect(compileExpression("object.spec.template.spec.containers.map(c, c.name)").evaluate(scope)).toEqual([
      "web",
      "sidecar",
    ]);
  });

  it("keeps has() and missing-field semantics when it converts only the fields an expression selects", () => {
    expect(compileExpression("has(object.spec.paused)").evaluate(scope)).toBe(false);
    expect(
      compileExpression("has(object.spec.replicas) && object.spec.replicas > oldObject.spec.replicas").evaluate(scope),
    ).toBe(true);
    expect(() => compileExpression("object.spec.nothing.here == 1").evaluate(scope)).toThrow(ExpressionError);
    expect(
      compileExpression("object.metadata.labels.exists(k, k == 'team') && size(object.metadata.labels) == 2").evaluate(
        scope,
      ),
    ).toBe(true);
    expect(compileExpression("object.spec == object.spec && object.spec.replicas == 3").evaluate(scope)).toBe(true);
  });

  it("reports syntax errors, non-boolean conditions, step references and variables", () => {
    expect(() => compileExpression("object.spec.(")).toThrow(ExpressionError);
    expect(() => evaluateCondition(compileExpression("object.spec.replicas"), scope)).toThrow(
      'condition "object.spec.replicas" gave number 3, expected a boolean',
    );
    const expr = compileExpression(
      "steps.call.output.status == 201 && steps['other'].status == 'x' && object.kind == 'Deployment'",
    );
    expect([...expr.stepReferences].sort()).toEqual(["call", "other"]);
    expect([...expr.variables].sort()).toEqual(["object", "steps"]);
    expect([...compileExpression("[1, 2].exists(x, x == object.spec.replicas)").variables]).toEqual(["object"]);
  });

  it("has string extension functions", () => {
    expect(compileExpression("object.spec.template.spec.containers[0].image.split(':')[1]").evaluate(scope)).toBe(
      "1.4.0",
    );
  });
});

describe("templates", () => {
  it("keeps the type of a string that is exactly one placeholder, and interpolates otherwise", () => {
    expect(renderString("{{ object.spec.replicas }}", scope)).toBe(3);
    expect(renderString("{{ object.metadata.labels }}", scope)).toEqual({ app: "frontend", team: "web" });
    expect(
      renderString(
        "{{ object.metadata.name }} has {{ object.spec.replicas }} replicas ({{ object.metadata.labels }})",
        scope,
      ),
    ).toBe('frontend has 3 replicas ({"app":"frontend","team":"web"})');
    expect(renderString("no placeholders", scope)).toBe("no placeholders");
  });

  it("renders every string of a structure, keys left alone, outputs of earlier steps included", () => {
    expect(renderValue({ "{{ keep }}": ["{{ steps.call.output.body.id }}", 1, true, null] }, scope)).toEqual({
      "{{ keep }}": ["p-1", 1, true, null],
    });
  });

  it("rejects unclosed and empty placeholders", () => {
    expect(() => parseTemplate("a {{ b")).toThrow('"{{" at offset 2 has no closing "}}"');
    expect(() => parseTemplate("a {{ }} b")).toThrow("empty placeholder at offset 2");
  });

  it("never evaluates JavaScript", () => {
    expect(() => renderString("{{ process.exit(1) }}", scope)).toThrow();
    expect(() => renderString("{{ constructor.constructor('return 1')() }}", scope)).toThrow();
  });
});
