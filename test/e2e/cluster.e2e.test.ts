// Real rollouts in the e2e stack (components/cluster-controllers.ts): kube-controller-manager,
// kube-scheduler and kwok with one fake node. A Deployment's image change goes through its
// real controllers (a new ReplicaSet, new Pods scheduled and made Running by kwok, the old
// ones deleted, the Deployment's status written by the deployment controller), and a Job
// completes. The test writes no status: it asserts who wrote it (managedFields).
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startClusterControllers, type ClusterControllers } from "./components/cluster-controllers.js";
import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";
import { pollUntil, type KubeObject } from "./stack.js";

const NS = "rollout";
const stack = useStack();
let cc: ClusterControllers;

interface ManagedField {
  manager?: string;
  operation?: string;
  subresource?: string;
}

interface Deployment extends KubeObject {
  metadata: KubeObject["metadata"] & { generation?: number; managedFields?: ManagedField[] };
  spec: { replicas?: number; template: { spec: { containers: Array<{ name: string; image: string }> } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: Array<{ type: string; status: string; reason?: string }>;
  };
}

interface Pod extends KubeObject {
  metadata: KubeObject["metadata"] & {
    ownerReferences?: Array<{ kind: string; name: string }>;
    deletionTimestamp?: string;
    managedFields?: ManagedField[];
  };
  spec: { nodeName?: string; containers: Array<{ image: string }> };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

function deployment(image: string): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: NS },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image }] },
      },
    },
  };
}

/** Rolled out as `kubectl rollout status` decides it (kubectl/pkg/polymorphichelpers/rollout_status.go). */
function rolledOut(d: Deployment): boolean {
  const s = d.status;
  const want = d.spec.replicas ?? 1;
  if (!s || (s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return false;
  const progressing = s.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") throw new Error("rollout exceeded its progress deadline");
  return (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) === want;
}

async function listPods(selector: string): Promise<Pod[]> {
  const r = await stack().admin.get<{ items: Pod[] }>(
    `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(selector)}`,
  );
  return r.items;
}

/** Managers that wrote the status subresource of an object. */
function statusWriters(o: { metadata: { managedFields?: ManagedField[] } }): string[] {
  return [
    ...new Set((o.metadata.managedFields ?? []).filter((f) => f.subresource === "status").map((f) => f.manager ?? "?")),
  ].sort();
}

beforeAll(async () => {
  cc = await startClusterControllers(stack());
  const t = cc.timings;
  figure("stack start (ms)", Math.round(stack.startMs()));
  figure(
    "controllers start (ms)",
    `kube-controller-manager ${Math.round(t.controllerManagerMs)}, kube-scheduler ${Math.round(t.schedulerMs)}, kwok ${Math.round(t.kwokMs)}, node Ready ${Math.round(t.nodeReadyMs)}, total ${Math.round(t.totalMs)}`,
  );
  await stack().apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]);
  // Pods need the namespace's "default" ServiceAccount, which the serviceaccount controller makes
  await pollUntil(`ServiceAccount ${NS}/default`, 30_000, async () =>
    (await stack().admin.read({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "default", namespace: NS },
    }))
      ? true
      : undefined,
  );
});

afterAll(async () => {
  await cc?.stop();
});

describe("real rollouts (kube-controller-manager, kube-scheduler, kwok)", () => {
  it("a Deployment's image change rolls out: new ReplicaSet, Pods Running, status written by the controller", async () => {
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/web`;
    let t = performance.now();
    await stack().apply([deployment("registry.invalid/web:1.0")]);
    await pollUntil("web rolled out (1.0)", 60_000, async () =>
      rolledOut(await stack().admin.get<Deployment>(path)) ? true : undefined,
    );
    figure("Deployment create -> rolled out, 3 replicas (ms)", Math.round(performance.now() - t));

    t = performance.now();
    await stack().apply([deployment("registry.invalid/web:1.1")]);
    const seen = new Set<string>();
    const d = await pollUntil(
      "web rolled out (1.1)",
      60_000,
      async () => {
        const x = await stack().admin.get<Deployment>(path);
        // the controller's intermediate states: the rollout really went through steps
        seen.add(`${x.status?.updatedReplicas ?? 0}/${x.status?.replicas ?? 0}`);
        return rolledOut(x) ? x : undefined;
      },
      50,
    );
    figure("image change -> rolled out, 3 replicas (ms)", Math.round(performance.now() - t));
    figure("updated/total replicas observed during the rollout", [...seen].join(" "));

    expect(d.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(d.status?.conditions?.find((c) => c.type === "Progressing")?.reason).toBe("NewReplicaSetAvailable");
    expect(d.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("True");
    // who wrote the status: the deployment controller only
    expect(statusWriters(d)).toEqual(["kube-controller-manager"]);

    const rss = await stack().admin.get<{
      items: Array<Deployment & { metadata: { ownerReferences?: Array<{ name: string }> } }>;
    }>(`/apis/apps/v1/namespaces/${NS}/replicasets?labelSelector=app%3Dweb`);
    expect(rss.items).toHaveLength(2);
    const byImage = new Map(rss.items.map((rs) => [rs.spec.template.spec.containers[0]?.image, rs]));
    expect(byImage.get("registry.invalid/web:1.1")?.status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(byImage.get("registry.invalid/web:1.0")?.spec.replicas).toBe(0);
    for (const rs of rss.items) expect(rs.metadata.ownerReferences?.[0]?.name).toBe("web");

    // the old Pods are gone (kwok finished their deletion), the new ones run on the fake node
    const pods = await pollUntil("only the new Pods left", 30_000, async () => {
      const ps = await listPods("app=web");
      return ps.length === 3 && ps.every((p) => !p.metadata.deletionTimestamp) ? ps : undefined;
    });
    for (const p of pods) {
      expect(p.spec.containers[0]?.image).toBe("registry.invalid/web:1.1");
      expect(p.spec.nodeName).toBe(cc.nodeName);
      expect(p.status?.phase).toBe("Running");
      expect(p.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      // scheduled by kube-scheduler (a binding, not a nodeName in the spec we applied), status by kwok
      expect(statusWriters(p)).toEqual(["kwok"]);
    }
  });

  it("a Job runs to completion", async () => {
    const t = performance.now();
    await stack().apply([
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "migrate", namespace: NS },
        spec: {
          completions: 2,
          parallelism: 1,
          backoffLimit: 0,
          template: {
            spec: { restartPolicy: "Never", containers: [{ name: "migrate", image: "registry.invalid/migrate:1" }] },
          },
        },
      },
    ]);
    interface Job {
      metadata: { managedFields?: ManagedField[] };
      status?: {
        succeeded?: number;
        failed?: number;
        completionTime?: string;
        conditions?: Array<{ type: string; status: string }>;
      };
    }
    const job = await pollUntil("Job migrate Complete", 60_000, async () => {
      const j = await stack().admin.get<Job>(`/apis/batch/v1/namespaces/${NS}/jobs/migrate`);
      if (j.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True")) throw new Error("Job failed");
      return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") ? j : undefined;
    });
    figure("Job create -> Complete, 2 completions (ms)", Math.round(performance.now() - t));
    expect(job.status?.succeeded).toBe(2);
    expect(job.status?.completionTime).toBeTruthy();
    expect(statusWriters(job)).toEqual(["kube-controller-manager"]);
    const pods = await listPods("job-name=migrate");
    expect(pods.filter((p) => p.status?.phase === "Succeeded")).toHaveLength(2);
  });
});
