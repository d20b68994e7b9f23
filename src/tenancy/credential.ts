// Each HookSet resource's own credential: the bearer token its Sensor sends to the shared runner.
// It is an HMAC of the HookSet's namespace, name and uid under one key of the installation, so the
// runner verifies a request from the HookSet it routes to without reading any tenant's Secret,
// and a token taken from one HookSet's Secret starts no other HookSet's hooks (another name or
// uid gives another token). A HookSet deleted and created again gets a new uid, so a new token.
import { createHmac } from "node:crypto";
import { shortHash } from "../model/hash.js";

/** The installation's key: this many random bytes (HMAC-SHA256 keys gain nothing past 64). */
export const CREDENTIAL_KEY_BYTES = 32;
/** The Secret, in the installation's namespace, that holds the key (created once by the first replica). */
export const CREDENTIAL_KEY_SECRET = { name: "resource-hooks-credential-key", key: "key" } as const;
/** The key of the token in each HookSet's token Secret. */
export const TOKEN_SECRET_KEY = "token";

export interface HookSetIdentity {
  namespace: string;
  name: string;
  uid: string;
}

/** The Secret, in the HookSet's namespace and owned by it, that the HookSet's Sensor reads its token from. */
export function tokenSecretName(hookSetName: string): string {
  // Object names end at 253 characters; a long name is cut and keeps a hash of the whole.
  const readable =
    hookSetName.length <= 230 ? hookSetName : `${hookSetName.slice(0, 218)}-${shortHash(hookSetName, 11)}`;
  return `${readable}-hookset-token`;
}

/** The HookSet's bearer token: base64url of HMAC-SHA256(key, namespace/name/uid). */
export function hookSetToken(key: Uint8Array, hookSet: HookSetIdentity): string {
  if (key.length < 16) throw new Error(`the credential key has ${key.length} bytes; at least 16 are needed`);
  return createHmac("sha256", key).update(`${hookSet.namespace}/${hookSet.name}/${hookSet.uid}`).digest("base64url");
}
