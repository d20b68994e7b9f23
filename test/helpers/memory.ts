// The hooks' memory as the runner wires it, over stores the tests control: a shard store that
// counts its writes and can be made to fail them (an API server that is down), and "processes"
// (Acceptor, RunIndex, HookSetMemory) that can crash and be started again over the same stores.
import { pino } from "pino";
import type { HookSet } from "../../src/hookset/types.js";
import { Acceptor } from "../../src/runner/accept.js";
import { HookSetMemory, type HookSetMemoryOptions } from "../../src/runner/memory/memory.js";
import { shardOf, type HookMemoryObject, type HookSetRef } from "../../src/runner/memory/shard.js";
import { LocalShardStore, type EntriesPatch, type ShardStore } from "../../src/runner/memory/store.js";
import { RunIndex } from "../../src/runner/run-index.js";
import type { MemoryRunStore } from "../../src/runner/store/memory.js";
import { ConflictError } from "../../src/runner/store/types.js";

export const silent = pino({ level: "silent" });

export class CountingShards implements ShardStore {
  creates = 0;
  patches = 0;
  conflicts = 0;
  /** While set, every write fails as a request to an unreachable API server does. */
  failing = false;

  constructor(readonly inner: ShardStore = new LocalShardStore()) {}

  get writes(): number {
    return this.creates + this.patches;
  }

  list(hookSet: HookSetRef): Promise<HookMemoryObject[]> {
    return this.inner.list(hookSet);
  }

  read(name: string): Promise<HookMemoryObject | undefined> {
    return this.inner.read(name);
  }

  async create(shard: HookMemoryObject): Promise<HookMemoryObject> {
    if (this.failing) throw new Error("connect ECONNREFUSED");
    this.creates++;
    return await this.counted(this.inner.create(shard));
  }

  async patch(name: string, resourceVersion: string, entries: EntriesPatch): Promise<HookMemoryObject> {
    if (this.failing) throw new Error("connect ECONNREFUSED");
    this.patches++;
    return await this.counted(this.inner.patch(name, resourceVersion, entries));
  }

  private async counted(write: Promise<HookMemoryObject>): Promise<HookMemoryObject> {
    try {
      return await write;
    } catch (err) {
      if (err instanceof ConflictError) this.conflicts++;
      throw err;
    }
  }
}

export interface RunnerProcess {
  memory: HookSetMemory;
  index: RunIndex;
  acceptor: Acceptor;
}

/** One runner process's accept path over stores that outlive it (as the API server does). */
export async function startProcess(
  hookSet: HookSet,
  runs: MemoryRunStore,
  shards: ShardStore,
  options: Partial<HookSetMemoryOptions> & { now?: () => Date } = {},
): Promise<RunnerProcess> {
  const { now, ...memoryOptions } = options;
  const memory = new HookSetMemory({
    hookSet,
    shards,
    namespace: "argo-events",
    logger: silent,
    flushDelayMs: 60_000,
    ...memoryOptions,
  });
  await memory.start();
  const index = new RunIndex(runs, memory);
  const acceptor = new Acceptor({
    hookSet,
    store: runs,
    index,
    memory,
    namespace: "argo-events",
    logger: silent,
    ...(now ? { now } : {}),
  });
  await acceptor.recordFirstServed();
  return { memory, index, acceptor };
}

/** `count` distinct uids that fall in one shard (prefix-numbered, so tests read them easily). */
export function uidsInShard(shard: number, count: number, prefix = "uid"): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (shardOf(`${prefix}-${i}`) === shard) out.push(`${prefix}-${i}`);
  return out;
}
