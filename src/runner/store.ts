// Completed-step records, so a redelivered event (same CloudEvent id and hook) never repeats a
// step that already succeeded. Two implementations of one interface: a bounded in-memory map
// (one replica), and Kubernetes Leases in the runner's namespace (several replicas share them;
// create-if-absent is the API server's own atomic operation, updates use resourceVersion).
import { createHash } from "node:crypto";
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";

export interface StepRecord {
  status: "succeeded" | "skipped";
  output?: unknown;
}

export interface RunRecord {
  /** Steps that completed, by name. */
  steps: Record<string, StepRecord>;
  /** Set when every step completed. */
  done: boolean;
}

export interface RunStore {
  /** Claims the run for this process; returns the record so far, or "busy" when another process holds it. */
  claim(key: string): Promise<RunRecord | "busy">;
  /** Persists a completed step (before the next step starts). */
  completeStep(key: string, step: string, record: StepRecord): Promise<void>;
  /** Marks the run done, or releases the claim after a failure so a redelivery can resume. */
  finish(key: string, done: boolean): Promise<void>;
}

const DEFAULT_TTL_MS = 24 * 3_600_000;

export class MemoryRunStore implements RunStore {
  private readonly records = new Map<string, { record: RunRecord; expires: number; claimed: boolean }>();
  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {}

  async claim(key: string): Promise<RunRecord | "busy"> {
    const now = Date.now();
    let entry = this.records.get(key);
    if (entry && entry.expires < now) {
      this.records.delete(key);
      entry = undefined;
    }
    if (entry?.claimed) return "busy";
    if (!entry) {
      entry = { record: { steps: {}, done: false }, expires: now + this.ttlMs, claimed: false };
      this.evict();
    } else {
      this.records.delete(key); // re-insert: Map order is the LRU order
    }
    entry.claimed = true;
    this.records.set(key, entry);
    // Records are never mutated once stored (the executor builds new ones), so copies are shallow.
    return { steps: { ...entry.record.steps }, done: entry.record.done };
  }

  async completeStep(key: string, step: string, record: StepRecord): Promise<void> {
    const entry = this.records.get(key);
    if (entry) entry.record.steps[step] = record;
  }

  async finish(key: string, done: boolean): Promise<void> {
    const entry = this.records.get(key);
    if (!entry) return;
    entry.claimed = false;
    entry.record.done = done;
  }

  get size(): number {
    return this.records.size;
  }

  private evict(): void {
    // Oldest unclaimed first (Map order is insertion order); an in-flight entry is never dropped.
    for (const [key, entry] of this.records) {
      if (this.records.size < this.maxEntries) return;
      if (!entry.claimed) this.records.delete(key);
    }
  }
}

/**
 * How long a claim lasts without renewal. A replica killed mid-run blocks redeliveries to other
 * replicas (503 busy) for at most this long, well inside the Sensor's retry window
 * (src/generate/sensor.ts: about 60s), so a retry after the claim expired resumes the run.
 */
export const CLAIM_SECONDS = 15;

const RECORD_ANNOTATION = "resource-hooks.io/run";
const EXPIRES_ANNOTATION = "resource-hooks.io/expires-at";
const STORE_LABEL = { "app.kubernetes.io/managed-by": "resource-hooks", "resource-hooks.io/store": "run" };

export class KubernetesRunStore implements RunStore {
  private readonly api: CoordinationV1Api;
  private readonly cache = new Map<string, V1Lease>();
  private readonly heartbeats = new Map<string, NodeJS.Timeout>();

