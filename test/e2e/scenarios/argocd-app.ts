// The Git repository content of the Argo CD scenarios (e2e tests and the fixture recorder): the
// frontend Deployment whose image commits change, a settings ConfigMap (optionally in a sync wave
// or with sync options), a StatefulSet and a PostSync Job for multi-step syncs, and a Widget whose
// CRD is missing for a sync that fails first.
export function frontendYaml(
  image: string,
  extra: { wave?: number; syncOptions?: string; minReadySeconds?: number } = {},
): string {
  const ann: string[] = [];
  if (extra.wave !== undefined) ann.push(`    argocd.argoproj.io/sync-wave: "${extra.wave}"`);
  if (extra.syncOptions) ann.push(`    argocd.argoproj.io/sync-options: ${extra.syncOptions}`);
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
${ann.length ? `  annotations:\n${ann.join("\n")}\n` : ""}spec:
  replicas: 2
${extra.minReadySeconds !== undefined ? `  minReadySeconds: ${extra.minReadySeconds}\n` : ""}  selector:
    matchLabels:
      app: frontend
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: frontend
          image: ${image}
`;
}

export const settingsYaml = (color: string, wave?: number): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
${wave !== undefined ? `  annotations:\n    argocd.argoproj.io/sync-wave: "${wave}"\n` : ""}data:
  color: ${color}
`;

/** StatefulSet db (with its headless Service) in a sync wave. */
export const dbYaml = (image: string, wave: number): string => `apiVersion: v1
kind: Service
metadata:
  name: db
  annotations:
    argocd.argoproj.io/sync-wave: "${wave}"
spec:
  clusterIP: None
  selector:
    app: db
  ports:
    - port: 5432
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  annotations:
    argocd.argoproj.io/sync-wave: "${wave}"
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
        - name: db
          image: ${image}
`;

/** A PostSync Job hook. */
export const postSyncJobYaml = (name: string): string => `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations:
    argocd.argoproj.io/hook: PostSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: registry.invalid/smoke:1
`;

/** A CRD the Application's project may create, and a Widget that needs it (a sync that fails until the CRD exists). */
export const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.e2e.resource-hooks.io" },
  spec: {
    group: "e2e.resource-hooks.io",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};

export const WIDGET_YAML = `apiVersion: e2e.resource-hooks.io/v1
kind: Widget
metadata:
  name: gadget
  annotations:
    argocd.argoproj.io/sync-wave: "1"
    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
spec:
  size: 1
`;
