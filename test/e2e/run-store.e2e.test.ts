// The kubernetes run store on a real API server, as the runner's generated ServiceAccount: two
// replicas share completed-step records through Leases, a live claim keeps the other replica
// out, a dead replica's claim expires, and expired records are collected.
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { generate } from "../../src/generate/index.js";
import { KubernetesRunStore } from "../../src/runner/store.js";
import { hookSetFrom } from "../helpers/spec.js";
import { useStack } from "./harness.js";

const stack = useStack();

async function storeAs(holder: string, claimSeconds = 30, ttlMs?: number): Promise<KubernetesRunStore> {
  const kc = new KubeConfig();
  kc.loadFromFile(await stack().kubeconfigForServiceAccount("argo-events", "resource-hooks"));
  return new KubernetesRunStore(kc, "argo-events", holder, claimSeconds, ttlMs);
}

describe("KubernetesRunStore", () => {
  it("shares records between replicas under the generated least-privilege RBAC", async () => {
    const hookSet = hookSetFrom([{ name: "h", on: { resource: { version: "v1", resource: "configmaps", namespace: "web" } }, steps: [{ name: "s", log: { message: "x" } }] }]);
    const rbac = generate(hookSet).find((f) => f.path === "manifests/runner-rbac.yaml")!.objects;
    await stack().apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "argo-events" } }, { apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } }, ...rbac]);

    const a = await storeAs("runner-a");
    const b = await storeAs("runner-b");
    const key = "h/event-1";
    expect(await a.claim(key)).toEqual({ steps: {}, done: false });
    expect(await b.claim(key)).toBe("busy");
    await a.completeStep(key, "first", { status: "succeeded", output: { status: 200 } });
    await a.finish(key, false); // a failed run releases its claim
    expect(await b.claim(key)).toEqual({ steps: { first: { status: "succeeded", output: { status: 200 } } }, done: false });
    await b.completeStep(key, "second", { status: "skipped", output: null });
    await b.finish(key, true);
    expect(await a.claim(key)).toMatchObject({ done: true });
    await a.finish(key, true);
  });

  it("lets another replica resume once a dead replica's claim expires", async () => {
    const dead = await storeAs("runner-dead", 2);
    const key = "h/event-2";
    expect(await dead.claim(key)).toEqual({ steps: {}, done: false });
    await dead.completeStep(key, "first", { status: "succeeded", output: 1 });
    // The process dies: no finish(), no more heartbeats.
    (dead as unknown as { heartbeats: Map<string, NodeJS.Timeout> }).heartbeats.forEach((t) => clearInterval(t));
    const other = await storeAs("runner-other");
    expect(await other.claim(key)).toBe("busy");
    await new Promise((r) => setTimeout(r, 2500));
    expect(await other.claim(key)).toEqual({ steps: { first: { status: "succeeded", output: 1 } }, done: false });
    await other.finish(key, true);
  });

  it("collects records past their expiry", async () => {
    const shortLived = await storeAs("runner-gc", 30, 1);
    await shortLived.claim("h/event-3");
    await shortLived.finish("h/event-3", true);
    await new Promise((r) => setTimeout(r, 20));
    const removed = await shortLived.collectGarbage();
    expect(removed).toBeGreaterThanOrEqual(1);
    const response = await stack().apiGet("/apis/coordination.k8s.io/v1/namespaces/argo-events/leases");
    const leases = JSON.parse(response.body) as { items: Array<{ metadata: { name: string } }> };
    expect(leases.items.map((l) => l.metadata.name)).not.toContain(KubernetesRunStore.leaseName("h/event-3"));
  });
});
