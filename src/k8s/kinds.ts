// Kind -> resource names without a cluster at hand. At run time the kubernetes client asks the
// API server's discovery documents; this guess is for the places that cannot (permissions() while
// generating the runner's RBAC, and a fallback when discovery is unavailable).
//
// The rule is the one of client-go's meta.UnsafeGuessKindToResource, re-implemented here:
//   lowercase the kind; kinds ending in "endpoints" stay as they are; a trailing "s" gets "es";
//   a trailing "y" becomes "ies" (with no check of the letter before it, so the guess for
//   "Gateway" is "gatewaies"); anything else gets "s".
// IRREGULAR_RESOURCES corrects the guess where well-known APIs chose differently.

export interface GroupVersion {
  /** "" for the core group ("v1"). */
  group: string;
  version: string;
}

/** Splits an apiVersion: "apps/v1" -> {group: "apps", version: "v1"}, "v1" -> {group: "", version: "v1"}. */
export function splitApiVersion(apiVersion: string): GroupVersion {
  const slash = apiVersion.indexOf("/");
  if (slash < 0) return { group: "", version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/**
 * The REST path of a resource's collection in `namespace` (none: every namespace, or a
 * cluster-scoped resource), or of the object `name` in it.
 */
export function resourcePath(
  gvr: GroupVersion & { resource: string },
  namespace: string | undefined,
  name?: string,
): string {
  const base = gvr.group ? `/apis/${gvr.group}/${gvr.version}` : `/api/${gvr.version}`;
  const inNamespace = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${inNamespace}/${gvr.resource}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

const UNPLURALIZED_SUFFIXES = ["endpoints"];

/** client-go's UnsafeGuessKindToResource: the plural resource name guessed from a kind. */
export function unsafeGuessKindToResource(kind: string): string {
  if (kind.length === 0) return "";
  const singular = kind.toLowerCase();
  if (UNPLURALIZED_SUFFIXES.some((suffix) => singular.endsWith(suffix))) return singular;
  if (singular.endsWith("s")) return `${singular}es`;
  if (singular.endsWith("y")) return `${singular.slice(0, -1)}ies`;
  return `${singular}s`;
}

/**
 * Resources whose plural is not the guess, keyed "<group>/<Kind>" (core group: "/<Kind>").
 * Only the API servers' discovery is authoritative; these are the widely used exceptions.
 */
export const IRREGULAR_RESOURCES: Readonly<Record<string, string>> = {
  // Gateway API and Istio: "y" after a vowel.
  "gateway.networking.k8s.io/Gateway": "gateways",
  "networking.istio.io/Gateway": "gateways",
  // metrics-server: the kinds are named after what they measure.
  "metrics.k8s.io/PodMetrics": "pods",
  "metrics.k8s.io/NodeMetrics": "nodes",
};

/** The plural resource for a kind in a group: the irregulars table, else the client-go guess. */
export function kindToResource(group: string, kind: string): string {
  return IRREGULAR_RESOURCES[`${group}/${kind}`] ?? unsafeGuessKindToResource(kind);
}

/**
 * Built-in kinds that are cluster-scoped (keyed "<group>/<Kind>"). Used where discovery cannot be
 * asked: a namespace given for one of these is ignored, as the API server ignores it.
 */
const CLUSTER_SCOPED = new Set([
  "/Namespace",
  "/Node",
  "/PersistentVolume",
  "/ComponentStatus",
  "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/ClusterRoleBinding",
  "apiextensions.k8s.io/CustomResourceDefinition",
  "apiregistration.k8s.io/APIService",
  "admissionregistration.k8s.io/MutatingWebhookConfiguration",
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
  "storage.k8s.io/StorageClass",
  "storage.k8s.io/CSIDriver",
  "storage.k8s.io/CSINode",
  "storage.k8s.io/VolumeAttachment",
  "scheduling.k8s.io/PriorityClass",
  "node.k8s.io/RuntimeClass",
  "networking.k8s.io/IngressClass",
  "certificates.k8s.io/CertificateSigningRequest",
  "flowcontrol.apiserver.k8s.io/FlowSchema",
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
]);

/** True for built-in cluster-scoped kinds; false means "namespaced or unknown". */
export function isKnownClusterScoped(group: string, kind: string): boolean {
  return CLUSTER_SCOPED.has(`${group}/${kind}`);
}
