// One HookMemory shard as this replica holds it: the entries as stored, the batch of changes not
// yet written, and how a change resolves against a stored entry. memory.ts schedules and writes
// the batches; this module is the data they are made of.
import { compareStates, decodeEntry, encodeEntry, type MemoryEntry } from "./shard.js";
import type { EntriesPatch } from "./store.js";

/** An object state: what orders entries and forgets. */
export type ObjectState = Pick<MemoryEntry, "resourceVersion" | "acceptedAt">;

export type Change = { entry: MemoryEntry } | { forget: ObjectState };

export class Shard {
  /** undefined until the shard is stored (read, listed or created). */
  resourceVersion: string | undefined;
  /**
   * uid -> hook -> entry as stored: each uid's entries are the object its shard was read into (a
   * plain object, not a Map: with two entries about 230 bytes a uid against 380, at 20,000 objects a
   * third of what the memory held).
   * Read through storedText: a hook may be named like an Object.prototype member ("constructor").
   */
  stored = new Map<string, Readonly<Record<string, string>>>();
  /** uid -> hook -> the change not yet written. */
  readonly pending = new Map<string, Map<string, Change>>();
  pendingCount = 0;
  /** About the size of the stored entries in bytes, as of the last copy read or written. */
  bytes = 0;
  timer: NodeJS.Timeout | undefined;
  /** When the timer was set and when the last change came (ms): a later change postpones the write. */
  timerSetAt = 0;
  lastChangeAt = 0;
  /** How often the batch has waited another delay since its timer was first set. */
  postponed = 0;
  writing: Promise<void> | undefined;
  failures = 0;

  constructor(
    readonly name: string,
    readonly watch: string,
    readonly index: number,
  ) {}

  storedEntry(uid: string, hook: string): MemoryEntry | undefined {
    const text = this.storedText(uid, hook);
    return text === undefined ? undefined : decodeEntry(text);
  }

  storedText(uid: string, hook: string): string | undefined {
    const hooks = this.stored.get(uid);
    return hooks && Object.hasOwn(hooks, hook) ? hooks[hook] : undefined;
  }

  /** The entry lookups see: the stored one with the pending change applied. */
  current(uid: string, hook: string): MemoryEntry | undefined {
    return resolve(this.storedEntry(uid, hook), this.pending.get(uid)?.get(hook));
  }

  setPending(uid: string, hook: string, change: Change): void {
    let hooks = this.pending.get(uid);
    if (!hooks) this.pending.set(uid, (hooks = new Map()));
    if (!hooks.has(hook)) this.pendingCount++;
    hooks.set(hook, change);
    this.lastChangeAt = Date.now();
  }

  /** Drops the change once written, unless a newer one replaced it meanwhile. */
  written(uid: string, hook: string, change: Change): void {
    const hooks = this.pending.get(uid);
    if (hooks?.get(hook) !== change) return;
    hooks.delete(hook);
    this.pendingCount--;
    if (hooks.size === 0) this.pending.delete(uid);
  }
}

/** The entry after a change: a newer state replaces an older one; a forget removes what is not newer. */
export function resolve(stored: MemoryEntry | undefined, change: Change | undefined): MemoryEntry | undefined {
  if (!change) return stored;
  if ("entry" in change) return !stored || compareStates(change.entry, stored) >= 0 ? change.entry : stored;
  return stored && compareStates(stored, change.forget) > 0 ? stored : undefined;
}

/** The batch as a merge patch of the stored shard: only entries it changes. */
export function patchOf(shard: Shard, batch: ReadonlyArray<[string, string, Change]>): EntriesPatch {
  const patch: EntriesPatch = {};
  const remaining = new Map<string, number>();
  for (const [uid, hook, change] of batch) {
    const before = shard.storedText(uid, hook);
    const stored = before === undefined ? undefined : decodeEntry(before);
    const next = resolve(stored, change);
    // An entry kept as stored keeps its stored text (one written by another version unchanged).
    if (next === stored) continue;
    const after = next && encodeEntry(next);
    if (after === before) continue;
    const hooks = shard.stored.get(uid);
    let left = remaining.get(uid) ?? (hooks ? Object.keys(hooks).length : 0);
    if (before === undefined) left++;
    if (after === undefined) left--;
    remaining.set(uid, left);
    const entry = patch[uid] ?? {};
    entry[hook] = after ?? null;
    patch[uid] = entry;
  }
  // A uid whose every entry goes is removed whole, not left as an empty map.
  for (const [uid, left] of remaining) if (left === 0 && shard.stored.has(uid)) patch[uid] = null;
  return patch;
}
