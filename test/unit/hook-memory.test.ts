// The hooks' memory in HookMemory shards (src/runner/memory): shard sizing and names, the group
// commit (N baselines -> about N / batch writes, none before the answer), two replicas merging
// their writes of one shard, what a crash can lose, and which of memory entry and newest run a
// hook consults. Three hooks over two watches: a namespace's, and a label selector across namespaces
// (within one namespace, the label selector would share the namespace's watch).
import { describe, expect, it, vi } from "vitest";
import type { HookSet } from "../../src/hookset/types.js";
import { LABEL_HOOKSET, LABEL_HOOKSET_NAMESPACE } from "../../src/model/constants.js";
import { memoryShardName } from "../../src/model/names.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { HookSetMemory } from "../../src/runner/memory/memory.js";
import {
  batchDelayMs,
  decodeEntry,
  encodeEntry,
  fitsEntry,
  MAX_ENTRY_FINGERPRINT,
  MEMORY_SHARDS,
  shardOf,
  type HookMemoryObject,
} from "../../src/runner/memory/shard.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { RunIndex } from "../../src/runner/run-index.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import { eventFor } from "../../src/simulate.js";
import type { KubeObject } from "../../src/trigger/index.js";
import { CountingShards, silent, startProcess, uidsInShard, type RunnerProcess } from "../helpers/memory.js";
import { configMap } from "../helpers/objects.js";
import { hookSetFrom } from "../helpers/spec.js";

const steps = [{ name: "say", log: { message: "hi" } }];
const inWeb = { version: "v1", resource: "configmaps", namespace: "web" };
function hookSetIn(namespace: string): HookSet {
  return hookSetFrom(
    [
      { name: "image", on: { resource: inWeb, changed: ["data.image"] }, steps },
      { name: "config", on: { resource: inWeb }, steps },
      {
        name: "team",
        on: { resource: { version: "v1", resource: "configmaps", labels: { team: "a" } }, changed: ["data.image"] },
        steps,
      },
    ],
    { metadata: { namespace } },
  );
}
const hookSet = hookSetIn("argo-events");
const HOOKS = hookSet.hooks.length;

function cm(i: number, image: string, resourceVersion: number): KubeObject {
  const object = configMap(
    { image },
    { name: `app-${i}`, labels: { team: "a" }, resourceVersion: String(resourceVersion) },
  );
  (object.metadata as Record<string, unknown>).uid = `uid-${i}`;
  return object;
}
/** cm(i) for i < count, each with a uid of the given shard: their entries share one shard of each watch. */
function objectsInShard(shard: number, count: number): (i: number) => KubeObject {
  const uids = uidsInShard(shard, count);
  return (i) => {
    const object = cm(i, "v1", 10 + i);
    (object.metadata as Record<string, unknown>).uid = uids[i];
    return object;
  };
}
const add = (object: KubeObject) =>
  eventFor({ type: "ADD", object }, `add-${String(object.metadata?.name)}-${String(object.metadata?.resourceVersion)}`);
const update = (oldObject: KubeObject, object: KubeObject) =>
  eventFor({ type: "UPDATE", object, oldObject }, `upd-${String(object.metadata?.resourceVersion)}`);

/**
 * Replays the objects under fake timers: nothing is written in the first `notBeforeMs`, and
 * everything by `byMs`.
 */
async function writtenBetween(
  process: RunnerProcess,
  shards: CountingShards,
  objects: KubeObject[],
  notBeforeMs: number,
  byMs: number,
): Promise<void> {
  const before = shards.writes;
  await replay(process, objects);
  await vi.advanceTimersByTimeAsync(notBeforeMs);
  expect(shards.writes).toBe(before);
  await vi.advanceTimersByTimeAsync(byMs - notBeforeMs);
  expect(process.memory.unwritten).toBe(0);
  expect(shards.writes).toBeGreaterThan(before);
}

/** Replays an ADD of every object (what the event source does when it starts); the runs that fired. */
async function replay(process: RunnerProcess, objects: KubeObject[]): Promise<string[]> {
  const fired: string[] = [];
  for (const object of objects) {
    const result = await process.acceptor.accept(hookSet.hooks, add(object));
    fired.push(...result.runs.filter((r) => r.created).map((r) => `${r.hook}:${r.phase}`));
  }
  return fired;
}

