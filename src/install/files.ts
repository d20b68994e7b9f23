// The installation's files by path, as scripts/install-manifests.ts writes them and the unit test
// compares them: config/ (a kustomize base: `kubectl apply -k config/`) and the chart's crds/
// (Helm installs that folder before the templates and never templates it) and files/ (the RBAC
// rules its templates include).
import {
  DEFAULT_INSTALL,
  installClusterRules,
  installManifests,
  installNamespaceRules,
  type InstallObject,
} from "./manifests.js";
import { toKubernetesYaml } from "../model/yaml.js";

const HEADER = "# Generated from src/install/manifests.ts by scripts/install-manifests.ts; do not edit.\n";

function yamlOf(objects: InstallObject[]): string {
  return HEADER + objects.map((o) => toKubernetesYaml(o)).join("---\n");
}

export function installFiles(): Map<string, string> {
  const objects = installManifests(DEFAULT_INSTALL);
  const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
  const byKind = (...kinds: string[]) => objects.filter((o) => kinds.includes(String(o.kind)));
  const files = new Map<string, string>();
  const resources: string[] = [];
  const add = (path: string, list: InstallObject[]) => {
    files.set(`config/${path}`, yamlOf(list));
    resources.push(path);
  };
  for (const crd of crds) {
    const file = `${String(crd.metadata?.name)}.yaml`;
    add(`crds/${file}`, [crd]);
    files.set(`charts/resource-hooks/crds/${file}`, yamlOf([crd]));
  }
  add("namespace.yaml", byKind("Namespace"));
  add("rbac.yaml", byKind("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"));
  add("controller.yaml", byKind("Deployment", "Service", "PodDisruptionBudget"));
  const kustomization = { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources };
  files.set("config/kustomization.yaml", HEADER + toKubernetesYaml(kustomization));
  // The chart's RBAC templates include these, so the chart grants exactly what config/ grants.
  files.set("charts/resource-hooks/files/cluster-rules.yaml", HEADER + toKubernetesYaml(installClusterRules()));
  files.set("charts/resource-hooks/files/namespace-rules.yaml", HEADER + toKubernetesYaml(installNamespaceRules()));
  return files;
}
