// The sensor endpoint's two routes under `serve -f`: the route with the HookSet's namespace
// (watchPath, what Sensors of this version post to) and the one without (earlier Sensors); a
// namespace other than the HookSet's is a 404 that says so. And the process-wide run slots.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchPath } from "../../src/model/names.js";
import { RunSlots } from "../../src/runner/run-slots.js";
import { resourceEventRequest, sendEvent, watchPathOf } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";

const on = { resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web" } };

describe("serve -f: the routes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRunner(hookSetFrom([{ name: "say", on, steps: [{ name: "s", log: { message: "hi" } }] }]));
  });
  afterAll(() => h.runner.stop(1000));

  const event = (id: string) =>
    resourceEventRequest({ object: deployment({}), group: "apps", version: "v1", resource: "deployments", id }, TOKEN);
  const watch = () => watchPathOf(h.hookSet, "say").split("/").at(-1)!;

  it("accepts both the route with the HookSet's namespace and the one without", async () => {
    expect((await h.send("say", event("e1"))).status).toBeLessThan(300);
    const namespaced = watchPath(h.hookSet, watch());
    expect(namespaced).toMatch(/^\/namespaces\/[^/]+\/hooksets\//);
    expect((await sendEvent(h.runner.url, namespaced, event("e2"))).status).toBeLessThan(300);
  });

  it("answers 404 with the reason for another namespace, and 401 before it without the token", async () => {
    const other = watchPath({ namespace: "elsewhere", name: h.hookSet.name }, watch());
    const answer = await sendEvent(h.runner.url, other, event("e3"));
    expect(answer.status).toBe(404);
    expect(JSON.stringify(answer.body)).toMatch(/not one of namespace \\"elsewhere\\"/);
    const unauthenticated = await sendEvent(h.runner.url, other, { ...event("e4"), headers: {} });
    expect(unauthenticated.status).toBe(401);
  });
});

describe("RunSlots", () => {
  it("gives at most `limit` slots and wakes the queues that waited once one is back", () => {
    const slots = new RunSlots(2);
    const woken: string[] = [];
    expect(slots.take(() => woken.push("a"))).toBe(true);
    expect(slots.take(() => woken.push("b"))).toBe(true);
    expect(slots.take(() => woken.push("c"))).toBe(false);
    expect(slots.take(() => woken.push("d"))).toBe(false);
    slots.give();
    expect(woken).toEqual(["c", "d"]);
    expect(slots.free).toBe(1);
    slots.give();
    expect(() => slots.give()).toThrow(/twice/);
  });
});
