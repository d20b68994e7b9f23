// Leader election against an in-memory Lease endpoint that does what the API server does with one
// object: 404 until created, 409 on a second create, and compare-and-swap on resourceVersion for
// every update. The e2e test (hookset-controller.e2e.test.ts) runs two processes on a real Lease.
import { describe, expect, it, vi } from "vitest";
import { LeaderElector } from "../../src/controller/leader.js";
import type { RestClient } from "../../src/k8s/rest.js";
import { KubeApiError } from "../../src/k8s/types.js";

interface StoredLease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: Record<string, unknown>;
}

function leaseServer() {
  let stored: StoredLease | undefined;
  let version = 0;
  const rest = {
    async request(method: string, _path: string, options: { body?: StoredLease } = {}) {
      const body = options.body;
      if (method === "GET") {
        if (!stored) throw new KubeApiError("not found", 404, "NotFound");
        return structuredClone(stored);
      }
      if (method === "POST") {
        if (stored) throw new KubeApiError("already exists", 409, "AlreadyExists");
        stored = { metadata: { ...body!.metadata, resourceVersion: String(++version) }, spec: body!.spec };
        return structuredClone(stored);
      }
      if (method === "PUT") {
        if (!stored || body!.metadata.resourceVersion !== stored.metadata.resourceVersion)
          throw new KubeApiError("conflict", 409, "Conflict");
        stored = { metadata: { ...body!.metadata, resourceVersion: String(++version) }, spec: body!.spec };
        return structuredClone(stored);
      }
      throw new Error(`unexpected ${method}`);
    },
  };
  return { rest: rest as unknown as RestClient, holder: () => stored?.spec.holderIdentity };
}

const options = (identity: string) => ({
  namespace: "rh",
  name: "resource-hooks-controller",
  identity,
  leaseDurationMs: 1_000, // the Lease stores whole seconds
  renewDeadlineMs: 200,
  retryPeriodMs: 20,
});

describe("leader election on a Lease", () => {
  it("lets one candidate lead; the other takes over only after the lease went unrenewed for its duration", async () => {
    // The clock is faked: what is checked is the order of events against the lease duration, not wall time.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const server = leaseServer();
      const a = new LeaderElector(server.rest, options("a"));
      const b = new LeaderElector(server.rest, options("b"));
      expect(await a.tryAcquireOrRenew()).toBe(true);
      expect(await b.tryAcquireOrRenew()).toBe(false);
      vi.advanceTimersByTime(10);
      expect(await a.tryAcquireOrRenew()).toBe(true); // a renews: a new renewTime
      vi.advanceTimersByTime(150);
      // b first sees a's last renewal now (its own clock): the lease runs from here.
      expect(await b.tryAcquireOrRenew()).toBe(false);
      // a stops renewing (it was killed): b waits the whole lease duration from when it saw the change.
      vi.advanceTimersByTime(990);
      expect(await b.tryAcquireOrRenew()).toBe(false);
      vi.advanceTimersByTime(20);
      expect(await b.tryAcquireOrRenew()).toBe(true);
      expect(server.holder()).toBe("b");
      expect(await a.tryAcquireOrRenew()).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it("releases the Lease on stop, so another candidate leads at once", async () => {
    const server = leaseServer();
    const a = new LeaderElector(server.rest, options("a"));
    let leading = false;
    const ran = a.run(() => (leading = true));
    while (!leading) await new Promise((r) => setTimeout(r, 5));
    a.stop();
    expect(await ran).toBe("stopped");
    expect(server.holder()).toBe("");
    const b = new LeaderElector(server.rest, options("b"));
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
