// A selector whose objects a broader watch of the same resource and namespace already sees joins
// that watch (trigger/watch.ts, watchesOf). Its hooks then select by their labels themselves: an
// object that gains them is an ADD to them and one that loses them a DELETE, as a watch of their
// own labels would have sent (trigger/selection.ts). The runner (evaluate) and the Sensor's filter
// (watchFilter, run here by a Lua interpreter) must agree on it.
import { describe, expect, it } from "vitest";
import type { Sensor } from "../../src/generate/argo-types.js";
import { generate } from "../../src/generate/index.js";
import { evaluate, eventTypesOf, watchesOf, watchFilter, type WatchPlan } from "../../src/trigger/index.js";
import type { ResourceEvent } from "../../src/trigger/event.js";
import { runLuaFilter } from "../helpers/lua-filter.js";
import { CONFIGMAPS, configMap, updateEvent } from "../helpers/objects.js";
import { hookSetFrom } from "../helpers/spec.js";

const step = [{ name: "s", log: { message: "{{ object.metadata.name }}" } }];
const configMaps = (extra: Record<string, unknown> = {}) => ({ version: "v1", resource: "configmaps", ...extra });

const HOOK_SET = hookSetFrom([
  {
    name: "labelled-v",
    on: { resource: configMaps({ namespace: "web", labels: { tier: "web" } }), changed: ["data.v"] },
    steps: step,
  },
  { name: "namespace-v", on: { resource: configMaps({ namespace: "web" }), changed: ["data.v"] }, steps: step },
  {
    name: "labelled-created",
    on: { resource: configMaps({ namespace: "web", labels: { tier: "web" } }), events: ["add"] },
    steps: step,
  },
  {
    name: "labelled-gone",
    on: { resource: configMaps({ namespace: "web", labels: { tier: "web" } }), events: ["delete"] },
    steps: step,
  },
  {
    name: "other-namespace",
    on: { resource: configMaps({ namespace: "shop", labels: { tier: "web" } }) },
    steps: step,
  },
  { name: "team-web", on: { resource: configMaps({ labels: { team: "web" } }) }, steps: step },
  { name: "team-shop", on: { resource: configMaps({ labels: { team: "shop" } }) }, steps: step },
]);
const hook = (name: string) => HOOK_SET.hooks.find((h) => h.name === name)!;

function shared(): [string, WatchPlan] {
  const found = [...watchesOf(HOOK_SET)].find(([, plan]) => plan.hooks.includes(hook("namespace-v")));
  return found!;
}

describe("watches: a selector a broader watch covers joins it", () => {
  it("labels within a namespace join the namespace's watch; others keep their own", () => {
    const watches = watchesOf(HOOK_SET);
    const [name, plan] = shared();
    expect(name).toBe("configmaps-web");
    expect(plan.selector.labels).toEqual({});
    expect(plan.hooks.map((h) => h.name)).toEqual(["labelled-v", "namespace-v", "labelled-created", "labelled-gone"]);
    // another namespace, and two label selectors neither of which covers the other: no merging,
    // which would make the event source list objects no hook selects
    const rest = [...watches].filter(([other]) => other !== name).map(([, p]) => p.hooks.map((h) => h.name));
    expect(rest).toEqual([["other-namespace"], ["team-web"], ["team-shop"]]);
  });

  it("the shared watch delivers UPDATEs even for add- and delete-only hooks: gaining a label is one", () => {
    const alone = hookSetFrom([
      { name: "created", on: { resource: configMaps({ labels: { tier: "web" } }), events: ["add"] }, steps: step },
    ]);
    expect(eventTypesOf([...watchesOf(alone).values()][0]!)).toEqual(["ADD", "DELETE"]);
    const merged = hookSetFrom([
      { name: "created", on: { resource: configMaps({ labels: { tier: "web" } }), events: ["add"] }, steps: step },
      { name: "gone", on: { resource: configMaps(), events: ["delete"] }, steps: step },
    ]);
    expect(eventTypesOf([...watchesOf(merged).values()][0]!)).toEqual(["ADD", "UPDATE", "DELETE"]);
  });

  it("only a watch with such hooks carries the transitions in its filter", () => {
    const transition = "local now, was = labelled(h, obj), labelled(h, old)";
    expect(watchFilter(shared()[1])).toContain(transition);
    const own = [...watchesOf(HOOK_SET).values()].find((p) => p.hooks.includes(hook("team-web")))!;
    expect(watchFilter(own)).not.toContain(transition);
  });
});

