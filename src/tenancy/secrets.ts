// How a HookSet resource's steps read their secretKeyRefs: from the Secret in the HookSet's
// namespace, through the API as the HookSet's ServiceAccount (impersonation.ts), never from files
// mounted into the shared runner nor from its environment (which holds the runner's own
// configuration, not a tenant's). A ServiceAccount that may not get the Secret gets Forbidden.
import type { KubeConfig } from "@kubernetes/client-node";
import { RestClient } from "../k8s/rest.js";
import { KubeApiError } from "../k8s/types.js";
import { StepFailure, type SecretSource } from "../steps/types.js";

interface SecretObject {
  data?: Record<string, string>;
}

/** Reads `secretKeyRef`s of `namespace` with `kubeConfig` (the ServiceAccount's); an `env` source is refused. */
export function apiSecretReader(
  kubeConfig: KubeConfig,
  namespace: string,
  serviceAccount: string,
): (source: SecretSource) => Promise<string> {
  const rest = new RestClient(kubeConfig);
  return async (source) => {
    if ("env" in source)
      throw new StepFailure(
        `env ${source.env}: a HookSet resource's steps read secrets from Secrets of their namespace (secretKeyRef), ` +
          "not from the runner's environment",
        { retryable: false },
      );
    const { name, key } = source.secretKeyRef;
    const where = `secret ${namespace}/${name}`;
    let secret: SecretObject;
    try {
      secret = await rest.request<SecretObject>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      );
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      if (err.status === 403)
        throw new StepFailure(
          `Forbidden: serviceaccount ${namespace}/${serviceAccount} cannot get ${where}: ${err.message}`,
          { retryable: false },
        );
      if (err.status === 404) throw new StepFailure(`${where} does not exist`, { retryable: false });
      // No answer, 429, 5xx: the API server may answer the next attempt.
      throw new StepFailure(`reading ${where}: ${err.message}`, {
        retryable: err.status === 0 || err.status === 429 || err.status >= 500,
      });
    }
    const encoded = secret.data?.[key];
    if (encoded === undefined)
      throw new StepFailure(`${where} has no key ${JSON.stringify(key)}`, { retryable: false });
    return Buffer.from(encoded, "base64").toString("utf8");
  };
}
