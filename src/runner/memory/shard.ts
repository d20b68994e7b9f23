// The HookMemory object and its entries, as pure data and functions: which shard an object's uid
// falls in, how one (object, hook) entry is written as a string and read back, and which of two
// entries is newer. The group commit (memory.ts) and both shard stores build on these.
//
// Size bound, per shard object. An entry costs its uid key (`"<36-char uid>":{…},` ≈ 42 bytes)
// plus, per hook, `"<hook>":"<rv> <at> <fingerprint>",` = 7 + hook + rv + at + fingerprint bytes.
// Typical (hook name 30, resourceVersion 9, accept time 8, fingerprint 18): 72 bytes a hook, so
// 258 bytes an object with 3 hooks. 20,000 objects of a watch over 32 shards are 625 a shard,
// at most ≈ 700 with three standard deviations of hashing luck: ≈ 180 KiB a shard. Worst case
// (5 hooks, names of 63 characters, 20-digit resourceVersions, fingerprints at the 128-character
// cap below): 1,182 bytes an object, ≈ 810 KiB a shard. etcd refuses objects over 1.5 MiB.
import { shortHash } from "../../model/hash.js";
import { compareRunKeys } from "../run-order.js";

/** Shards per watch: fixed, so a uid's shard never moves (see the size bound above). */
export const MEMORY_SHARDS = 32;

/**
 * Longer fingerprints are not kept in a shard (the size bound counts on it). Resource triggers'
 * fingerprints are at most 22 characters and a finished Argo CD operation's 18; what exceeds it
 * (an Argo CD operation still running, which remembers the resources it wrote so far) stays a
 * Skipped HookRun, as every memory did before.
 */
export const MAX_ENTRY_FINGERPRINT = 128;

export interface HookSetRef {
  namespace: string;
  name: string;
}

/** The HookMemory custom resource: the entries of one shard of one watch of one HookSet. */
export interface HookMemoryObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec: { hookSet: HookSetRef; watch: string; shard: number };
  /** uid -> hook -> encoded entry (encodeEntry). */
  entries?: Record<string, Record<string, string>>;
}

/** What a hook last handled of one object, and for which state of it (ordered as runs are). */
export interface MemoryEntry {
  fingerprint: string;
  /** The object's resourceVersion the fingerprint was taken from (only kube-apiserver's orders). */
  resourceVersion?: string | undefined;
  /** When the runner accepted it (RFC3339, ms): the order when resourceVersions cannot order. */
  acceptedAt: string;
}

/** Where a uid's entries live among a watch's shards. */
export function shardOf(uid: string): number {
  return Number.parseInt(shortHash(uid, 8), 16) % MEMORY_SHARDS;
}

/** Whether a fingerprint may be kept in a shard (MAX_ENTRY_FINGERPRINT, counted as stored in JSON). */
export function fitsEntry(fingerprint: string): boolean {
  return JSON.stringify(fingerprint).length - 2 <= MAX_ENTRY_FINGERPRINT;
}

/**
 * `<resourceVersion> <accept time> <fingerprint>`: the resourceVersion only when it is
 * kube-apiserver's (an integer; any other cannot order and is "-"), the accept time in base-36
 * milliseconds, the fingerprint last and whole, so it may hold any character.
 */
export function encodeEntry(entry: MemoryEntry): string {
  const rv = entry.resourceVersion && /^\d+$/.test(entry.resourceVersion) ? entry.resourceVersion : "-";
  return `${rv} ${Date.parse(entry.acceptedAt).toString(36)} ${entry.fingerprint}`;
}

/** The entry an encoded string holds; undefined for a string this runner did not write. */
export function decodeEntry(text: string): MemoryEntry | undefined {
  const first = text.indexOf(" ");
  const second = first < 0 ? -1 : text.indexOf(" ", first + 1);
  if (second < 0) return undefined;
  const rv = text.slice(0, first);
  const at = Number.parseInt(text.slice(first + 1, second), 36);
  if (!Number.isFinite(at)) return undefined;
  return {
    fingerprint: text.slice(second + 1),
    ...(rv !== "-" ? { resourceVersion: rv } : {}),
    acceptedAt: new Date(at).toISOString(),
  };
}

/**
 * Two states of one (hook, object), older first, by the run-order rule (object resourceVersion,
 * then accept time). Names are not compared: 0 means the same state, of which either entry or run
 * may stand for the memory.
 */
export function compareStates(
  a: { resourceVersion?: string | undefined; acceptedAt: string },
  b: { resourceVersion?: string | undefined; acceptedAt: string },
): number {
  return compareRunKeys(
    { name: "", acceptedAt: a.acceptedAt, resourceVersion: a.resourceVersion },
    { name: "", acceptedAt: b.acceptedAt, resourceVersion: b.resourceVersion },
  );
}

/** A shard's batch waits one flush delay per this many bytes of the shard (at least one). */
export const BYTES_PER_FLUSH_DELAY = 32 * 1024;

/**
 * How long a shard's first unwritten change waits for others to share its write: one flushDelayMs
 * per BYTES_PER_FLUSH_DELAY of the shard. etcd keeps every write of an object whole until it
 * compacts, so a shard of 140 KiB written every second during a long replay grew it by hundreds of
 * MiB; a large shard is written less often, and a crash loses at most that delay's baselines.
 */
export function batchDelayMs(flushDelayMs: number, shardBytes: number): number {
  return flushDelayMs * Math.max(1, shardBytes / BYTES_PER_FLUSH_DELAY);
}