describe("hooks on a shared watch see what a watch of their own labels would have sent", () => {
  const plain = configMap({ v: "1" }, { resourceVersion: "10" });
  const tagged = configMap({ v: "1" }, { labels: { tier: "web" }, resourceVersion: "11" });
  const taggedChanged = configMap({ v: "2" }, { labels: { tier: "web" }, resourceVersion: "12" });
  const untagged = configMap({ v: "2" }, { labels: { tier: "edge" }, resourceVersion: "13" });
  // the objects were created on 2026-11-01
  const servedLater = { hookFirstServedAt: "2026-12-01T00:00:00Z" };

  /** The runner's evaluation and the shared watch's filter, which must pass whatever fires or is remembered. */
  function both(name: string, ev: ResourceEvent, ctx = {}) {
    const evaluation = evaluate(hook(name).trigger, ev, ctx);
    const passes = runLuaFilter(watchFilter(shared()[1]), JSON.parse(JSON.stringify(ev.data)));
    if (evaluation.decision.fires || evaluation.remember !== "keep") expect(passes).toBe(true);
    return evaluation;
  }

  it("gaining the labels is an ADD: a baseline for an update hook, even as the watched field changes", () => {
    const e = both("labelled-v", updateEvent(plain, configMap({ v: "2" }, { labels: { tier: "web" } }), CONFIGMAPS));
    expect(e.decision).toMatchObject({ fires: false, code: "baseline" });
    expect(e.remember).toBe("set");
    // the namespace's hook sees the same event as the UPDATE it is
    expect(both("namespace-v", updateEvent(plain, taggedChanged, CONFIGMAPS)).decision.fires).toBe(true);
  });

  it("gaining them is a creation to an add hook for an object created since the hook was served", () => {
    const e = both("labelled-created", updateEvent(plain, tagged, CONFIGMAPS), servedLater);
    expect(e.decision.fires).toBe(false);
    expect(e.decision.reason).toMatch(/before the hook was first served/);
    const late = both("labelled-created", updateEvent(plain, tagged, CONFIGMAPS), {
      hookFirstServedAt: "2026-10-01T00:00:00Z",
    });
    expect(late.decision).toMatchObject({ fires: true });
    expect(late.decision.reason).toMatch(/was created/);
    expect(late.scope.event).toMatchObject({ kind: "ADD" });
  });

  it("losing them is a DELETE of the object as it was, at its new resourceVersion", () => {
    const gone = both("labelled-gone", updateEvent(taggedChanged, untagged, CONFIGMAPS));
    expect(gone.decision.fires).toBe(true);
    expect(gone.decision.reason).toMatch(/was deleted/);
    expect(gone.subject).toMatchObject({ resourceVersion: "13" });
    expect((gone.scope.object as { metadata: { labels: unknown } }).metadata.labels).toEqual({ tier: "web" });
    const forgotten = both("labelled-v", updateEvent(taggedChanged, untagged, CONFIGMAPS));
    expect(forgotten.decision.fires).toBe(false);
    expect(forgotten.remember).toBe("forget");
  });

  it("an object that has the labels on both sides is an UPDATE; one that has them on neither, nobody's", () => {
    const changed = both("labelled-v", updateEvent(tagged, taggedChanged, CONFIGMAPS), {
      memory: { fingerprint: "p:old" },
    });
    expect(changed.decision).toMatchObject({ fires: true });
    expect(changed.decision.reason).toMatch(/data\.v changed/);
    const neither = updateEvent(plain, configMap({ v: "2" }, { resourceVersion: "14" }), CONFIGMAPS);
    expect(both("labelled-v", neither).decision).toMatchObject({ fires: false, code: "not_selected" });
    // the filter passes it for the namespace's hook only
    const onlyLabelled = watchFilter({ selector: shared()[1].selector, hooks: [hook("labelled-v")] });
    expect(runLuaFilter(onlyLabelled, JSON.parse(JSON.stringify(neither.data)))).toBe(false);
    expect(runLuaFilter(watchFilter(shared()[1]), JSON.parse(JSON.stringify(neither.data)))).toBe(true);
  });
});

describe("a shared watch's changes stream is split among triggers by the object's uid", () => {
  const plan = shared()[1];
  const sensor = generate(HOOK_SET)
    .flatMap((f) => f.objects)
    .find((o) => (o as { kind?: string }).kind === "Sensor") as Sensor;

  it("one Sensor dependency and trigger per selector that shares the watch, all on the changes stream", () => {
    const deps = sensor.spec.dependencies.filter((d) => d.eventName.startsWith("configmaps-web"));
    expect(deps.map((d) => [d.name, d.eventName])).toEqual([
      ["configmaps-web", "configmaps-web"],
      ["configmaps-web_changes", "configmaps-web_changes"],
      ["configmaps-web_changes_1", "configmaps-web_changes"],
    ]);
    const triggers = sensor.spec.triggers.map((t) => t.template.name);
    expect(triggers).toEqual(expect.arrayContaining(["configmaps-web_changes", "configmaps-web_changes_1"]));
    // the watches of one selector each keep one
    expect(sensor.spec.dependencies.filter((d) => d.name.includes("_changes_"))).toHaveLength(1);
  });

  it("each event the watch's filter passes, exactly one shard passes, the same for every event of an object", () => {
    const shards = [0, 1].map((index) => watchFilter(plan, { index, of: 2 }));
    const uids = ["0f3e1d2c-aaaa-bbbb-cccc-111122223333", "6c1f2a38-0b7e-4f0e-9d5c-1a2b3c4d5e6f", "x-2a", "x-2b"];
    const seen = new Set<number>();
    for (const uid of uids) {
      for (const v of ["2", "3"]) {
        const before = configMap({ v: "1" }, { labels: { tier: "web" } });
        const after = configMap({ v }, { labels: { tier: "web" } });
        for (const o of [before, after]) (o.metadata as Record<string, unknown>).uid = uid;
        const data = JSON.parse(JSON.stringify(updateEvent(before, after, CONFIGMAPS).data)) as unknown;
        expect(runLuaFilter(watchFilter(plan), data)).toBe(true);
        const passing = shards.map((script, i) => (runLuaFilter(script, data) ? i : -1)).filter((i) => i >= 0);
        expect(passing).toHaveLength(1);
        expect(passing[0]).toBe(parseInt(uid.slice(-2), 16) % 2);
        seen.add(passing[0]!);
      }
    }
    expect(seen).toEqual(new Set([0, 1]));
    // a DELETE seen after a relist carries no uid at the top: shard 0
    const wrapped = { type: "DELETE", body: { Key: "web/x", Obj: { metadata: { name: "x", namespace: "web" } } } };
    expect(shards.map((script) => runLuaFilter(script, { ...CONFIGMAPS, ...wrapped, oldBody: null }))).toEqual([
      true,
      false,
    ]);
  });
});
