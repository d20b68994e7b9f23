// The model's shared constants and defaults, in one place: the API group and kinds, the label
// keys every object we write carries, the runner's port and the defaults hooks.yaml leaves out.
// The HookSet model, the generator and the runner import them from here; nothing redefines one.
import { VERSION } from "../version.js";

export const API_GROUP = "resource-hooks.io";
export const API_VERSION_NAME = "v1alpha1";
/** The apiVersion of a HookSet and of a HookRun. */
export const API_VERSION = `${API_GROUP}/${API_VERSION_NAME}` as const;

/** HookSets as custom resources (the kind is hooks.yaml's, src/hookset/types.ts). */
export const HOOKSET_PLURAL = "hooksets";

export const HOOKRUN_GROUP = API_GROUP;
export const HOOKRUN_VERSION = API_VERSION_NAME;
export const HOOKRUN_KIND = "HookRun";
export const HOOKRUN_PLURAL = "hookruns";
export const HOOKRUN_API_VERSION = API_VERSION;
export const HOOKRUN_PHASES = ["Pending", "Running", "Succeeded", "Failed", "Skipped", "Superseded"] as const;
export type HookRunPhase = (typeof HOOKRUN_PHASES)[number];
/** What each hook last handled per object, in a few objects per watch (src/runner/memory). */
export const HOOKMEMORY_KIND = "HookMemory";
export const HOOKMEMORY_PLURAL = "hookmemories";
export const HOOKMEMORY_API_VERSION = API_VERSION;

/** The value of app.kubernetes.io/managed-by on everything resource-hooks writes. */
export const MANAGER = "resource-hooks";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_HOOKSET = `${API_GROUP}/hookset`;
/** With LABEL_HOOKSET, names the HookSet: two HookSets of one name in two namespaces stay apart. */
export const LABEL_HOOKSET_NAMESPACE = `${API_GROUP}/hookset-namespace`;
/**
 * On a HookRun of a HookSet resource: the HookSet's metadata.generation the run was accepted
 * under, whose hook definition it executes (a later edit applies to later events only).
 */
export const LABEL_HOOKSET_GENERATION = `${API_GROUP}/hookset-generation`;
export const LABEL_HOOK = `${API_GROUP}/hook`;
export const LABEL_OBJECT_UID = `${API_GROUP}/object-uid`;
/** Marks the one HookRun per hook that records when the runner first served it (not a run). */
export const LABEL_MARKER = `${API_GROUP}/marker`;
/** On the runner's pod template: a new config rolls the pods. */
export const ANNOTATION_CONFIG_HASH = `${API_GROUP}/config-hash`;
/** The labels of every object resource-hooks writes. */
export const MANAGED_BY = { [LABEL_MANAGED_BY]: MANAGER } as const;

/** The port the runner listens on in its pod and its Service's default port. */
export const RUNNER_PORT = 8080;
export const DEFAULT_NAMESPACE = "argo-events";
/** The image a release of this version publishes (.github/workflows/release.yml). */
export const DEFAULT_RUNNER_IMAGE = `ghcr.io/resource-hooks/resource-hooks:${VERSION}`;
/** The Secret and key with the bearer token the Sensors send and the runner checks. */
export const DEFAULT_TOKEN_SECRET = { name: "resource-hooks-token", key: "token" } as const;

export const DEFAULT_DEADLINE_MS = 60 * 60_000;
export const MAX_DEADLINE_MS = 7 * 24 * 60 * 60_000;
export const DEFAULT_RETENTION_TTL_MS = 7 * 24 * 60 * 60_000;
export const DEFAULT_KEEP_PER_HOOK = 100;
