// Skipped decisions in /metrics: a real listening runner, real events, the counter read back over
// HTTP. The label is the reason's code, never its text.
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArgoCDTrigger } from "../../src/trigger/argocd/index.js";
import { resourceEventRequest } from "../../src/testing/index.js";
import { eventFor } from "../../src/simulate.js";
import { evaluate, SKIP_REASON_CODES, type Decision } from "../../src/trigger/index.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { recorded, replay } from "../helpers/argocd-fixtures.js";
import { hookSetFrom, hookWith } from "../helpers/spec.js";

const resource = { group: "apps", version: "v1", resource: "deployments", namespace: "web" };

describe("skipped decisions in /metrics", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRunner(
      hookSetFrom([
        {
          name: "image",
          on: { resource, changed: ["spec.template.spec.containers[0].image"] },
          steps: [{ name: "a", log: { message: "hi" } }],
        },
        {
          name: "scaled",
          on: { resource, changed: ["spec.replicas"], when: "object.spec.replicas > 10" },
          steps: [{ name: "a", log: { message: "hi" } }],
        },
      ]),
    );
  });
  afterAll(async () => {
    await h.runner.stop(1000);
  });

  const send = (object: ReturnType<typeof deployment>, oldObject: ReturnType<typeof deployment>) =>
    h.send(
      "image",
      resourceEventRequest({ object, oldObject, group: "apps", version: "v1", resource: "deployments" }, TOKEN),
    );

  it("counts each hook's skip by reason code", async () => {
    // Replicas 2 → 3: image skips (unchanged), scaled's when is false.
    expect(
      (
        await send(
          deployment({ replicas: 3, resourceVersion: "11" }),
          deployment({ replicas: 2, resourceVersion: "10" }),
        )
      ).status,
    ).toBeLessThan(300);
    // A status-only update: both unchanged.
    expect(
      (
        await send(
          deployment({ resourceVersion: "13", status: { replicas: 1 } }),
          deployment({ resourceVersion: "12" }),
        )
      ).status,
    ).toBeLessThan(300);
    // Another namespace: neither selects it.
    expect(
      (
        await send(
          deployment({ namespace: "other", resourceVersion: "15" }),
          deployment({ namespace: "other", resourceVersion: "14" }),
        )
      ).status,
    ).toBeLessThan(300);

    const text = await (await fetch(`${h.runner.url}/metrics`)).text();
    const count = (hook: string, reason: string): number =>
      Number(
        new RegExp(`^resource_hooks_decisions_skipped_total\\{hook="${hook}",reason="${reason}"\\} (\\d+)$`, "m").exec(
          text,
        )?.[1] ?? 0,
      );
    expect(count("image", "unchanged")).toBe(2);
    expect(count("scaled", "when_false")).toBe(1);
    expect(count("scaled", "unchanged")).toBe(1);
    expect(count("image", "not_selected")).toBe(1);
    expect(count("scaled", "not_selected")).toBe(1);
    // Only codes, never reason text (which names objects and values).
    const reasons = [...text.matchAll(/^resource_hooks_decisions_skipped_total\{[^}]*reason="([^"]*)"/gm)].map(
      (m) => m[1],
    );
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(SKIP_REASON_CODES).toContain(reason);
  });
});

describe("the code of a skip", () => {
  // The decisions the resource kind really gives (through evaluate).
  const hook = hookSetFrom([
    {
      name: "h",
      on: { resource, changed: ["spec.replicas"], when: "object.spec.replicas > 10" },
      steps: [{ name: "a", log: { message: "hi" } }],
    },
  ]).hooks[0]!;
  const codeOf = (input: Parameters<typeof eventFor>[0], memory?: string) => {
    const decision: Decision = evaluate(
      hook.trigger,
      eventFor(input),
      memory ? { memory: { fingerprint: memory } } : {},
    ).decision;
    return decision.fires ? "fires" : decision.code;
  };

  it("is set by the resource kind for each way it skips", () => {
    expect(
      codeOf({ type: "UPDATE", object: deployment({ replicas: 3 }), oldObject: deployment({ replicas: 2 }) }),
    ).toBe("when_false");
    expect(codeOf({ type: "UPDATE", object: deployment(), oldObject: deployment() })).toBe("unchanged");
    expect(
      codeOf({ type: "UPDATE", object: deployment({ namespace: "x" }), oldObject: deployment({ namespace: "x" }) }),
    ).toBe("not_selected");
    expect(codeOf({ type: "ADD", object: deployment() })).toBe("baseline");
    const fingerprint = evaluate(hook.trigger, eventFor({ type: "ADD", object: deployment() })).fingerprint!;
    expect(codeOf({ type: "ADD", object: deployment() }, fingerprint)).toBe("already_handled");
    expect(codeOf({ type: "UPDATE", object: deployment() })).toBe("no_object");
    expect(codeOf({ type: "DELETE", object: deployment() })).toBe("event_type");
    const malformed = deployment();
    (malformed.metadata as Record<string, unknown>).name = 5;
    expect(codeOf({ type: "UPDATE", object: malformed, oldObject: deployment() })).toBe("malformed");
  });
});

describe("the code of a skip on what Argo CD's real controller wrote", () => {
  // Every skip of a well-formed recorded Application has a code of its own, never "malformed".
  it("gives every skip of the recorded scenarios a code other than malformed", () => {
    const unknown: string[] = [];
    const codes = new Set<string>();
    for (const scenario of readdirSync(new URL("../fixtures/argocd/", import.meta.url), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)) {
      const trigger = hookWith({
        argocd: { application: scenario, resources: [{ kind: "Deployment", name: "frontend" }] },
      }).trigger as ArgoCDTrigger;
      for (const { evaluation } of replay(trigger, recorded(scenario).writes).all) {
        if (!evaluation || evaluation.decision.fires) continue;
        const code = evaluation.decision.code;
        codes.add(code);
        if (code === "malformed") unknown.push(`${scenario}: ${evaluation.decision.reason}`);
      }
    }
    expect(unknown).toEqual([]);
    expect([...codes].sort()).toEqual(expect.arrayContaining(["dry_run", "not_finished", "unchanged"]));
  });
});
