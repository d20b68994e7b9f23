// The installation's credential key (credential.ts): read from its Secret in the installation's
// namespace, or made by the first replica that finds none. Two replicas starting together both
// try to create it; the API server lets one win (409 AlreadyExists for the other), and the loser
// reads the winner's key, so every replica signs and verifies with the same one.
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { RestClient } from "../k8s/rest.js";
import { KubeApiError } from "../k8s/types.js";
import { MANAGED_BY } from "../model/constants.js";
import { CREDENTIAL_KEY_BYTES, CREDENTIAL_KEY_SECRET } from "./credential.js";

interface SecretObject {
  data?: Record<string, string>;
}

const secretsPath = (namespace: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;

function keyOf(secret: SecretObject, namespace: string): Uint8Array {
  const encoded = secret.data?.[CREDENTIAL_KEY_SECRET.key];
  const key = encoded === undefined ? undefined : Buffer.from(encoded, "base64");
  if (!key || key.length < 16)
    throw new Error(
      `Secret ${namespace}/${CREDENTIAL_KEY_SECRET.name} has no usable "${CREDENTIAL_KEY_SECRET.key}" ` +
        `(expected at least 16 bytes; delete the Secret to have a new key made)`,
    );
  return key;
}

async function read(rest: Pick<RestClient, "request">, namespace: string): Promise<SecretObject | undefined> {
  try {
    return await rest.request<SecretObject>("GET", `${secretsPath(namespace)}/${CREDENTIAL_KEY_SECRET.name}`);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

export async function loadOrCreateCredentialKey(kubeConfig: KubeConfig, namespace: string): Promise<Uint8Array> {
  return await credentialKeyThrough(new RestClient(kubeConfig), namespace);
}

/** loadOrCreateCredentialKey over a given transport (tests give one that plays the API server). */
export async function credentialKeyThrough(rest: Pick<RestClient, "request">, namespace: string): Promise<Uint8Array> {
  const existing = await read(rest, namespace);
  if (existing) return keyOf(existing, namespace);
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: CREDENTIAL_KEY_SECRET.name, namespace, labels: { ...MANAGED_BY } },
    type: "Opaque",
    data: { [CREDENTIAL_KEY_SECRET.key]: randomBytes(CREDENTIAL_KEY_BYTES).toString("base64") },
  };
  try {
    return keyOf(await rest.request<SecretObject>("POST", secretsPath(namespace), { body: secret }), namespace);
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
    // Another replica created it first: use its key.
    const winner = await read(rest, namespace);
    if (!winner) throw err;
    return keyOf(winner, namespace);
  }
}
