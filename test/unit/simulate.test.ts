// simulate and the spec details it shares with the runner: hyphenated step names in templates,
// outputs of earlier steps, URL fields encoded as the runner encodes them, and `when` under the
// HookSet's limits.celCost.
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { renderUrl, renderValue } from "../../src/expr/template.js";
import { EARLIER_STEP_OUTPUT, eventFor, simulate } from "../../src/simulate.js";
import { parseHookSet, SpecError } from "../../src/hookset/load.js";
import type { HookSet } from "../../src/hookset/types.js";
import { decide } from "../../src/trigger/index.js";
import { configMap, deployment } from "../helpers/objects.js";

function load(hooks: unknown[], limits?: Record<string, unknown>): HookSet {
  const doc = {
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "web" },
    spec: { runner: { url: "http://web-runner.argo-events.svc:8080" }, ...(limits ? { limits } : {}), hooks },
  };
  return parseHookSet(stringify(doc), "hooks.yaml");
}

const onImage = {
  resource: { group: "apps", version: "v1", resource: "deployments" },
  changed: ["spec.template.spec.containers[0].image"],
};

describe("hyphenated step names", () => {
  const hookSet = load([
    {
      name: "smoke",
      on: onImage,
      steps: [
        { name: "smoke-job", log: { message: "start" } },
        {
          name: "report",
          if: 'steps.smoke-job.status == "succeeded"',
          log: { message: "{{ steps.smoke-job.output.message }} for {{ object.metadata.name }}" },
        },
      ],
    },
  ]);

  it("steps.smoke-job.output reads the step smoke-job, in templates and conditions", () => {
    const [, report] = hookSet.hooks[0]!.steps;
    expect([...report!.if!.stepReferences]).toEqual(["smoke-job"]);
    const scope = {
      object: { metadata: { name: "frontend" } },
      steps: { "smoke-job": { status: "succeeded", output: { message: "done" } } },
    };
    expect(report!.if!.evaluate(scope)).toBe(true);
    expect(renderValue(report!.config, scope)).toEqual({ message: "done for frontend" });
  });

  it("a hyphenated name that is no earlier step is refused by name", () => {
    expect(() =>
      load([{ name: "h", on: onImage, steps: [{ name: "a", log: { message: "{{ steps.smoke-jab.output.name }}" } }] }]),
    ).toThrow("refers to steps.smoke-jab, which is not an earlier step of this hook (no earlier steps)");
  });

  it("string literals are left alone", () => {
    const set = load([
      { name: "h", on: onImage, steps: [{ name: "a", log: { message: "{{ 'steps.a-b' + object.metadata.name }}" } }] },
    ]);
    expect(renderValue(set.hooks[0]!.steps[0]!.config, { object: { metadata: { name: "x" } } })).toEqual({
      message: "steps.a-bx",
    });
  });
});

describe("simulate", () => {
  const old = deployment({ image: "registry.example/frontend:1.4.0" });
  const now = deployment({ image: "registry.example/frontend:1.5.0", name: "front end/1" });
  now.metadata!.name = "front end/1";
  old.metadata!.name = "front end/1";

  it("says an earlier step's output is known only when it runs, and renders the rest", () => {
    const hookSet = load([
      {
        name: "h",
        on: onImage,
        steps: [
          { name: "build", log: { message: "x" } },
          {
            name: "tell",
            if: "steps.build.status == 'succeeded'",
            log: { message: "{{ steps.build.output.message }} / {{ object.spec.template.spec.containers[0].image }}" },
          },
        ],
      },
    ]);
    const [result] = simulate(hookSet, { type: "UPDATE", object: now, oldObject: old });
    expect(result!.fires).toBe(true);
    const tell = result!.steps[1]!;
    expect(tell.runs).toBeNull();
    expect(tell.config).toEqual({ message: "{{ steps.build.output.message }} / registry.example/frontend:1.5.0" });
    expect(tell.note).toBe(
      `if reads the ${EARLIER_STEP_OUTPUT}; {{ steps.build.output.message }}: ${EARLIER_STEP_OUTPUT}`,
    );
    expect(tell.note).not.toContain("not found");
  });

  it("renders URL fields with the runner's per-component encoding", () => {
    const url =
      "https://deploy.example.com/apps/{{ object.metadata.name }}?image={{ object.spec.template.spec.containers[0].image }}#{{ object.metadata.namespace }}";
    const hookSet = load([
      {
        name: "h",
        on: onImage,
        steps: [
          { name: "call", http: { url, body: { name: "{{ object.metadata.name }}" } } },
          {
            name: "then",
            http: {
              url: "https://deploy.example.com/{{ steps.call.output.status }}/{{ object.metadata.name }}?i={{ object.spec.template.spec.containers[0].image }}",
            },
          },
          {
            name: "purge",
            cdnPurge: {
              provider: "cloudflare",
              zoneId: "z",
              files: ["https://www.example.com/{{ object.metadata.name }}"],
              token: { secretKeyRef: { name: "c", key: "t" } },
            },
          },
        ],
      },
    ]);
    const [result] = simulate(hookSet, { type: "UPDATE", object: now, oldObject: old });
    const scope = eventFor({ type: "UPDATE", object: now, oldObject: old });
    const [call, then, purge] = result!.steps;
    // The same function as the runner's ctx.renderUrl, over the same object.
    expect((call!.config as { url: string }).url).toBe(renderUrl(url, { object: scope.data.body }));
    expect((call!.config as { url: string }).url).toBe(
      "https://deploy.example.com/apps/front%20end%2F1?image=registry.example%2Ffrontend%3A1.5.0#web",
    );
    // Not a URL field: the body is rendered as text.
    expect((call!.config as { body: unknown }).body).toEqual({ name: "front end/1" });
    // With an earlier step's output in the URL: the other values are still encoded per component.
    expect((then!.config as { url: string }).url).toBe(
      "https://deploy.example.com/{{ steps.call.output.status }}/front%20end%2F1?i=registry.example%2Ffrontend%3A1.5.0",
    );
    expect((purge!.config as { files: string[] }).files).toEqual(["https://www.example.com/front%20end%2F1"]);
  });
});

describe("when and limits.celCost", () => {
  // 200 keys: the comprehension visits each, far beyond a limit of 50, far below the default.
  const data = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, "v"]));
  const hook = {
    name: "h",
    on: { resource: { version: "v1", resource: "configmaps" }, when: "object.data.all(k, object.data[k] == 'v')" },
    steps: [{ name: "a", log: { message: "hi" } }],
  };
  const event = eventFor({ type: "UPDATE", object: configMap({ ...data, changed: "v" }), oldObject: configMap(data) });

  it("is evaluated under the HookSet's limit, not the default", () => {
    const limited = load([hook], { celCost: 50 });
    expect(decide(limited.hooks[0]!.trigger, event)).toEqual({
      fires: false,
      code: "when_error",
      reason:
        "when could not be evaluated: the expression exceeded its cost limit of 50 (a comprehension over large data, or large strings)",
    });
    const unlimited = load([hook]);
    expect(decide(unlimited.hooks[0]!.trigger, event).fires).toBe(true);
  });

  it("a when that is not a condition is refused at validate", () => {
    let error: unknown;
    try {
      load([{ ...hook, on: { ...hook.on, when: "size(object.data)" } }]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).message).toMatch(
      /^hooks\.yaml:\d+:\d+: spec\.hooks\[0\]\.on\.when: expected a condition that is true or false, but "size\(object\.data\)" gives an integer$/,
    );
  });
});
