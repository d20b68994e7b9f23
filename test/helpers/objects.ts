// Realistic Kubernetes objects as the API server returns them, for trigger tests.
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";

export function deployment(
  overrides: {
    name?: string;
    namespace?: string;
    image?: string;
    replicas?: number;
    generation?: number;
    labels?: Record<string, string>;
    status?: Record<string, unknown>;
    resourceVersion?: string;
  } = {},
): KubeObject {
  const name = overrides.name ?? "frontend";
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: overrides.namespace ?? "web",
      uid: "6c1f2a38-0b7e-4f0e-9d5c-1a2b3c4d5e6f",
      generation: overrides.generation ?? 3,
      resourceVersion: overrides.resourceVersion ?? "1001",
      creationTimestamp: "2026-11-01T10:00:00Z",
      labels: overrides.labels ?? { app: name, team: "web" },
      annotations: { "deployment.kubernetes.io/revision": "3" },
    },
    spec: {
      replicas: overrides.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "web",
              image: overrides.image ?? "registry.example/frontend:1.4.0",
              ports: [{ containerPort: 8080, protocol: "TCP" }],
              resources: {},
            },
            { name: "sidecar", image: "registry.example/proxy:2.0", args: ["--port", "9090"] },
          ],
          restartPolicy: "Always",
        },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    },
    status: overrides.status ?? {
      observedGeneration: overrides.generation ?? 3,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    },
  };
}

export function configMap(
  data: Record<string, string>,
  overrides: { name?: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: overrides.name ?? "app-config",
      namespace: overrides.namespace ?? "web",
      uid: "0f3e1d2c-aaaa-bbbb-cccc-111122223333",
      resourceVersion: overrides.resourceVersion ?? "2001",
      creationTimestamp: "2026-11-01T10:00:00Z",
      ...(overrides.labels ? { labels: overrides.labels } : {}),
    },
    data,
  };
}

export function updateEvent(
  oldObject: KubeObject,
  object: KubeObject,
  gvr: { group: string; version: string; resource: string },
  time = "2026-11-24T12:00:00Z",
): ResourceEvent {
  return {
    context: { id: `evt-${Math.random().toString(36).slice(2)}`, source: "web", subject: "x", type: "resource", time },
    data: { type: "UPDATE", body: object, oldBody: oldObject, ...gvr },
  };
}

export function event(
  type: "ADD" | "DELETE",
  object: unknown,
  gvr: { group: string; version: string; resource: string },
  time = "2026-11-24T12:00:00Z",
): ResourceEvent {
  return {
    context: { id: `evt-${Math.random().toString(36).slice(2)}`, source: "web", subject: "x", type: "resource", time },
    data: { type, body: object as KubeObject, oldBody: null, ...gvr },
  };
}

export const DEPLOYMENTS = { group: "apps", version: "v1", resource: "deployments" };
export const CONFIGMAPS = { group: "", version: "v1", resource: "configmaps" };
