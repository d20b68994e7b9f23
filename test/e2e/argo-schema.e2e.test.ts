// Every generated EventSource and Sensor validates against Argo Events v1.9.11's own JSON schema
// with unknown fields forbidden (a misplaced field is silently ignored by Argo Events, so only a
// strict check catches it). The schema comes from the argo-events Go module; when it cannot be
// had, this test fails — it is never skipped.
import { describe, expect, it } from "vitest";
import type { Sensor } from "../../src/generate/argo-types.js";
import { generate } from "../../src/generate/index.js";
import { loadHookSetFile } from "../../src/hookset/load.js";
import { argoValidators } from "../helpers/argo-schema.js";
import { hookSetFrom } from "../helpers/spec.js";

const example = loadHookSetFile("examples/hooks.yaml");
const objectsOf = (hookSet: typeof example, kind: string) =>
  generate(hookSet)
    .flatMap((f) => f.objects)
    .filter((o) => (o as { kind?: string }).kind === kind);

describe("generated Argo Events objects against Argo Events' own schema", () => {
  it("the example's EventSource and Sensor validate, with no unknown fields", () => {
    const { EventSource: validateEventSource, Sensor: validateSensor } = argoValidators();
    const eventSources = objectsOf(example, "EventSource");
    const sensors = objectsOf(example, "Sensor");
    expect(eventSources).toHaveLength(1);
    expect(sensors).toHaveLength(1);
    for (const es of eventSources)
      expect(validateEventSource(es), JSON.stringify(validateEventSource.errors)).toBe(true);
    for (const s of sensors) expect(validateSensor(s), JSON.stringify(validateSensor.errors)).toBe(true);
  });

  it("so does a hook set with another event bus, label selectors, every event type and both kinds", () => {
    const { EventSource: validateEventSource, Sensor: validateSensor } = argoValidators();
    const hookSet = hookSetFrom(
      [
        {
          name: "a",
          on: {
            resource: { version: "v1", resource: "configmaps", labels: { team: "web" } },
            events: ["add", "update", "delete"],
          },
          steps: [{ name: "s", log: { message: "x" } }],
        },
        {
          name: "b",
          on: { argocd: { labels: { team: "web" }, resources: [{ kind: "Deployment", namePrefix: "front" }] } },
          steps: [{ name: "s", log: { message: "x" } }],
        },
      ],
      { runner: { tokenSecret: { name: "t", key: "k" } } },
    );
    const withBus = { ...hookSet, eventBusName: "jetstream" };
    for (const es of objectsOf(withBus, "EventSource"))
      expect(validateEventSource(es), JSON.stringify(validateEventSource.errors)).toBe(true);
    for (const s of objectsOf(withBus, "Sensor"))
      expect(validateSensor(s), JSON.stringify(validateSensor.errors)).toBe(true);
  });

  it("the strict check does catch a misspelt or misplaced field", () => {
    const { Sensor: validateSensor } = argoValidators();
    const sensor = structuredClone(objectsOf(example, "Sensor")[0]) as Sensor;
    const dep = sensor.spec.dependencies[0] as unknown as Record<string, unknown>;
    dep.eventname = dep.eventName;
    expect(validateSensor(sensor)).toBe(false);
    // atLeastOnce in the template is silently ignored by Argo Events: it must sit on the trigger.
    const misplaced = structuredClone(objectsOf(example, "Sensor")[0]) as Sensor;
    (misplaced.spec.triggers[0]!.template as unknown as Record<string, unknown>).atLeastOnce = true;
    expect(validateSensor(misplaced)).toBe(false);
    // conditions belong in the template, not on the trigger.
    const conditions = structuredClone(objectsOf(example, "Sensor")[0]) as Sensor;
    (conditions.spec.triggers[0] as unknown as Record<string, unknown>).conditions = "x";
    expect(validateSensor(conditions)).toBe(false);
  });
});
