// A resource trigger's selector that no object can ever match: a resource the built-in API
// groups do not serve (`resource: deployment`), a group that cannot exist (`group: app`), a name,
// namespace or label no Kubernetes object can carry (`name: My_App`, a label value "bad value!").
// The schema accepts any string there; the API server would refuse every such object, so the
// hook would never fire and nothing would say why.
import { distance } from "fastest-levenshtein";
import type { SpecPath, TriggerCheckContext } from "../kind.js";
import type { ResourceDocument, ResourceSelectorDocument } from "./types.js";
import { isDnsLabel, isDnsSubdomain } from "../../model/kube-names.js";

type Report = TriggerCheckContext["report"];

/**
 * The resources of the built-in groups whose list is short and stable: the core group ("") and
 * the groups without a dot (a CustomResourceDefinition's group always has one), plus
 * networking.k8s.io.
 */
const BUILT_IN: Readonly<Record<string, readonly string[]>> = {
  "": [
    "bindings",
    "componentstatuses",
    "configmaps",
    "endpoints",
    "events",
    "limitranges",
    "namespaces",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "podtemplates",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "serviceaccounts",
    "services",
  ],
  apps: ["controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"],
  autoscaling: ["horizontalpodautoscalers"],
  batch: ["cronjobs", "jobs"],
  policy: ["poddisruptionbudgets"],
  "networking.k8s.io": ["ingressclasses", "ingresses", "ipaddresses", "networkpolicies", "servicecidrs"],
};
const DOTLESS_GROUPS = Object.keys(BUILT_IN).filter((g) => g !== "" && !g.includes("."));

// The API server's rules (k8s.io/apimachinery/pkg/util/validation); names: model/kube-names.ts.
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_PREFIX = /^[a-z0-9][-a-z0-9.]*$/;

const SUBDOMAIN_WORDS =
  "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";
const NEVER = "no object can have it, so the hook would never fire";

const isLabelValue = (s: string) => s.length <= 63 && LABEL_VALUE.test(s);

function isLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return false;
  return name.length <= 63 && QUALIFIED_NAME.test(name);
}

/** RBAC objects (roles, bindings) are named by path segment rules: system:controller:x is fine. */
const RBAC_GROUP = "rbac.authorization.k8s.io";
const isPathSegmentName = (n: string) => n !== "." && n !== ".." && !/[/%]/.test(n);

/** The closest built-in resource to `resource`, when one is close enough to be what was meant. */
function closestResource(resource: string, group: string): { group: string; resource: string } | undefined {
  let best: { group: string; resource: string; d: number } | undefined;
  for (const [g, resources] of Object.entries(BUILT_IN)) {
    for (const r of resources) {
      // The group given wins a tie.
      const d = distance(resource.toLowerCase(), r) + (g === group ? 0 : 0.5);
      if (!best || d < best.d) best = { group: g, resource: r, d };
    }
  }
  return best && best.d <= Math.max(2, Math.floor(resource.length / 3)) ? best : undefined;
}

function checkGroup(selector: ResourceSelectorDocument, at: SpecPath, report: Report): boolean {
  const group = selector.group;
  if (group === undefined || group === "" || group in BUILT_IN) return true;
  if (group === "core" || group === "v1") {
    report([...at, "group"], `the core group (ConfigMap, Service …) has no name: write group: "" or leave it out`);
    return false;
  }
  if (!group.includes(".") && isDnsLabel(group)) {
    const guess = DOTLESS_GROUPS.map((g) => ({ g, d: distance(group, g) })).sort((a, b) => a.d - b.d)[0]!;
    const meant = guess.d <= 2 ? ` (did you mean "${guess.g}"?)` : "";
    report(
      [...at, "group"],
      `unknown API group ${JSON.stringify(group)}${meant}: the groups without a dot are built in ` +
        `(${DOTLESS_GROUPS.join(", ")}), and a CustomResourceDefinition's group has a dot`,
    );
    return false;
  }
  if (isDnsSubdomain(group)) return true;
  report([...at, "group"], `expected an API group (${SUBDOMAIN_WORDS}), got ${JSON.stringify(group)}`);
  return false;
}

function checkResourceName(selector: ResourceSelectorDocument, at: SpecPath, report: Report): void {
  const group = selector.group ?? "";
  const served = BUILT_IN[group];
  if (!served || served.includes(selector.resource)) return;
  const where = group === "" ? "the core group" : `group ${group}`;
  const guess = closestResource(selector.resource, group);
  let meant = "";
  if (guess?.group === group) meant = ` (did you mean "${guess.resource}"?)`;
  else if (guess) meant = ` (did you mean group: ${guess.group || '""'}, resource: ${guess.resource}?)`;
  // The list helps when there is no close guess.
  const list = meant ? "" : `; it serves ${served.join(", ")} (plural, lowercase)`;
  report([...at, "resource"], `${where} serves no resource ${JSON.stringify(selector.resource)}${meant}${list}`);
}

function checkNames(selector: ResourceSelectorDocument, at: SpecPath, report: Report): void {
  const rbac = selector.group === RBAC_GROUP;
  const name = selector.name;
  if (typeof name === "string" && !(rbac ? isPathSegmentName(name) : isDnsSubdomain(name))) {
    const words = rbac ? 'a name without "/" or "%"' : `a Kubernetes object name (${SUBDOMAIN_WORDS})`;
    report([...at, "name"], `expected ${words}, got ${JSON.stringify(name)}: ${NEVER}`);
  }
  const prefix = selector.namePrefix;
  if (typeof prefix === "string" && !rbac && !NAME_PREFIX.test(prefix))
    report(
      [...at, "namePrefix"],
      `expected the start of a Kubernetes object name (lowercase letters, digits, '-' and '.', ` +
        `starting with a letter or digit), got ${JSON.stringify(prefix)}: ${NEVER}`,
    );
  const namespace = selector.namespace;
  if (typeof namespace === "string" && namespace !== "" && !isDnsLabel(namespace))
    report(
      [...at, "namespace"],
      `expected a namespace name (lowercase letters, digits and '-', starting and ending with a letter or digit, ` +
        `at most 63 characters), got ${JSON.stringify(namespace)}: ${NEVER}`,
    );
}

function checkLabels(labels: Record<string, unknown>, at: SpecPath, report: Report): void {
  for (const [key, value] of Object.entries(labels)) {
    if (!isLabelKey(key))
      report(
        at,
        `expected a label key ([prefix/]name: the name letters, digits, '-', '_' and '.', starting and ending ` +
          `with a letter or digit, at most 63 characters), got ${JSON.stringify(key)}: ${NEVER}`,
        key,
      );
    if (typeof value === "string" && !isLabelValue(value))
      report(
        [...at, key],
        `expected a label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit, ` +
          `at most 63 characters, or empty), got ${JSON.stringify(value)}: ${NEVER}`,
      );
  }
}

/** Reports every part of `on.resource` no object can match, at that part. */
export function checkResourceSelector(on: ResourceDocument, ctx: TriggerCheckContext): void {
  const selector = on.resource;
  if (!selector || typeof selector.resource !== "string") return;
  const at = [...ctx.at, "resource"];
  // A group written into version: is reported as that (checks.ts, checkVersion); the group given
  // is then not the one meant.
  const groupInVersion = typeof selector.version === "string" && selector.version.includes("/");
  if (!groupInVersion && checkGroup(selector, at, ctx.report)) checkResourceName(selector, at, ctx.report);
  checkNames(selector, at, ctx.report);
  if (selector.labels && typeof selector.labels === "object")
    checkLabels(selector.labels, [...at, "labels"], ctx.report);
}
