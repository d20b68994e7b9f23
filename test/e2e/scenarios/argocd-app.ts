// The Git repository content of the Argo CD scenarios (e2e tests and the fixture recorder): the
// frontend Deployment whose image commits change, and a settings ConfigMap, optionally in a sync
// wave or with sync options.
export function frontendYaml(image: string, extra: { wave?: number; syncOptions?: string } = {}): string {
  const ann: string[] = [];
  if (extra.wave !== undefined) ann.push(`    argocd.argoproj.io/sync-wave: "${extra.wave}"`);
  if (extra.syncOptions) ann.push(`    argocd.argoproj.io/sync-options: ${extra.syncOptions}`);
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
${ann.length ? `  annotations:\n${ann.join("\n")}\n` : ""}spec:
  replicas: 2
  selector:
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

