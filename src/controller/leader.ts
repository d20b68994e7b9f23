// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
// holder renews the Lease every retry period; another candidate takes it over only when it has
// seen the same record unchanged for a whole lease duration, measured on its own clock (never by
// comparing renewTime with its clock, so clock skew between nodes does not matter). Every write is
// a compare-and-swap on resourceVersion, so two candidates never both win. A leader that cannot
// renew within the renew deadline stops leading (the caller exits, as controller-runtime does).
import { setTimeout as sleep } from "node:timers/promises";
import type { RestClient } from "../k8s/rest.js";
import { KubeApiError } from "../k8s/types.js";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** controller-runtime's defaults: 15 s, 10 s, 2 s. */
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** MicroTime, as the API server stores it. */
const microTime = (date: Date): string => date.toISOString().replace("Z", "000Z");

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private stopped = false;

  constructor(
    private readonly rest: RestClient,
    private readonly options: LeaderElectionOptions,
  ) {}

  private get path(): string {
    const namespace = encodeURIComponent(this.options.namespace);
    return `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${encodeURIComponent(this.options.name)}`;
  }

  /**
   * Waits until this candidate leads, then calls `lead` and keeps renewing; resolves when leading
   * ended: stop() was called (the Lease is released) or renewing failed past the renew deadline.
   */
  async run(lead: () => void, onError: (err: unknown) => void = () => {}): Promise<"stopped" | "lost"> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    while (!this.stopped && !(await this.tryAcquireOrRenew().catch(report(onError)))) await sleep(retryPeriodMs);
    if (this.stopped) return "stopped";
    lead();
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(retryPeriodMs);
      if (this.stopped) break;
      if (await this.tryAcquireOrRenew().catch(report(onError))) lastRenew = Date.now();
      else if (Date.now() - lastRenew > renewDeadlineMs) return "lost";
    }
    await this.release().catch(report(onError));
    return "stopped";
  }

  stop(): void {
    this.stopped = true;
  }

  /** One attempt: true when this candidate holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, leaseDurationMs } = this.options;
    const now = new Date();
    let lease: Lease | undefined;
    try {
      lease = await this.rest.request<Lease>("GET", this.path);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    const mine: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!lease) return await this.write("POST", { metadata: this.metadata(), spec: mine });
    const spec = lease.spec ?? {};
    const record = JSON.stringify(spec);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const held = !!spec.holderIdentity && spec.holderIdentity !== identity;
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(leaseDurationMs / 1000)) * 1000;
    if (held && Date.now() - this.observed.at < durationMs) return false;
    const next: LeaseSpec =
      spec.holderIdentity === identity
        ? { ...spec, renewTime: mine.renewTime, leaseDurationSeconds: mine.leaseDurationSeconds }
        : { ...mine, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    return await this.write("PUT", {
      metadata: { ...this.metadata(), resourceVersion: lease.metadata.resourceVersion },
      spec: next,
    });
  }

  /** Gives the Lease up so another candidate takes over at once instead of after the lease duration. */
  private async release(): Promise<void> {
    const lease = await this.rest.request<Lease>("GET", this.path);
    if (lease.spec?.holderIdentity !== this.options.identity) return;
    const spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) };
    await this.write("PUT", {
      metadata: { ...this.metadata(), resourceVersion: lease.metadata.resourceVersion },
      spec,
    });
  }

  private metadata(): Lease["metadata"] {
    return { name: this.options.name, namespace: this.options.namespace };
  }

  private async write(method: "POST" | "PUT", lease: Omit<Lease, "apiVersion" | "kind">): Promise<boolean> {
    const body = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", ...lease };
    const path = method === "POST" ? this.path.replace(/\/[^/]+$/, "") : this.path;
    try {
      const written = await this.rest.request<Lease>(method, path, { body });
      this.observed = { record: JSON.stringify(written.spec ?? {}), at: Date.now() };
      return written.spec?.holderIdentity === this.options.identity;
    } catch (err) {
      // Another candidate wrote first (409 Conflict or AlreadyExists): it leads.
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
  }
}

function report(onError: (err: unknown) => void): (err: unknown) => false {
  return (err) => {
    onError(err);
    return false;
  };
}
