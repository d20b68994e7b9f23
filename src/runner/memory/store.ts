// Where HookMemory shards live. Two implementations of one interface, as for HookRuns: in this
// process (LocalShardStore, --store memory) and as custom resources (KubernetesShardStore,
// --store kubernetes). Both answer the same: a write names the resourceVersion it was computed
// from and is refused (ConflictError) when the shard changed since, so two replicas writing one
// shard never overwrite each other's entries (the writer re-reads and merges: memory.ts).
import { LABEL_HOOKSET, LABEL_HOOKSET_NAMESPACE } from "../../model/constants.js";
import { ConflictError } from "../store/types.js";
import type { HookMemoryObject, HookSetRef } from "./shard.js";

/**
 * Changes to a shard's entries as a JSON merge patch (RFC 7386) of `entries`: a string sets the
 * hook's entry of that uid, null removes it; null for a uid removes all of its entries.
 */
export type EntriesPatch = Record<string, Record<string, string | null> | null>;

export interface ShardStore {
  /** Every shard of the HookSet, as stored now (one list when the runner starts). */
  list(hookSet: HookSetRef): Promise<HookMemoryObject[]>;
  /** One shard as stored now; undefined when it does not exist. */
  read(name: string): Promise<HookMemoryObject | undefined>;
  /** Creates the shard; ConflictError when one of that name exists. */
  create(shard: HookMemoryObject): Promise<HookMemoryObject>;
  /**
   * Applies `entries` to the shard if its resourceVersion is still `resourceVersion`, and answers
   * the shard as stored; ConflictError when it changed or no longer exists.
   */
  patch(name: string, resourceVersion: string, entries: EntriesPatch): Promise<HookMemoryObject>;
  /**
   * Stores shared by replicas (one process's store has no other writer): lists the HookSet's
   * shards as list() does, hands each to onShard, then keeps handing over every shard another
   * replica writes, until stop().
   */
  watch?(hookSet: HookSetRef, onShard: (shard: HookMemoryObject) => void): Promise<{ stop(): void }>;
}

/** Whether the shard belongs to the HookSet: by namespace and name, never by name alone. */
export function ofHookSet(shard: HookMemoryObject, hookSet: HookSetRef): boolean {
  const labels = shard.metadata.labels ?? {};
  return labels[LABEL_HOOKSET_NAMESPACE] === hookSet.namespace && labels[LABEL_HOOKSET] === hookSet.name;
}

/** `entries` with the patch applied, as a JSON merge patch does. */
export function applyEntriesPatch(
  entries: Readonly<Record<string, Record<string, string>>>,
  patch: EntriesPatch,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = { ...entries };
  for (const [uid, hooks] of Object.entries(patch)) {
    if (hooks === null) {
      delete out[uid];
      continue;
    }
    const next: Record<string, string> = { ...out[uid] };
    for (const [hook, value] of Object.entries(hooks)) {
      if (value === null) delete next[hook];
      else next[hook] = value;
    }
    out[uid] = next;
  }
  return out;
}

/**
 * Shards in this process: one replica and local use (`--store memory`), and the backing store
 * two HookSetMemory instances share in tests as two replicas share the API server. What goes in
 * and comes out is copied, so no caller ever holds the stored object.
 */
export class LocalShardStore implements ShardStore {
  private readonly shards = new Map<string, HookMemoryObject>();
  private version = 0;

  async list(hookSet: HookSetRef): Promise<HookMemoryObject[]> {
    return [...this.shards.values()].filter((s) => ofHookSet(s, hookSet)).map((s) => structuredClone(s));
  }

  async read(name: string): Promise<HookMemoryObject | undefined> {
    const shard = this.shards.get(name);
    return shard && structuredClone(shard);
  }

  async create(shard: HookMemoryObject): Promise<HookMemoryObject> {
    if (this.shards.has(shard.metadata.name))
      throw new ConflictError(`hookmemory ${shard.metadata.name} already exists`);
    const stored = structuredClone(shard);
    stored.metadata.resourceVersion = String(++this.version);
    this.shards.set(stored.metadata.name, stored);
    return structuredClone(stored);
  }

  async patch(name: string, resourceVersion: string, entries: EntriesPatch): Promise<HookMemoryObject> {
    const current = this.shards.get(name);
    if (!current) throw new ConflictError(`hookmemory ${name} no longer exists`);
    if (current.metadata.resourceVersion !== resourceVersion)
      throw new ConflictError(
        `hookmemory ${name} was changed (resourceVersion ${current.metadata.resourceVersion ?? "?"}, ` +
          `not ${resourceVersion})`,
      );
    const stored: HookMemoryObject = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(++this.version) },
      entries: applyEntriesPatch(current.entries ?? {}, structuredClone(entries)),
    };
    this.shards.set(name, stored);
    return structuredClone(stored);
  }
}
