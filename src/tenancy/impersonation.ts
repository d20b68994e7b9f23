// A HookSet resource's steps act as its ServiceAccount, not as the runner: the runner's
// credentials with `Impersonate-User: system:serviceaccount:<ns>:<sa>` on every request (as
// `kubectl --as`), so the API server authorizes each request as that ServiceAccount (and its
// groups system:serviceaccounts and system:serviceaccounts:<ns>, which the API server adds for an
// impersonated ServiceAccount). The runner's own identity needs only `impersonate` on that
// serviceaccount; what a step may do is what the tenant granted its ServiceAccount.
import type { KubeConfig } from "@kubernetes/client-node";

/** The ServiceAccount a HookSet resource names when it names none. */
export const DEFAULT_SERVICE_ACCOUNT = "default";

/** The user name the API server gives a ServiceAccount's token. */
export function serviceAccountUser(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/**
 * A copy of `base` whose requests impersonate the ServiceAccount, with its namespace as the
 * context's (the namespace a step's object defaults to). client-node sends `impersonateUser` as the
 * Impersonate-User header on every request it prepares (applyToHTTPSOptions), which is how the
 * REST transport (src/k8s/rest.ts) prepares each one.
 */
export async function impersonating(base: KubeConfig, namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const user = base.getCurrentUser();
  const cluster = base.getCurrentCluster();
  if (!user || !cluster) throw new Error("the runner's kubeconfig has no current user or cluster");
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ ...user, impersonateUser: serviceAccountUser(namespace, serviceAccount) }],
    contexts: [{ name: "impersonated", cluster: cluster.name, user: user.name, namespace }],
    currentContext: "impersonated",
  });
  return config;
}
