// Pure parts of the Kubernetes steps: kind -> resource names, and the readiness predicates the
// wait loop uses (rollout, completion, conditions, CEL expressions).
import { describe, expect, it } from "vitest";
import {
  isKnownClusterScoped,
  kindToResource,
  splitApiVersion,
  unsafeGuessKindToResource,
} from "../../../src/k8s/kinds.js";
import {
  completionStatus,
  conditionStatus,
  daemonSetRollout,
  deploymentRollout,
  rolloutStatus,
  statefulSetRollout,
} from "../../../src/k8s/status.js";
import type { KubeObject } from "../../../src/k8s/types.js";
import { checkWait, evaluateWait } from "../../../src/steps/common/wait.js";

describe("names", () => {
  it("guesses like client-go's UnsafeGuessKindToResource", () => {
    expect(unsafeGuessKindToResource("Pod")).toBe("pods");
    expect(unsafeGuessKindToResource("Deployment")).toBe("deployments");
    expect(unsafeGuessKindToResource("Ingress")).toBe("ingresses");
    expect(unsafeGuessKindToResource("IngressClass")).toBe("ingressclasses");
    expect(unsafeGuessKindToResource("NetworkPolicy")).toBe("networkpolicies");
    expect(unsafeGuessKindToResource("Endpoints")).toBe("endpoints");
    expect(unsafeGuessKindToResource("Prometheus")).toBe("prometheuses");
    // No vowel check in client-go: the guess for Gateway is wrong, hence the irregulars table.
    expect(unsafeGuessKindToResource("Gateway")).toBe("gatewaies");
    expect(unsafeGuessKindToResource("")).toBe("");
  });

  it("corrects well-known irregular plurals", () => {
    expect(kindToResource("gateway.networking.k8s.io", "Gateway")).toBe("gateways");
    expect(kindToResource("networking.istio.io", "Gateway")).toBe("gateways");
    expect(kindToResource("metrics.k8s.io", "PodMetrics")).toBe("pods");
    expect(kindToResource("apps", "StatefulSet")).toBe("statefulsets");
    expect(kindToResource("", "ConfigMap")).toBe("configmaps");
  });

  it("splits apiVersions and knows cluster-scoped built-ins", () => {
    expect(splitApiVersion("v1")).toEqual({ group: "", version: "v1" });
    expect(splitApiVersion("apps/v1")).toEqual({ group: "apps", version: "v1" });
    expect(isKnownClusterScoped("", "Namespace")).toBe(true);
    expect(isKnownClusterScoped("rbac.authorization.k8s.io", "ClusterRole")).toBe(true);
    expect(isKnownClusterScoped("apps", "Deployment")).toBe(false);
  });
});

function deployment(spec: Record<string, unknown>, status: Record<string, unknown>, generation = 2): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "prod", generation },
    spec,
    status,
  };
}

describe("rollout predicates", () => {
  const done = { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3 };

  it("Deployment: done when observed and every replica updated and available", () => {
    expect(deploymentRollout(deployment({ replicas: 3 }, done)).state).toBe("ready");
    expect(deploymentRollout(deployment({ replicas: 3 }, { ...done, observedGeneration: 1 })).message).toContain(
      "spec update",
    );
    expect(deploymentRollout(deployment({ replicas: 3 }, { ...done, updatedReplicas: 1 })).message).toBe(
      "1 of 3 new replicas have been updated",
    );
    expect(deploymentRollout(deployment({ replicas: 3 }, { ...done, replicas: 4 })).message).toBe(
      "1 old replicas are pending termination",
    );
    expect(deploymentRollout(deployment({ replicas: 3 }, { ...done, availableReplicas: 2 })).message).toBe(
      "2 of 3 updated replicas are available",
    );
    // spec.replicas defaults to 1; scaled to zero has no status counts at all.
    expect(
      deploymentRollout(
        deployment({}, { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 }),
      ).state,
    ).toBe("ready");
    expect(deploymentRollout(deployment({ replicas: 0 }, { observedGeneration: 2 })).state).toBe("ready");
  });

  it("Deployment: ProgressDeadlineExceeded is terminal", () => {
    const stuck = deployment(
      { replicas: 3 },
      {
        ...done,
        updatedReplicas: 1,
        conditions: [
          {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: 'ReplicaSet "web-1" has timed out progressing.',
          },
        ],
      },
    );
    const result = deploymentRollout(stuck);
    expect(result.state).toBe("failed");
    expect(result.message).toContain("exceeded its progress deadline");
  });

  it("StatefulSet and DaemonSet follow kubectl's rules", () => {
    const sts = (status: Record<string, unknown>, spec: Record<string, unknown> = { replicas: 2 }): KubeObject => ({
      kind: "StatefulSet",
      metadata: { name: "db", generation: 1 },
      spec,
      status: { observedGeneration: 1, ...status },
    });
    expect(statefulSetRollout(sts({ readyReplicas: 2, currentRevision: "r2", updateRevision: "r2" })).state).toBe(
      "ready",
    );
    expect(
      statefulSetRollout(sts({ readyReplicas: 2, currentRevision: "r1", updateRevision: "r2", updatedReplicas: 1 }))
        .state,
    ).toBe("waiting");
    expect(statefulSetRollout(sts({ readyReplicas: 1 })).message).toBe("1 of 2 pods are ready");
    expect(
      statefulSetRollout(sts({ readyReplicas: 2 }, { replicas: 2, updateStrategy: { type: "OnDelete" } })).state,
    ).toBe("failed");
    expect(
      statefulSetRollout(
        sts(
          { readyReplicas: 2, updatedReplicas: 1, currentRevision: "r1", updateRevision: "r2" },
          { replicas: 2, updateStrategy: { rollingUpdate: { partition: 1 } } },
        ),
      ).state,
    ).toBe("ready");
    const ds = (status: Record<string, unknown>): KubeObject => ({
      kind: "DaemonSet",
      metadata: { name: "agent", generation: 3 },
      spec: {},
      status,
    });
    expect(
      daemonSetRollout(
        ds({ observedGeneration: 3, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 }),
      ).state,
    ).toBe("ready");
    expect(
      daemonSetRollout(
        ds({ observedGeneration: 3, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 3 }),
      ).state,
    ).toBe("waiting");
    expect(
      daemonSetRollout(
        ds({ observedGeneration: 2, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 }),
      ).state,
    ).toBe("waiting");
    expect(rolloutStatus({ kind: "Job", metadata: { name: "x" } }).state).toBe("failed");
  });
});

