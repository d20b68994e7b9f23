// The installation: what `kubectl apply -k config/` and the Helm chart (charts/resource-hooks)
// create once per cluster, so that teams then only `kubectl apply` HookSets. A pure function of a
// few settings, like generate(): scripts/install-manifests.ts writes config/ and the chart's CRDs
// from it, and a test keeps the chart's templates rendering the same objects.
//
// One Deployment (2 replicas) is both the controller (one replica leads, by a Lease) and the
// runner of every HookSet (every replica serves runs). Its ClusterRole holds only what that needs;
// what a HookSet does in a team's namespace it does as the team's own ServiceAccount
// (impersonation), so nothing here grants access to the teams' resources or Secrets.
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Deployment,
  V1Namespace,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import { hookMemoryCrd } from "../generate/hookmemory-crd.js";
import { hookRunCrd } from "../generate/hookrun-crd.js";
import { hookSetCrd } from "../generate/hookset-crd.js";
import type { CustomResourceDefinition } from "../generate/crd.js";
import {
  API_GROUP,
  DEFAULT_RUNNER_IMAGE,
  HOOKMEMORY_PLURAL,
  HOOKRUN_PLURAL,
  MANAGED_BY,
  RUNNER_PORT,
} from "../model/constants.js";
import { controllerRules } from "../generate/controller-rbac.js";
import { RUNNER_CONTAINER_SECURITY, RUNNER_POD_SECURITY, runnerContainerBasics } from "../generate/runner.js";

export const INSTALL_NAME = "resource-hooks";
export const DEFAULT_INSTALL_NAMESPACE = "resource-hooks-system";

export interface InstallSettings {
  namespace: string;
  image: string;
  replicas: number;
}

export const DEFAULT_INSTALL: InstallSettings = {
  namespace: DEFAULT_INSTALL_NAMESPACE,
  image: DEFAULT_RUNNER_IMAGE,
  replicas: 2,
};

export type InstallObject =
  | CustomResourceDefinition
  | V1Namespace
  | V1ServiceAccount
  | V1ClusterRole
  | V1ClusterRoleBinding
  | V1Role
  | V1RoleBinding
  | V1Deployment
  | V1Service
  | V1PodDisruptionBudget;

const rule = (apiGroup: string, resources: string[], verbs: string[]): V1PolicyRule => ({
  apiGroups: [apiGroup],
  resources,
  verbs,
});

/** The shared runner's own needs in every namespace it serves (docs/runner.md). */
export function runnerClusterRules(): V1PolicyRule[] {
  return [
    // Runs and the hooks' memory live in each HookSet's namespace.
    rule(API_GROUP, [HOOKRUN_PLURAL], ["get", "list", "watch", "create", "update", "patch", "delete"]),
    rule(API_GROUP, [`${HOOKRUN_PLURAL}/status`], ["get", "patch", "update"]),
    rule(API_GROUP, [HOOKMEMORY_PLURAL], ["get", "list", "watch", "create", "patch"]),
    // A HookSet's steps and its secretKeyRefs run as its own ServiceAccount.
    rule("", ["serviceaccounts"], ["impersonate"]),
    rule("", ["events"], ["create", "patch"]),
  ];
}

/** Cluster-wide: the controller's rules (src/generate/controller-rbac.ts) and the runner's. */
export function installClusterRules(): V1PolicyRule[] {
  return [...controllerRules().cluster, ...runnerClusterRules()];
}

/** In the installation's namespace: the leader's Lease and the key of the HookSets' credentials. */
export function installNamespaceRules(): V1PolicyRule[] {
  return controllerRules().installation;
}

export function installManifests(settings: InstallSettings = DEFAULT_INSTALL): InstallObject[] {
  const { namespace } = settings;
  const name = INSTALL_NAME;
  const selector = { "app.kubernetes.io/name": name, "app.kubernetes.io/component": "controller" };
  const labels = { ...MANAGED_BY, ...selector };
  const meta = { name, namespace, labels };
  const subjects = [{ kind: "ServiceAccount", name, namespace }];
  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta,
    spec: {
      replicas: settings.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          securityContext: RUNNER_POD_SECURITY,
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: "controller",
              image: settings.image,
              imagePullPolicy: "IfNotPresent",
              // $(POD_NAMESPACE) is expanded by the kubelet: the URL follows the namespace an
              // overlay or `helm install -n` puts the Service in.
              args: [
                "controller",
                "--runner-url",
                `http://${name}.$(POD_NAMESPACE).svc:${RUNNER_PORT}`,
                "--port",
                String(RUNNER_PORT),
              ],
              ...runnerContainerBasics(),
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "768Mi" } },
              securityContext: RUNNER_CONTAINER_SECURITY,
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
  return [
    hookSetCrd(MANAGED_BY),
    hookRunCrd(MANAGED_BY),
    hookMemoryCrd(MANAGED_BY),
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: { ...MANAGED_BY } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name, labels },
      rules: installClusterRules(),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects,
    },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta, rules: installNamespaceRules() },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects,
    },
    deployment,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta,
      spec: { selector, ports: [{ name: "http", port: RUNNER_PORT, targetPort: "http" }] },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: meta,
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    },
  ];
}