  // A claim is short and renewed while the run goes on, so a runner killed mid-run releases
  // its runs within claimSeconds and a redelivery to another replica can resume them.
  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly holder: string,
    private readonly claimSeconds = CLAIM_SECONDS,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  static leaseName(key: string): string {
    return `rh-run-${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
  }

  async claim(key: string): Promise<RunRecord | "busy"> {
    const name = KubernetesRunStore.leaseName(key);
    const now = new Date();
    const fresh: V1Lease = {
      metadata: {
        name,
        namespace: this.namespace,
        labels: STORE_LABEL,
        annotations: {
          [RECORD_ANNOTATION]: JSON.stringify({ steps: {}, done: false } satisfies RunRecord),
          [EXPIRES_ANNOTATION]: new Date(now.getTime() + this.ttlMs).toISOString(),
        },
      },
      spec: { holderIdentity: this.holder, leaseDurationSeconds: this.claimSeconds, acquireTime: new V1MicroTime(now), renewTime: new V1MicroTime(now) },
    };
    try {
      const created = await this.api.createNamespacedLease({ namespace: this.namespace, body: fresh });
      this.cache.set(key, created);
      this.startHeartbeat(key);
      return { steps: {}, done: false };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
    const lease = await this.api.readNamespacedLease({ name, namespace: this.namespace });
    const record = parseRecord(lease);
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const held = holder && holder !== this.holder && renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 > now.getTime();
    if (held && !record.done) return "busy";
    lease.spec = { ...lease.spec, holderIdentity: this.holder, acquireTime: new V1MicroTime(now), renewTime: new V1MicroTime(now), leaseDurationSeconds: this.claimSeconds };
    try {
      // Optimistic concurrency: the resourceVersion we read makes a racing claimer get 409.
      this.cache.set(key, await this.api.replaceNamespacedLease({ name, namespace: this.namespace, body: withMicroTimes(lease) }));
    } catch (err) {
      if (statusOf(err) === 409) return "busy";
      throw err;
    }
    this.startHeartbeat(key);
    return record;
  }

  private startHeartbeat(key: string): void {
    const timer = setInterval(() => {
      this.update(key, () => undefined).catch(() => undefined);
    }, (this.claimSeconds * 1000) / 3);
    timer.unref();
    this.heartbeats.set(key, timer);
  }

  async completeStep(key: string, step: string, stepRecord: StepRecord): Promise<void> {
    await this.update(key, (record) => {
      record.steps[step] = stepRecord;
    });
  }

  async finish(key: string, done: boolean): Promise<void> {
    clearInterval(this.heartbeats.get(key));
    this.heartbeats.delete(key);
    await this.update(key, (record, lease) => {
      record.done = done;
      if (lease.spec) {
        delete lease.spec.holderIdentity;
      }
    });
    this.cache.delete(key);
  }

  /** Deletes records past their expiry; the runner calls it periodically. */
  async collectGarbage(now = Date.now()): Promise<number> {
    const list = await this.api.listNamespacedLease({ namespace: this.namespace, labelSelector: "resource-hooks.io/store=run" });
    let removed = 0;
    for (const lease of list.items) {
      const expires = Date.parse(lease.metadata?.annotations?.[EXPIRES_ANNOTATION] ?? "");
      if (Number.isFinite(expires) && expires < now && lease.metadata?.name) {
        try {
          await this.api.deleteNamespacedLease({ name: lease.metadata.name, namespace: this.namespace });
          removed++;
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }
    }
    return removed;
  }

  private async update(key: string, change: (record: RunRecord, lease: V1Lease) => void): Promise<void> {
    const name = KubernetesRunStore.leaseName(key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const lease = this.cache.get(key) ?? (await this.api.readNamespacedLease({ name, namespace: this.namespace }));
      const record = parseRecord(lease);
      change(record, lease);
      lease.metadata = { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [RECORD_ANNOTATION]: JSON.stringify(record) } };
      if (lease.spec?.holderIdentity) lease.spec.renewTime = new V1MicroTime();
      try {
        this.cache.set(key, await this.api.replaceNamespacedLease({ name, namespace: this.namespace, body: withMicroTimes(lease) }));
        return;
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        this.cache.delete(key);
      }
    }
    throw new Error(`could not update run record ${name}: conflicting writers`);
  }
}

/**
 * Lease times are MicroTime: the API server rejects the millisecond timestamps a plain Date
 * serialises to, and client-node reads them back as plain Dates.
 */
function withMicroTimes(lease: V1Lease): V1Lease {
  if (!lease.spec) return lease;
  const { acquireTime, renewTime } = lease.spec;
  return {
    ...lease,
    spec: {
      ...lease.spec,
      ...(acquireTime ? { acquireTime: new V1MicroTime(acquireTime) } : {}),
      ...(renewTime ? { renewTime: new V1MicroTime(renewTime) } : {}),
    },
  };
}

function parseRecord(lease: V1Lease): RunRecord {
  try {
    const parsed = JSON.parse(lease.metadata?.annotations?.[RECORD_ANNOTATION] ?? "") as RunRecord;
    return { steps: parsed.steps ?? {}, done: Boolean(parsed.done) };
  } catch {
    return { steps: {}, done: false };
  }
}

export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}
