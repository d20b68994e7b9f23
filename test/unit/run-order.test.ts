// Which state of one (hook, object) is the newest decides what the hook remembers: its memory
// entry (a baseline) or its newest run (a fired change). Two accepts in the same millisecond must
// not leave the decision to chance: a frozen clock makes that tie happen every time.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Acceptor } from "../../src/runner/accept.js";
import { HookSetMemory } from "../../src/runner/memory/memory.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { RunIndex } from "../../src/runner/run-index.js";
import { compareResourceVersions } from "../../src/model/resource-version.js";
import { AcceptClock, compareRunKeys } from "../../src/runner/run-order.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import { eventFor } from "../../src/simulate.js";
import type { KubeObject } from "../../src/trigger/index.js";
import { deployment } from "../helpers/objects.js";
import { hookSetFrom } from "../helpers/spec.js";

const hookSet = hookSetFrom(
  [
    {
      name: "purge",
      on: {
        resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
        changed: ["spec.template.spec.containers[0].image"],
      },
      steps: [{ name: "say", log: { message: "hi" } }],
    },
  ],
  { metadata: { namespace: "argo-events" } },
);

const FROZEN = new Date("2026-12-01T10:00:00.000Z");
// Many objects: each pair of run names orders by hash, so with today's name tie-break some of
// them would remember the older state; with the rule none does.
const OBJECTS = 24;

function app(i: number, tag: string, resourceVersion?: string): KubeObject {
  const object = deployment({
    name: `app-${i}`,
    image: `registry.example/app:${tag}`,
    ...(resourceVersion ? { resourceVersion } : {}),
  });
  const metadata = object.metadata as Record<string, unknown>;
  metadata.uid = `uid-${i}`;
  if (!resourceVersion) delete metadata.resourceVersion;
  return object;
}

async function acceptBaselineThenChange(withResourceVersions: boolean) {
  const store = new MemoryRunStore();
  const memory = new HookSetMemory({
    hookSet,
    shards: new LocalShardStore(),
    namespace: "argo-events",
    logger: pino({ level: "silent" }),
    flushDelayMs: 60_000,
  });
  const index = new RunIndex(store, memory);
  const acceptor = new Acceptor({
    hookSet,
    store,
    index,
    memory,
    namespace: "argo-events",
    logger: pino({ level: "silent" }),
    now: () => FROZEN,
  });
  await acceptor.recordFirstServed();
  const fired: Array<{ uid: string; fingerprint: string }> = [];
  for (let i = 0; i < OBJECTS; i++) {
    const [v1, v2] = withResourceVersions ? [`${100 + i}`, `${900 + i}`] : [undefined, undefined];
    await acceptor.accept(hookSet.hooks, eventFor({ type: "ADD", object: app(i, "1.0", v1) }, `add-${i}`));
    const result = await acceptor.accept(
      hookSet.hooks,
      eventFor({ type: "UPDATE", object: app(i, "2.0", v2), oldObject: app(i, "1.0", v1) }, `upd-${i}`),
    );
    const run = result.runs.find((r) => r.phase === "Pending");
    expect(run, `object ${i}: the image change fires`).toBeDefined();
    fired.push({ uid: `uid-${i}`, fingerprint: store.get(run!.name)!.spec.fingerprint! });
  }
  return { store, index, memory, fired };
}

describe("the newest state of an object", () => {
  it("is the later state of the object (resourceVersion), though baseline and run were accepted in the same instant", async () => {
    const { index, fired } = await acceptBaselineThenChange(true);
    for (const { uid, fingerprint } of fired) expect(index.recall("purge", uid)?.fingerprint).toBe(fingerprint);
  });

  it("is the later accept when the objects carry no resourceVersion: one runner never hands out one accept time twice", async () => {
    const { store, index, fired } = await acceptBaselineThenChange(false);
    for (const { uid, fingerprint } of fired) expect(index.recall("purge", uid)?.fingerprint).toBe(fingerprint);
    const times = [...store.list()].filter((r) => r.spec.object).map((r) => r.spec.acceptedAt);
    expect(new Set(times).size).toBe(times.length);
  });

  it("retention keeps the fired run as the object's memory until a written entry is as new, and the baseline is no run", async () => {
    const { store, index, memory, fired } = await acceptBaselineThenChange(true);
    for (const { uid } of fired) {
      const runs = index.runsOfObject("purge", uid).map((name) => store.get(name)!);
      expect(runs.map((r) => r.status.phase)).toEqual(["Pending"]);
      expect(index.retainedAsMemory(runs[0]!)).toBe(true);
    }
    await memory.flush();
    for (const { uid, fingerprint } of fired) {
      const [run] = index.runsOfObject("purge", uid).map((name) => store.get(name)!);
      expect(index.retainedAsMemory(run!)).toBe(false);
      expect(index.recall("purge", uid)).toMatchObject({ fingerprint });
    }
  });
});

describe("the ordering rule", () => {
  it("orders kube-apiserver resourceVersions as integers and leaves others uncompared", () => {
    expect(compareResourceVersions("9", "10")).toBeLessThan(0);
    expect(compareResourceVersions("100", "99")).toBeGreaterThan(0);
    expect(compareResourceVersions("7", "7")).toBe(0);
    expect(compareResourceVersions("abc", "10")).toBeUndefined();
    expect(compareResourceVersions(undefined, "10")).toBeUndefined();
  });

  it("puts the object's history before the accept time, and the accept time before the name", () => {
    const later = "2026-12-01T10:00:00.001Z";
    const earlier = "2026-12-01T10:00:00.000Z";
    // An older state accepted later (a redelivery) is still older.
    expect(
      compareRunKeys(
        { name: "a", acceptedAt: later, resourceVersion: "5" },
        { name: "b", acceptedAt: earlier, resourceVersion: "6" },
      ),
    ).toBeLessThan(0);
    expect(compareRunKeys({ name: "z", acceptedAt: earlier }, { name: "a", acceptedAt: later })).toBeLessThan(0);
    expect(
      compareRunKeys(
        { name: "z", acceptedAt: earlier, resourceVersion: "5" },
        { name: "a", acceptedAt: earlier, resourceVersion: "5" },
      ),
    ).toBeGreaterThan(0);
  });

  it("the accept clock moves on by a millisecond when the wall clock stands still or steps back", () => {
    let now = FROZEN.getTime();
    const clock = new AcceptClock(() => new Date(now));
    const a = clock.next().getTime();
    const b = clock.next().getTime();
    now -= 5_000;
    const c = clock.next().getTime();
    now += 60_000;
    const d = clock.next().getTime();
    expect([b - a, c - b]).toEqual([1, 1]);
    expect(d).toBe(now);
  });
});
