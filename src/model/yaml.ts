// YAML for Kubernetes tools. kubectl, Helm and Argo CD read YAML 1.1 (sigs.k8s.io/yaml), where an
// unquoted on, off, yes, no, y or n is a boolean: a HookSet's `on:` key would reach the API server
// as `true`, a label value `yes` as a boolean. Every manifest resource-hooks writes is therefore
// written with the YAML 1.1 schema, which quotes such strings; any YAML 1.2 reader reads it the same.
import { stringify } from "yaml";

export function toKubernetesYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}