function runsOf(runs: MemoryRunStore): HookRun[] {
  return [...runs.list()].filter((r) => !r.metadata.labels["resource-hooks.io/marker"]);
}

describe("shards", () => {
  it("spread 20,000 uids evenly enough that a shard stays far below etcd's 1.5 MiB at several hooks", () => {
    const counts = new Array<number>(MEMORY_SHARDS).fill(0);
    for (let i = 0; i < 20_000; i++) counts[shardOf(crypto.randomUUID())]!++;
    const fullest = Math.max(...counts);
    expect(fullest).toBeLessThan(760);
    // The fullest shard as stored, with typical entries (3 hooks) and with the worst the caps allow
    // (5 hooks, names of 63 characters, 20-digit resourceVersions, fingerprints of 128).
    const size = (hooks: number, hookName: string, rv: string, fingerprint: string) => {
      const entries: Record<string, Record<string, string>> = {};
      for (let i = 0; i < fullest; i++) {
        const perHook: Record<string, string> = {};
        for (let h = 0; h < hooks; h++)
          perHook[`${hookName.slice(0, -1)}${h}`] = encodeEntry({
            fingerprint,
            resourceVersion: rv,
            acceptedAt: "2026-12-01T10:00:00.000Z",
          });
        entries[crypto.randomUUID()] = perHook;
      }
      return JSON.stringify({ entries }).length;
    };
    const typical = size(3, "purge-cdn-on-image-change-abcd", "123456789", "p:0123456789abcdef");
    const worst = size(5, "h".repeat(63), "9".repeat(20), "f".repeat(MAX_ENTRY_FINGERPRINT));
    expect(typical).toBeLessThan(256 * 1024);
    expect(worst).toBeLessThan(1024 * 1024);
  });

  it("keeps fingerprints up to the cap; a longer one (a running Argo CD operation's) stays a HookRun", () => {
    expect(fitsEntry("p:0123456789abcdef")).toBe(true);
    expect(fitsEntry("x".repeat(MAX_ENTRY_FINGERPRINT))).toBe(true);
    expect(fitsEntry("x".repeat(MAX_ENTRY_FINGERPRINT + 1))).toBe(false);
    // Counted as stored: quotes escaped in JSON take two characters.
    expect(fitsEntry('"'.repeat(MAX_ENTRY_FINGERPRINT / 2 + 1))).toBe(false);
  });

  it("encodes an entry compactly and reads it back whole, whatever the fingerprint holds", () => {
    const entry = {
      fingerprint: 'a:2026-12-01T10:00:00Z|["apps/Deployment/web/x y"]',
      resourceVersion: "4242",
      acceptedAt: "2026-12-01T10:00:00.123Z",
    };
    expect(encodeEntry(entry)).toBe(`4242 ${Date.parse(entry.acceptedAt).toString(36)} ${entry.fingerprint}`);
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    // A resourceVersion that is not kube-apiserver's cannot order anything: not kept.
    expect(decodeEntry(encodeEntry({ ...entry, resourceVersion: "abc" }))).toEqual({
      fingerprint: entry.fingerprint,
      acceptedAt: entry.acceptedAt,
    });
    expect(decodeEntry("garbage")).toBeUndefined();
  });

  it("are named per (HookSet namespace and name, watch, shard), valid object names, never shared", () => {
    const a = memoryShardName({ namespace: "team-a", name: "web" }, "configmaps-web", 7);
    const b = memoryShardName({ namespace: "team-b", name: "web" }, "configmaps-web", 7);
    expect(a).toMatch(/^web-configmaps-web-[0-9a-f]{10}-07$/);
    expect(a).not.toBe(b);
    expect(memoryShardName({ namespace: "n", name: "web" }, "configmaps-web", 8)).not.toBe(
      memoryShardName({ namespace: "n", name: "web" }, "configmaps-web", 7),
    );
    const long = memoryShardName(
      { namespace: "n", name: "x".repeat(253) },
      `deployments.example.io-${"y".repeat(200)}`,
      31,
    );
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
  });

  it("carry the HookSet's namespace and name: two HookSets of one name never share memory", async () => {
    const shards = new LocalShardStore();
    const mine = new HookSetMemory({ hookSet: hookSetIn("team-a"), shards, namespace: "hooks", logger: silent });
    const theirs = new HookSetMemory({ hookSet: hookSetIn("team-b"), shards, namespace: "hooks", logger: silent });
    const entry = { fingerprint: "p:aaaa", resourceVersion: "5", acceptedAt: "2026-12-01T10:00:00.000Z" };
    mine.remember("image", "uid-1", entry);
    await mine.flush();
    const [stored] = await shards.list({ namespace: "team-a", name: "web" });
    expect(stored!.metadata.labels).toMatchObject({ [LABEL_HOOKSET_NAMESPACE]: "team-a", [LABEL_HOOKSET]: "web" });
    expect(stored!.spec).toEqual({
      hookSet: { namespace: "team-a", name: "web" },
      watch: "configmaps-web",
      shard: shardOf("uid-1"),
    });
    expect(stored!.entries).toEqual({ "uid-1": { image: encodeEntry(entry) } });
    await theirs.start();
    expect(theirs.recall("image", "uid-1")).toBeUndefined();
    expect(await shards.list({ namespace: "team-b", name: "web" })).toEqual([]);
  });
});

