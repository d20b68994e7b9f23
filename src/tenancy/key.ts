// The installation's credential key (credential.ts): read from its Secret in the installation's
// namespace, or created there by the first replica that finds none. Two replicas starting together
// may both try to create it: the API server accepts one create (409 for the other), and the loser
// reads the winner's key, so every replica verifies with the same key.
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { RestClient } from "../k8s/rest.js";
import { KubeApiError } from "../k8s/types.js";
import { MANAGED_BY } from "../model/constants.js";
import { CREDENTIAL_KEY_BYTES, CREDENTIAL_KEY_SECRET } from "./credential.js";

interface SecretObject {
  data?: Record<string, string>;
}

/** The key in the Secret CREDENTIAL_KEY_SECRET of `namespace`; created (CREDENTIAL_KEY_BYTES bytes) when none. */
export async function loadOrCreateCredentialKey(kubeConfig: KubeConfig, namespace: string): Promise<Buffer> {
  const rest = new RestClient(kubeConfig);
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const path = `${collection}/${encodeURIComponent(CREDENTIAL_KEY_SECRET.name)}`;
  const read = async (): Promise<Buffer | undefined> => {
    try {
      return keyOf(await rest.request<SecretObject>("GET", path), namespace);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  const found = await read();
  if (found) return found;
  const key = randomBytes(CREDENTIAL_KEY_BYTES);
  try {
    await rest.request("POST", collection, {
      body: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: CREDENTIAL_KEY_SECRET.name, namespace, labels: { ...MANAGED_BY } },
        type: "Opaque",
        data: { [CREDENTIAL_KEY_SECRET.key]: key.toString("base64") },
      },
    });
    return key;
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
  }
  // Another replica created it first: its key is the installation's.
  const winner = await read();
  if (!winner) throw new Error(`the Secret ${namespace}/${CREDENTIAL_KEY_SECRET.name} was created and is gone again`);
  return winner;
}

function keyOf(secret: SecretObject, namespace: string): Buffer {
  const encoded = secret.data?.[CREDENTIAL_KEY_SECRET.key];
  const key = encoded === undefined ? undefined : Buffer.from(encoded, "base64");
  // Never the key itself in a message: only where it is and what is wrong with it.
  if (!key || key.length < 16)
    throw new Error(
      `the Secret ${namespace}/${CREDENTIAL_KEY_SECRET.name} has no key ${JSON.stringify(CREDENTIAL_KEY_SECRET.key)} ` +
        "of at least 16 bytes: delete it, and the runner creates a new one (every HookSet token changes with it)",
    );
  return key;
}
