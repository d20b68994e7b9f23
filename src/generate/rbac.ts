// Least-privilege RBAC: the event source may get/list/watch exactly the watched resources, the
// runner exactly what its steps, its Kubernetes Events and its run store need. A need limited to
// one namespace becomes a Role there; a need in any namespace becomes a ClusterRole.
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import type { PermissionNeed } from "../steps/types.js";

export type RbacObject = V1ServiceAccount | V1Role | V1RoleBinding | V1ClusterRole | V1ClusterRoleBinding;

const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete"];

function sortVerbs(verbs: Iterable<string>): string[] {
  return [...new Set(verbs)].sort((a, b) => {
    const ia = VERB_ORDER.indexOf(a);
    const ib = VERB_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
}

/** Merges needs into rules per namespace ("" = cluster-wide), one rule per (group, resource). */
export function mergeNeeds(needs: readonly PermissionNeed[]): Map<string, V1PolicyRule[]> {
  const byScope = new Map<string, Map<string, { group: string; resource: string; verbs: Set<string> }>>();
  for (const need of needs) {
    const scope = need.namespace ?? "";
    let rules = byScope.get(scope);
    if (!rules) byScope.set(scope, (rules = new Map()));
    const key = `${need.group}|${need.resource}`;
    let rule = rules.get(key);
    if (!rule) rules.set(key, (rule = { group: need.group, resource: need.resource, verbs: new Set() }));
    for (const verb of need.verbs) rule.verbs.add(verb);
  }
  // A verb granted cluster-wide needs no namespaced grant as well.
  const clusterWide = byScope.get("");
  if (clusterWide) {
    for (const [scope, rules] of byScope) {
      if (scope === "") continue;
      for (const [key, rule] of rules) {
        for (const verb of clusterWide.get(key)?.verbs ?? []) rule.verbs.delete(verb);
        if (rule.verbs.size === 0) rules.delete(key);
      }
      if (rules.size === 0) byScope.delete(scope);
    }
  }
  const out = new Map<string, V1PolicyRule[]>();
  for (const scope of [...byScope.keys()].sort()) {
    const rules = [...byScope.get(scope)!.values()]
      .sort((a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource))
      .map((r) => ({ apiGroups: [r.group], resources: [r.resource], verbs: sortVerbs(r.verbs) }));
    out.set(scope, rules);
  }
  return out;
}

/** A ServiceAccount with the Roles/ClusterRole (and bindings) that grant exactly `needs`. */
export function rbacFor(
  account: { name: string; namespace: string },
  needs: readonly PermissionNeed[],
  labels: Record<string, string>,
): RbacObject[] {
  const objects: RbacObject[] = [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: account.name, namespace: account.namespace, labels },
    },
  ];
  const subject = { kind: "ServiceAccount", name: account.name, namespace: account.namespace };
  for (const [scope, rules] of mergeNeeds(needs)) {
    if (scope === "") {
      const name = `${account.namespace}-${account.name}`;
      objects.push(
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name, labels }, rules },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name, labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
          subjects: [subject],
        },
      );
    } else {
      objects.push(
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: account.name, namespace: scope, labels },
          rules,
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: account.name, namespace: scope, labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: account.name },
          subjects: [subject],
        },
      );
    }
  }
  return objects;
}
