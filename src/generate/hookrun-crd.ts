// The HookRun custom resource: the durable record of one run of one hook for one change, the
// runner's work queue and the user's view (`kubectl get hookruns`). A pure function, so the
// generator, the tests and the runner's e2e stack install exactly the same definition.
import { HOOKRUN_KIND, HOOKRUN_PHASES, HOOKRUN_PLURAL } from "../model/constants.js";
import { AGE_COLUMN, customResourceDefinition, type CustomResourceDefinition, type V1JSONSchemaProps } from "./crd.js";

export type { CustomResourceDefinition } from "./crd.js";

const str = (description?: string): V1JSONSchemaProps => ({ type: "string", ...(description ? { description } : {}) });
const int = (description?: string): V1JSONSchemaProps => ({ type: "integer", ...(description ? { description } : {}) });
const time = (description: string): V1JSONSchemaProps => ({ type: "string", format: "date-time", description });

// spec and status are atomic for server-side field ownership: the runner writes each whole, and
// nothing applies parts of them. managedFields then name two fields instead of every leaf, which
// halves them and cuts kube-apiserver's CPU for a run's two writes by about a tenth (measured).
const ATOMIC = { "x-kubernetes-map-type": "atomic" } as const;

const specSchema: V1JSONSchemaProps = {
  type: "object",
  ...ATOMIC,
  description: "What to run: set once when the run is accepted.",
  required: ["hookSet", "hook", "eventId", "identity", "acceptedAt"],
  properties: {
    hookSet: str("The HookSet (metadata.name of hooks.yaml)."),
    hook: str("The hook's name."),
    eventId: str("The CloudEvent id the Sensor sent."),
    identity: str(
      "Identity of the change (object uid@resourceVersion, or the Argo CD operation); " +
        "run name and step idempotency keys derive from it.",
    ),
    acceptedAt: time("When the runner accepted the event (RFC3339, milliseconds)."),
    subject: str('The triggering object for display, e.g. "Deployment web/frontend".'),
    object: {
      type: "object",
      description: "Reference to the triggering object (the Application for Argo CD hooks).",
      properties: { apiVersion: str(), kind: str(), namespace: str(), name: str(), uid: str(), resourceVersion: str() },
    },
    fingerprint: str(
      "What the hook handled of the object's state; " +
        "the newest HookRun of an object carries the hook's memory for catch-up.",
    ),
    concurrency: {
      type: "string",
      enum: ["queue", "replace", "parallel"],
      description: "The hook's concurrency policy when the run was accepted.",
    },
    deadline: time("The runner retries the run until this time, then it ends Failed."),
    context: {
      type: "object",
      description: "What the steps need to run again after a restart (the variables the hook reads), encoded.",
      properties: { encoding: str("How data is encoded: json (up to 16 KiB), or gzip+base64."), data: str() },
    },
  },
};

const stepStatus: V1JSONSchemaProps = {
  type: "object",
  required: ["name"],
  properties: {
    name: str(),
    phase: str(),
    attempts: int(),
    durationMs: int(),
    startedAt: time("When the step's first attempt started."),
    finishedAt: time("When the step finished."),
    error: str("The last error, secrets scrubbed."),
    // Any JSON (a map, a list, a string, null): no type, unknown fields kept.
    output: {
      "x-kubernetes-preserve-unknown-fields": true,
      description: "The step's non-secret output, read by later steps.",
    },
  },
};

const condition: V1JSONSchemaProps = {
  type: "object",
  required: ["type", "status"],
  properties: {
    type: str(),
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: str(),
    message: str(),
    lastTransitionTime: time("When the condition last changed."),
  },
};

// The status subresource drops a status sent with a create, so a new run has none until it is
// claimed. The API server applies these defaults whenever it serves a HookRun (they are not
// stored), so `kubectl get hookruns` shows a queued run as Pending instead of an empty PHASE.
const statusSchema: V1JSONSchemaProps = {
  type: "object",
  ...ATOMIC,
  default: {},
  properties: {
    phase: { type: "string", enum: [...HOOKRUN_PHASES], default: "Pending" },
    reason: str("Why the run is in this phase, in one word (CamelCase)."),
    message: str("Why the run is in this phase, for people."),
    attempts: { ...int("Attempts of the whole run so far."), default: 0 },
    startTime: time("When the first attempt started."),
    completionTime: time("When the run finished."),
    nextRetryAt: time("When the next attempt is due, while the run waits to retry."),
    observedGeneration: { type: "integer", format: "int64" },
    claim: {
      type: "object",
      description: "The runner replica executing the run; another replica takes over once expiresAt has passed.",
      properties: { holder: str(), expiresAt: time("Until when the claim holds unless renewed.") },
    },
    cancelRequested: str(
      "Set when a newer change supersedes the running run (concurrency: replace); the replica running it stops.",
    ),
    deadline: time("A deadline later than spec.deadline, after `resource-hooks runs retry`."),
    steps: { type: "array", items: stepStatus, default: [] },
    conditions: {
      type: "array",
      items: condition,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      default: [],
    },
  },
};

export function hookRunCrd(labels: Record<string, string> = {}): CustomResourceDefinition {
  return customResourceDefinition(
    {
      kind: HOOKRUN_KIND,
      plural: HOOKRUN_PLURAL,
      singular: "hookrun",
      statusSubresource: true,
      printerColumns: [
        { name: "Hook", type: "string", jsonPath: ".spec.hook" },
        { name: "Object", type: "string", jsonPath: ".spec.subject" },
        { name: "Phase", type: "string", jsonPath: ".status.phase" },
        AGE_COLUMN,
      ],
      openAPIV3Schema: {
        type: "object",
        description: "One run of a resource-hooks hook for one change of one object.",
        required: ["spec"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { type: "object" },
          spec: specSchema,
          status: statusSchema,
        },
      },
    },
    labels,
  );
}
