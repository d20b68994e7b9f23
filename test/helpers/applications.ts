// Argo CD Application objects as the application controller writes them over a sync.
import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";

type SyncResult = NonNullable<NonNullable<NonNullable<IApplication["status"]>["operationState"]>["syncResult"]>;
type ResourceResult = NonNullable<SyncResult["resources"]>[number];

export const REVISION = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
export const STARTED = "2026-11-24T12:00:00Z";
export const FINISHED = "2026-11-24T12:00:09Z";

export function resourceResult(
  kind: string,
  name: string,
  message: string,
  extra: Partial<ResourceResult> = {},
): ResourceResult {
  const group = kind === "Deployment" ? "apps" : kind === "Job" ? "batch" : "";
  return {
    group,
    version: "v1",
    kind,
    namespace: "web",
    name,
    status: "Synced",
    message,
    syncPhase: "Sync",
    hookPhase: "Succeeded",
    ...extra,
  };
}

export interface AppState {
  phase?: "Running" | "Succeeded" | "Failed" | "Error";
  results?: ResourceResult[];
  health?: string;
  startedAt?: string;
  finishedAt?: string;
  revisions?: string[];
  syncedRevision?: string;
  name?: string;
  labels?: Record<string, string>;
}

export function application(state: AppState = {}): IApplication {
  const phase = state.phase ?? "Succeeded";
  const finished = phase === "Running" ? undefined : (state.finishedAt ?? FINISHED);
  const multi = state.revisions !== undefined;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: {
      name: state.name ?? "web",
      namespace: "argocd",
      uid: "9a8b7c6d-1111-2222-3333-444455556666",
      ...(state.labels ? { labels: state.labels } : {}),
    },
    spec: multi
      ? {
          project: "default",
          sources: [
            { repoURL: "https://git.example/web.git", path: "deploy", targetRevision: "main" },
            { repoURL: "https://git.example/config.git", path: ".", targetRevision: "main" },
          ],
          destination: { server: "https://kubernetes.default.svc", namespace: "web" },
        }
      : {
          project: "default",
          source: { repoURL: "https://git.example/web.git", path: "deploy", targetRevision: "main" },
          destination: { server: "https://kubernetes.default.svc", namespace: "web" },
        },
    status: {
      health: { status: state.health ?? "Progressing" },
      sync: multi
        ? { status: "Synced", revisions: state.revisions }
        : { status: "Synced", revision: state.syncedRevision ?? REVISION },
      operationState: {
        operation: {
          sync: multi ? { revisions: state.revisions } : { revision: REVISION },
          initiatedBy: { automated: true },
        },
        phase,
        message:
          phase === "Succeeded"
            ? "successfully synced (all tasks run)"
            : phase === "Running"
              ? "waiting for completion"
              : "one or more objects failed to apply",
        startedAt: state.startedAt ?? STARTED,
        ...(finished ? { finishedAt: finished } : {}),
        ...(phase === "Running"
          ? {}
          : {
              syncResult: {
                ...(multi ? { revisions: state.revisions!, revision: "" } : { revision: REVISION }),
                resources: state.results ?? [],
              },
            }),
      },
    },
  } as IApplication;
}

export const APPLICATIONS = { group: "argoproj.io", version: "v1alpha1", resource: "applications" };

export function appUpdate(
  before: IApplication,
  after: IApplication,
  id = `evt-${Math.random().toString(36).slice(2)}`,
): ResourceEvent {
  return {
    context: { id, source: "web", subject: "applications-argocd", type: "resource", time: FINISHED },
    data: {
      type: "UPDATE",
      body: after as unknown as KubeObject,
      oldBody: before as unknown as KubeObject,
      ...APPLICATIONS,
    },
  };
}
