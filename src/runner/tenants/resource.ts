// A HookSet custom resource as the runner serves it: its identity (namespace, name, uid: what its
// token is made of), its generation (what a run records it was accepted under), the ServiceAccount
// its steps act as, and the HookSet model parsed from its spec by the controller's parser, or the
// reason it cannot be served.
import { HookSetResourceError, parseHookSetResource } from "../../hookset/resource.js";
import { API_VERSION, KIND, type HookSet } from "../../hookset/types.js";
import type { HookSetIdentity } from "../../tenancy/credential.js";
import { DEFAULT_SERVICE_ACCOUNT } from "../../tenancy/impersonation.js";

/** What the runner reads of a HookSet resource (the API server's object). */
export interface HookSetResource {
  metadata: { namespace?: string; name?: string; uid?: string; generation?: number };
  spec?: Record<string, unknown>;
}

export interface ServedDefinition {
  identity: HookSetIdentity;
  generation: number;
  serviceAccountName: string;
  /** The model, or why the resource cannot be served (as `validate` says it, without file positions). */
  parsed: { hookSet: HookSet } | { problem: string };
}

/** Undefined for an object without namespace, name or uid (never from the API server). */
export function servedDefinition(resource: HookSetResource): ServedDefinition | undefined {
  const { namespace, name, uid, generation } = resource.metadata;
  if (!namespace || !name || !uid) return undefined;
  const spec = resource.spec ?? {};
  const { serviceAccountName } = spec;
  return {
    identity: { namespace, name, uid },
    generation: generation ?? 1,
    serviceAccountName:
      typeof serviceAccountName === "string" && serviceAccountName ? serviceAccountName : DEFAULT_SERVICE_ACCOUNT,
    parsed: parse(namespace, name, spec),
  };
}

/** With the controller's parser (one copy of the checks): the same problems its Accepted condition says. */
function parse(namespace: string, name: string, spec: Record<string, unknown>): ServedDefinition["parsed"] {
  const object = { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, spec };
  try {
    return { hookSet: parseHookSetResource(object) };
  } catch (err) {
    if (!(err instanceof HookSetResourceError)) return { problem: (err as Error).message };
    return { problem: err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ") };
  }
}