describe("group commit", () => {
  it("answers N replayed ADDs without a write, then writes about N x hooks / batch; a second replay writes nothing", async () => {
    const N = 5_000;
    const shards = new CountingShards();
    const runs = new MemoryRunStore();
    const process = await startProcess(hookSet, runs, shards, { maxBatch: 100 });
    const objects = Array.from({ length: N }, (_, i) => cm(i, "v1", 1000 + i));
    // One accept at a time, as the Sensor posts them: each answered before any write.
    for (const object of objects.slice(0, 50)) {
      await process.acceptor.accept(hookSet.hooks, add(object));
      expect(shards.writes).toBe(0);
    }
    expect(await replay(process, objects.slice(50))).toEqual([]);
    await process.memory.flush();
    const baselines = N * HOOKS;
    // Per shard: one write per full batch, and one for its rest. 2 watches x 32 shards.
    expect(shards.writes).toBeGreaterThanOrEqual(baselines / 100);
    expect(shards.writes).toBeLessThanOrEqual(baselines / 100 + 2 * MEMORY_SHARDS);
    expect(runsOf(runs)).toEqual([]);
    expect(process.memory.unwritten).toBe(0);
    const first = shards.writes;
    // The event source restarts: the same objects again cost nothing.
    expect(await replay(process, objects)).toEqual([]);
    await process.memory.flush();
    expect(shards.writes).toBe(first);
    // 15,000 baselines: the first replay wrote 2 x 32 shard objects, not 15,000 HookRuns.
    const stored = [...(await shards.list({ namespace: "argo-events", name: "web" }))] as HookMemoryObject[];
    expect(stored).toHaveLength(2 * MEMORY_SHARDS);
    expect(stored.reduce((n, s) => n + Object.keys(s.entries ?? {}).length, 0)).toBe(2 * N);
    console.log(
      `group commit: ${N} objects x ${HOOKS} hooks = ${baselines} baselines -> ${first} shard writes (batch 100)`,
    );
  });

  it("writes a due batch by itself, once its changes have paused for flushDelayMs", async () => {
    const shards = new CountingShards();
    const process = await startProcess(hookSet, new MemoryRunStore(), shards, { flushDelayMs: 20 });
    await replay(process, [cm(1, "v1", 10), cm(2, "v1", 11)]);
    expect(shards.writes).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(process.memory.unwritten).toBe(0);
    expect(shards.writes).toBeGreaterThan(0);
    expect(shards.writes).toBeLessThanOrEqual(2 * HOOKS);
  });

  it("holds a batch while its changes keep coming, at most MAX_POSTPONED delays more", async () => {
    // objects of one shard, each a baseline of every hook: one change per object and hook
    const object = objectsInShard(0, 12);
    const shards = new CountingShards();
    const process = await startProcess(hookSet, new MemoryRunStore(), shards, { flushDelayMs: 100 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      // a change every 60 ms (0 … 300): never a pause of a whole delay
      for (let i = 0; i < 6; i++) {
        await replay(process, [object(i)]);
        await vi.advanceTimersByTimeAsync(60);
      }
      // 360 ms in: the timer fired at 100, 200 and 300 and waited each time
      expect(shards.writes).toBe(0);
      await vi.advanceTimersByTimeAsync(60);
      // the fourth delay is the last: written at 400 though the changes had not paused
      expect(shards.writes).toBeGreaterThan(0);
      expect(process.memory.unwritten).toBe(0);
      // a change alone, after that, is written one delay after it
      await writtenBetween(process, shards, [object(6)], 90, 110);
    } finally {
      vi.useRealTimers();
    }
  });

  it("an UPDATE arriving on both of a watch's streams at once creates its run once, without a second write", async () => {
    // The API server's create takes a while; the second copy must not write again (and get 409).
    class SlowRuns extends MemoryRunStore {
      creates = 0;
      override async create(run: HookRun): Promise<{ run: HookRun; created: boolean }> {
        this.creates++;
        await new Promise((r) => setTimeout(r, 20));
        return await super.create(run);
      }
    }
    const runs = new SlowRuns();
    const process = await startProcess(hookSet, runs, new CountingShards());
    await replay(process, [cm(1, "v1", 10)]);
    const before = runs.creates;
    const change = update(cm(1, "v1", 10), cm(1, "v2", 12));
    const copy = { ...change, context: { ...change.context, id: "the-changes-stream-copy" } };
    const [first, second] = await Promise.all([
      process.acceptor.accept(hookSet.hooks, change),
      process.acceptor.accept(hookSet.hooks, copy),
    ]);
    const fired = (r: typeof first) => r.runs.filter((x) => x.phase === "Pending");
    expect(fired(first).map((r) => r.created)).toEqual([true, true, true]);
    expect(fired(second).map((r) => [r.name, r.created])).toEqual(fired(first).map((r) => [r.name, false]));
    expect(runs.creates - before).toBe(3); // image, config and team fired: one create each
  });

  it("holds the batch of a large shard as stored longer than a small one's", async () => {
    // 1,400 objects in one shard of each watch: several times 32 KiB once written
    const object = objectsInShard(0, 1_401);
    const shards = new CountingShards();
    const first = await startProcess(hookSet, new MemoryRunStore(), shards, { maxBatch: 100_000 });
    await replay(
      first,
      Array.from({ length: 1_400 }, (_, i) => object(i)),
    );
    await first.memory.flush();
    // a later process reads the shards as stored, and records one more baseline in each
    const second = await startProcess(hookSet, new MemoryRunStore(), shards, { flushDelayMs: 20 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // a small shard's batch would be written 20 ms in
      await writtenBetween(second, shards, [object(1_400)], 30, 1_030);
    } finally {
      vi.useRealTimers();
    }
  });

  it("waits longer before writing a large shard: one flush delay per 32 KiB of it", () => {
    // etcd keeps every write of a shard whole until it compacts: a 140 KiB shard written once a
    // second for a long replay grew it by hundreds of MiB
    expect(batchDelayMs(1_000, 0)).toBe(1_000);
    expect(batchDelayMs(1_000, 32 * 1024)).toBe(1_000);
    expect(batchDelayMs(1_000, 140 * 1024)).toBe(4_375);
  });

  it("keeps a batch whose write failed and writes it once the store answers again", async () => {
    const shards = new CountingShards();
    const process = await startProcess(hookSet, new MemoryRunStore(), shards, { flushDelayMs: 5 });
    shards.failing = true;
    await replay(process, [cm(1, "v1", 10)]);
    await process.memory.flush();
    expect(process.memory.unwritten).toBe(HOOKS);
    shards.failing = false;
    await process.memory.flush();
    expect(process.memory.unwritten).toBe(0);
    expect(shards.writes).toBeGreaterThan(0);
  });
});

describe("two replicas writing one shard", () => {
  const shard = 5;
  const [u1, u2, u3] = uidsInShard(shard, 3);
  const at = (ms: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, 0, ms)).toISOString();
  const replicas = async () => {
    const shards = new LocalShardStore();
    const counting = [new CountingShards(shards), new CountingShards(shards)] as const;
    const [a, b] = counting.map(
      (s) => new HookSetMemory({ hookSet, shards: s, namespace: "hooks", logger: silent, flushDelayMs: 60_000 }),
    );
    // Both read the (empty) shards before either writes: each one's view is stale for the other.
    await a!.start();
    await b!.start();
    return { shards, a: a!, b: b!, counting };
  };

  it("merge on conflict: each keeps the other's entries, and per (uid, hook) the newer object state wins", async () => {
    const { shards, a, b, counting } = await replicas();
    a.remember("image", u1!, { fingerprint: "p:new", resourceVersion: "20", acceptedAt: at(1) });
    a.remember("image", u2!, { fingerprint: "p:a2", resourceVersion: "21", acceptedAt: at(2) });
    // B saw u1 in an older state (a late event), accepted later: the state decides, not the time.
    b.remember("image", u1!, { fingerprint: "p:old", resourceVersion: "15", acceptedAt: at(9) });
    b.remember("image", u3!, { fingerprint: "p:b3", resourceVersion: "22", acceptedAt: at(3) });
    b.remember("config", u2!, { fingerprint: "h:b2", resourceVersion: "21", acceptedAt: at(4) });
    await a.flush();
    await b.flush();
    // B created the same shard A had just created: refused, read again, merged, patched.
    expect(counting[1].conflicts).toBe(1);
    const [stored] = await shards.list({ namespace: "argo-events", name: "web" });
    const entries = stored!.entries!;
    expect(decodeEntry(entries[u1!]!.image!)).toMatchObject({ fingerprint: "p:new", resourceVersion: "20" });
    expect(decodeEntry(entries[u2!]!.image!)).toMatchObject({ fingerprint: "p:a2" });
    expect(decodeEntry(entries[u2!]!.config!)).toMatchObject({ fingerprint: "h:b2" });
    expect(decodeEntry(entries[u3!]!.image!)).toMatchObject({ fingerprint: "p:b3" });
    // B's own view follows what it read back.
    expect(b.recall("image", u1!)).toMatchObject({ fingerprint: "p:new" });
    // A newer state from B replaces A's, through another conflict (A's view is stale now).
    b.remember("image", u1!, { fingerprint: "p:newer", resourceVersion: "30", acceptedAt: at(10) });
    await b.flush();
    a.remember("image", u1!, { fingerprint: "p:new", resourceVersion: "20", acceptedAt: at(1) });
    a.remember("config", u1!, { fingerprint: "h:c", resourceVersion: "20", acceptedAt: at(1) });
    await a.flush();
    expect(counting[0].conflicts).toBe(1);
    const [after] = await shards.list({ namespace: "argo-events", name: "web" });
    expect(decodeEntry(after!.entries![u1!]!.image!)).toMatchObject({ fingerprint: "p:newer", resourceVersion: "30" });
    expect(decodeEntry(after!.entries![u1!]!.config!)).toMatchObject({ fingerprint: "h:c" });
  });

  it("a forget removes what is not newer than the deletion, and an object's last entry takes its uid along", async () => {
    const { shards, a, b } = await replicas();
    a.remember("image", u1!, { fingerprint: "p:1", resourceVersion: "20", acceptedAt: at(1) });
    a.remember("config", u1!, { fingerprint: "h:1", resourceVersion: "20", acceptedAt: at(1) });
    a.remember("image", u2!, { fingerprint: "p:2", resourceVersion: "40", acceptedAt: at(2) });
    await a.flush();
    await b.start();
    b.forget("image", u1!, { resourceVersion: "25", acceptedAt: at(5) });
    b.forget("config", u1!, { resourceVersion: "25", acceptedAt: at(5) });
    // A DELETE older than what is remembered (a late event) removes nothing.
    b.forget("image", u2!, { resourceVersion: "30", acceptedAt: at(5) });
    // Nor of what is not written yet.
    b.remember("image", u3!, { fingerprint: "p:3", resourceVersion: "50", acceptedAt: at(6) });
    b.forget("image", u3!, { resourceVersion: "45", acceptedAt: at(7) });
    expect(b.recall("image", u3!)).toMatchObject({ fingerprint: "p:3" });
    expect(b.recall("image", u1!)).toBeUndefined();
    await b.flush();
    const [stored] = await shards.list({ namespace: "argo-events", name: "web" });
    expect(Object.keys(stored!.entries!).sort()).toEqual([u2!, u3!].sort());
    expect(b.recall("image", u2!)).toMatchObject({ fingerprint: "p:2" });
  });

  it("observe(), the informer's seam, shows one replica what another wrote without a write of its own", async () => {
    const { shards, a, b } = await replicas();
    a.remember("image", u1!, { fingerprint: "p:1", resourceVersion: "20", acceptedAt: at(1) });
    await a.flush();
    expect(b.recall("image", u1!)).toBeUndefined();
    const [stored] = await shards.list({ namespace: "argo-events", name: "web" });
    b.observe(stored!);
    expect(b.recall("image", u1!)).toMatchObject({ fingerprint: "p:1" });
    // An older copy (a watch event trailing a write) changes nothing.
    b.observe({ ...stored!, metadata: { ...stored!.metadata, resourceVersion: "0" }, entries: {} });
    expect(b.recall("image", u1!)).toMatchObject({ fingerprint: "p:1" });
  });
});

describe("a hook named like a member of every JavaScript object", () => {
  it("recalls only what it was told, before and after a write and a fresh read of the shard", async () => {
    const hook = (name: string) => ({ name, on: { resource: inWeb, changed: ["data.image"] }, steps });
    const named = hookSetFrom([hook("constructor"), hook("image")], { metadata: { namespace: "argo-events" } });
    const shards = new LocalShardStore();
    const memory = () =>
      new HookSetMemory({ hookSet: named, shards, namespace: "hooks", logger: silent, flushDelayMs: 60_000 });
    const [u1] = uidsInShard(3, 1);
    const at = (ms: number) => new Date(ms).toISOString();
    const a = memory();
    await a.start();
    a.remember("image", u1!, { fingerprint: "p:1", resourceVersion: "20", acceptedAt: at(1) });
    await a.flush();
    const b = memory();
    await b.start();
    // u1's stored entries are a plain object holding "image" only.
    expect(b.recall("constructor", u1!)).toBeUndefined();
    b.remember("constructor", u1!, { fingerprint: "c:1", resourceVersion: "30", acceptedAt: at(2) });
    await b.flush();
    const c = memory();
    await c.start();
    expect(c.recall("constructor", u1!)).toMatchObject({ fingerprint: "c:1", resourceVersion: "30" });
    expect(c.recall("image", u1!)).toMatchObject({ fingerprint: "p:1", resourceVersion: "20" });
  });
});

describe("the accept path", () => {
  it("answers a baseline with no write at all, and a fired change after its HookRun exists", async () => {
    const shards = new CountingShards();
    const runs = new MemoryRunStore();
    const created: string[] = [];
    runs.subscribe((run, change) => change === "added" && created.push(run.metadata.name));
    const process = await startProcess(hookSet, runs, shards);
    const markers = created.length;
    const baseline = await process.acceptor.accept(hookSet.hooks, add(cm(1, "v1", 10)));
    expect(baseline.runs).toEqual([]);
    expect(baseline.skipped.map((s) => s.hook)).toEqual(["image", "config", "team"]);
    expect([created.length - markers, shards.writes]).toEqual([0, 0]);
    expect(process.memory.unwritten).toBe(HOOKS);
    const fired = await process.acceptor.accept(hookSet.hooks, update(cm(1, "v1", 10), cm(1, "v2", 11)));
    expect(fired.runs.map((r) => [r.hook, r.phase])).toEqual([
      ["image", "Pending"],
      ["config", "Pending"],
      ["team", "Pending"],
    ]);
    expect([created.length - markers, shards.writes]).toEqual([3, 0]);
    // Its fingerprints went into the batch as well (replacing the baselines').
    expect(process.memory.recall("image", "uid-1")).toMatchObject({ resourceVersion: "11" });
  });
});

describe("a real change that fires nothing", () => {
  it("stays a Skipped HookRun, written before the answer (`when` false): only first sights are baselines", async () => {
    const gated = hookSetFrom(
      [{ name: "gated", on: { resource: inWeb, changed: ["data.image"], when: "object.data.image == 'v9'" }, steps }],
      { metadata: { namespace: "argo-events" } },
    );
    const runs = new MemoryRunStore();
    const shards = new CountingShards();
    const process = await startProcess(gated, runs, shards);
    await process.acceptor.accept(gated.hooks, add(cm(1, "v1", 10)));
    expect(runsOf(runs)).toEqual([]);
    const result = await process.acceptor.accept(gated.hooks, update(cm(1, "v1", 10), cm(1, "v2", 11)));
    expect(result.runs).toEqual([expect.objectContaining({ hook: "gated", phase: "Skipped", created: true })]);
    expect(runsOf(runs).map((r) => [r.status.phase, r.status.message])).toEqual([
      ["Skipped", "when is false: object.data.image == 'v9'"],
    ]);
    // Its replay (an ADD: no oldObject, `when` might read otherwise) finds that run, decided once.
    const replayed = await process.acceptor.accept(gated.hooks, add(cm(1, "v2", 11)));
    expect(replayed.runs).toEqual([expect.objectContaining({ phase: "Skipped", created: false })]);
    expect(runsOf(runs)).toHaveLength(1);
  });
});

describe("what a crash can lose", () => {
  it("(a) baselines accepted but not written: the next replay records them again and fires nothing", async () => {
    const shards = new CountingShards();
    const runs = new MemoryRunStore();
    const objects = Array.from({ length: 200 }, (_, i) => cm(i, "v1", 100 + i));
    const first = await startProcess(hookSet, runs, shards);
    expect(await replay(first, objects)).toEqual([]);
    first.memory.stop(); // the process dies: its batches with it
    expect(shards.writes).toBe(0);
    const second = await startProcess(hookSet, runs, shards);
    expect(await replay(second, objects)).toEqual([]);
    expect(second.memory.unwritten).toBe(objects.length * HOOKS);
    await second.memory.flush();
    const third = await startProcess(hookSet, runs, shards);
    const writes = shards.writes;
    expect(await replay(third, objects)).toEqual([]);
    expect([third.memory.unwritten, shards.writes]).toEqual([0, writes]);
    expect(runsOf(runs)).toEqual([]);
  });

  it("(a) also when the store failed every write before the crash", async () => {
    const shards = new CountingShards();
    const runs = new MemoryRunStore();
    const objects = Array.from({ length: 20 }, (_, i) => cm(i, "v1", 100 + i));
    const first = await startProcess(hookSet, runs, shards, { flushDelayMs: 1 });
    shards.failing = true;
    expect(await replay(first, objects)).toEqual([]);
    await first.memory.flush();
    expect(first.memory.unwritten).toBe(objects.length * HOOKS);
    first.memory.stop();
    shards.failing = false;
    const second = await startProcess(hookSet, runs, shards);
    expect(await replay(second, objects)).toEqual([]);
    await second.memory.flush();
    expect(second.memory.unwritten).toBe(0);
  });

  it("(b) a fired change outlives the crash: its replay fires nothing more, a change made while down fires once", async () => {
    const shards = new CountingShards();
    const runs = new MemoryRunStore();
    const first = await startProcess(hookSet, runs, shards);
    await replay(first, [cm(1, "v1", 10)]);
    await first.memory.flush();
    shards.failing = true; // the API server takes HookRuns (above) but not the memory's writes
    const fired = await first.acceptor.accept(hookSet.hooks, update(cm(1, "v1", 10), cm(1, "v2", 11)));
    expect(fired.runs.map((r) => r.hook)).toEqual(["image", "config", "team"]);
    await first.memory.flush();
    expect(first.memory.unwritten).toBe(HOOKS);
    first.memory.stop();
    shards.failing = false;

    const second = await startProcess(hookSet, runs, shards);
    // The memory is the run: the replay of the state it fired for fires nothing more.
    expect(await replay(second, [cm(1, "v2", 11)])).toEqual([]);
    expect(runsOf(runs)).toHaveLength(HOOKS);
    // Retention keeps those runs until the memory holds their state, which the replay carried over.
    for (const run of runsOf(runs)) expect(second.index.retainedAsMemory(run)).toBe(true);
    await second.memory.flush();
    for (const run of runsOf(runs)) expect(second.index.retainedAsMemory(run)).toBe(false);
    // Changed while the event source was down: the replay of the new state fires, once.
    expect(await replay(second, [cm(1, "v3", 14)])).toEqual(["image:Pending", "config:Pending", "team:Pending"]);
    expect(await replay(second, [cm(1, "v3", 14)])).toEqual([]);
    second.memory.stop();
    const third = await startProcess(hookSet, runs, shards);
    expect(await replay(third, [cm(1, "v3", 14)])).toEqual([]);
    expect(runsOf(runs)).toHaveLength(2 * HOOKS);
  });

  it("a DELETE forgets: the object's entries go with the next write", async () => {
    const shards = new CountingShards();
    const process = await startProcess(hookSet, new MemoryRunStore(), shards);
    await replay(process, [cm(1, "v1", 10)]);
    await process.memory.flush();
    await process.acceptor.accept(hookSet.hooks, eventFor({ type: "DELETE", object: cm(1, "v1", 12) }, "del"));
    expect(process.memory.recall("image", "uid-1")).toBeUndefined();
    await process.memory.flush();
    const stored = await shards.list({ namespace: "argo-events", name: "web" });
    expect(stored.flatMap((s) => Object.keys(s.entries ?? {}))).toEqual([]);
  });
});

describe("what a hook consults: the newer of memory entry and newest run", () => {
  // Frozen: entry and run are made in one instant, so only the rule separates them.
  const FROZEN = "2026-12-01T10:00:00.000Z";
  function runOf(name: string, acceptedAt: string, fingerprint: string, resourceVersion?: string): HookRun {
    return {
      apiVersion: "resource-hooks.io/v1alpha1",
      kind: "HookRun",
      metadata: { name, namespace: "argo-events", labels: {} },
      spec: {
        hookSet: "web",
        hook: "image",
        eventId: name,
        identity: name,
        acceptedAt,
        subject: "ConfigMap web/app-1",
        object: {
          apiVersion: "v1",
          kind: "ConfigMap",
          name: "app-1",
          uid: "uid-1",
          ...(resourceVersion ? { resourceVersion } : {}),
        },
        fingerprint,
        concurrency: "queue",
        deadline: FROZEN,
      },
      status: { phase: "Succeeded", attempts: 1, steps: [], conditions: [] },
    };
  }
  const setUp = async (run: HookRun, entry: { fingerprint: string; resourceVersion?: string; acceptedAt: string }) => {
    const runs = new MemoryRunStore();
    const memory = new HookSetMemory({
      hookSet,
      shards: new LocalShardStore(),
      namespace: "argo-events",
      logger: silent,
    });
    const index = new RunIndex(runs, memory);
    await runs.create(run);
    memory.remember("image", "uid-1", entry);
    return index;
  };

  it("the later object state, whichever was accepted later", async () => {
    const later = "2026-12-01T10:00:00.001Z";
    let index = await setUp(runOf("r", FROZEN, "p:run", "7"), {
      fingerprint: "p:entry",
      resourceVersion: "6",
      acceptedAt: later,
    });
    expect(index.recall("image", "uid-1")).toEqual({
      fingerprint: "p:run",
      resourceVersion: "7",
      acceptedAt: FROZEN,
      run: "r",
    });
    index = await setUp(runOf("r", later, "p:run", "6"), {
      fingerprint: "p:entry",
      resourceVersion: "7",
      acceptedAt: FROZEN,
    });
    expect(index.recall("image", "uid-1")).toEqual({
      fingerprint: "p:entry",
      resourceVersion: "7",
      acceptedAt: FROZEN,
    });
  });

  it("without resourceVersions, the later accept", async () => {
    const later = "2026-12-01T10:00:00.001Z";
    let index = await setUp(runOf("r", later, "p:run"), { fingerprint: "p:entry", acceptedAt: FROZEN });
    expect(index.recall("image", "uid-1")?.fingerprint).toBe("p:run");
    index = await setUp(runOf("r", FROZEN, "p:run"), { fingerprint: "p:entry", acceptedAt: later });
    expect(index.recall("image", "uid-1")?.fingerprint).toBe("p:entry");
  });

  it("the same state in both (a fired run and its own entry): the entry, and the run may go", async () => {
    const index = await setUp(runOf("r", FROZEN, "p:same", "7"), {
      fingerprint: "p:same",
      resourceVersion: "7",
      acceptedAt: FROZEN,
    });
    expect(index.recall("image", "uid-1")).toEqual({ fingerprint: "p:same", resourceVersion: "7", acceptedAt: FROZEN });
  });

  it("a newer run without a fingerprint (a delete hook's) means nothing remembered", async () => {
    const run = runOf("r", FROZEN, "", "9");
    delete run.spec.fingerprint;
    const index = await setUp(run, { fingerprint: "p:entry", resourceVersion: "7", acceptedAt: FROZEN });
    expect(index.recall("image", "uid-1")).toBeUndefined();
  });
});
