// Exactly what `resource-hooks controller` does with the API, as RBAC rules: a pure function so
// the install manifests (kustomize base, Helm chart) and the e2e test grant the same. Anything the
// controller does not call is not here; it never reads tenant Secrets (it only applies its own
// token Secrets) and never grants a tenant anything (it only asks, with SubjectAccessReviews).
import type { V1PolicyRule } from "@kubernetes/client-node";
import { API_GROUP, HOOKSET_PLURAL } from "../model/constants.js";
import { CREDENTIAL_KEY_SECRET } from "../tenancy/credential.js";

export interface ControllerRules {
  /** In every namespace it serves (a ClusterRole). */
  cluster: V1PolicyRule[];
  /** In the installation's own namespace (a Role there). */
  installation: V1PolicyRule[];
}

export function controllerRules(): ControllerRules {
  return {
    cluster: [
      // list+watch of HookSets; status through its subresource.
      { apiGroups: [API_GROUP], resources: [HOOKSET_PLURAL], verbs: ["get", "list", "watch"] },
      { apiGroups: [API_GROUP], resources: [`${HOOKSET_PLURAL}/status`], verbs: ["get", "patch", "update"] },
      // blockOwnerDeletion on an owner reference needs update of the owner's finalizers
      // (admission plugin OwnerReferencesPermissionEnforcement).
      { apiGroups: [API_GROUP], resources: [`${HOOKSET_PLURAL}/finalizers`], verbs: ["update"] },
      // Server-side apply (patch; create when absent), list+watch for their status, delete of obsolete ones.
      {
        apiGroups: ["argoproj.io"],
        resources: ["eventsources", "sensors"],
        verbs: ["get", "list", "watch", "create", "patch", "delete"],
      },
      // Does the HookSet's namespace have its EventBus? Watched, so a new one readies its HookSets.
      { apiGroups: ["argoproj.io"], resources: ["eventbus"], verbs: ["get", "list", "watch"] },
      // Only the HookSets' token Secrets, created once (the token is a function of the HookSet's
      // uid): never get, list, patch or update a tenant's Secret.
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      // May the HookSet's ServiceAccount watch what it watches?
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
    ],
    installation: [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
      // The credential key: made once by the first replica (the cluster-wide create above), read by every one.
      { apiGroups: [""], resources: ["secrets"], resourceNames: [CREDENTIAL_KEY_SECRET.name], verbs: ["get"] },
    ],
  };
}