describe("completion and conditions", () => {
  const job = (conditions: unknown[], extra: Record<string, unknown> = {}): KubeObject => ({
    kind: "Job",
    metadata: { name: "migrate", namespace: "prod" },
    status: { conditions, ...extra },
  });

  it("Job: Complete is done, Failed is terminal with the Job's reason", () => {
    expect(completionStatus(job([{ type: "Complete", status: "True" }])).state).toBe("ready");
    expect(completionStatus(job([], { active: 1 })).message).toBe("not complete yet (active 1)");
    // Kubernetes 1.31+ first sets SuccessCriteriaMet / FailureTarget: still waiting for the terminal condition.
    expect(completionStatus(job([{ type: "FailureTarget", status: "True" }])).state).toBe("waiting");
    const failed = completionStatus(
      job([
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ]),
    );
    expect(failed).toMatchObject({ state: "failed", reason: "BackoffLimitExceeded" });
    expect(failed.message).toBe(
      "Job prod/migrate failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
    );
  });

  it("any condition with a status", () => {
    const obj = job([{ type: "Ready", status: "False", reason: "Pending" }]);
    expect(conditionStatus(obj, "Ready").state).toBe("waiting");
    expect(conditionStatus(obj, "Ready", "False").state).toBe("ready");
    expect(conditionStatus(obj, "Synced").message).toBe("no Synced condition yet");
  });

  it("evaluateWait covers deleted, expressions and missing objects", () => {
    expect(evaluateWait("deleted", undefined).state).toBe("ready");
    expect(evaluateWait("deleted", job([])).state).toBe("waiting");
    expect(evaluateWait("complete", undefined).message).toBe("does not exist");
    const phase = { expression: "object.status.phase == 'Succeeded'" };
    expect(evaluateWait(phase, { kind: "Pod", status: { phase: "Succeeded" } }).state).toBe("ready");
    expect(evaluateWait(phase, { kind: "Pod", status: { phase: "Running" } }).state).toBe("waiting");
    // A field that is not set yet is "keep waiting", not an error.
    expect(evaluateWait(phase, { kind: "Pod" }).state).toBe("waiting");
    expect(evaluateWait({ condition: { type: "Ready" } }, job([{ type: "Ready", status: "True" }])).state).toBe(
      "ready",
    );
  });

  it("checkWait reports bad expressions and rollout on kinds without one", () => {
    expect(checkWait("rollout", "Job", ["for"])).toEqual([
      { path: ["for"], message: "rollout is defined for Deployment, StatefulSet, DaemonSet, not Job" },
    ]);
    expect(checkWait("rollout", "Deployment", ["for"])).toEqual([]);
    expect(checkWait({ expression: "object.status.(" }, undefined, ["for"])[0]?.path).toEqual(["for", "expression"]);
    expect(checkWait({ expression: "event.x == 1" }, undefined, ["for"])[0]?.message).toContain("reads only `object`");
  });
});
