// The HookSet custom resource: hooks.yaml as a Kubernetes object, so a HookSet can be applied with
// kubectl beside the Deployment it follows. Its spec schema is derived from the JSON Schema that
// validates hooks.yaml (hookSetSchema), never written a second time. A pure function, like
// hookRunCrd, so the generator, the tests and the e2e stack install exactly the same definition.
import { hookSetSchema } from "../hookset/schema.js";
import { HOOKSET_PLURAL } from "../model/constants.js";
import { KIND } from "../hookset/types.js";
import { AGE_COLUMN, customResourceDefinition, type CustomResourceDefinition, type V1JSONSchemaProps } from "./crd.js";
import { toStructural } from "./structural-schema.js";

const time = (description: string): V1JSONSchemaProps => ({ type: "string", format: "date-time", description });
const count = (description: string): V1JSONSchemaProps => ({ type: "integer", minimum: 0, description });

// The shape of metav1.Condition, the convention every controller's status.conditions follows
// (kubectl wait --for=condition=Ready and Argo CD's health checks read it).
const condition: V1JSONSchemaProps = {
  type: "object",
  required: ["type", "status", "lastTransitionTime", "reason", "message"],
  properties: {
    type: {
      type: "string",
      maxLength: 316,
      // A qualified name, optionally prefixed by a DNS subdomain (example.com/MyCondition).
      pattern:
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?" +
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
      description: "Accepted (the spec passed every check) or Ready (its EventSource and Sensor are accepted).",
    },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    observedGeneration: { type: "integer", format: "int64", minimum: 0 },
    lastTransitionTime: time("When the condition last changed status."),
    reason: {
      type: "string",
      minLength: 1,
      maxLength: 1024,
      pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
      description: "Why, in one word (CamelCase).",
    },
    message: {
      type: "string",
      maxLength: 32768,
      description: "Why, for people: for Accepted=False the field path and what was expected.",
    },
  },
};

const statusSchema: V1JSONSchemaProps = {
  type: "object",
  properties: {
    observedGeneration: {
      type: "integer",
      format: "int64",
      description: "The metadata.generation the controller last acted on.",
    },
    hooks: count("How many hooks the HookSet has."),
    watches: count("How many watches its EventSource has (hooks on one resource share one)."),
    lastRunTime: time("When a hook of this HookSet last started a run."),
    conditions: {
      type: "array",
      items: condition,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    },
  },
};

/**
 * kubectl, Argo CD and Helm read YAML 1.1 (sigs.k8s.io/yaml), where a bare `on:` key is the
 * boolean true: the hook arrives with a key "true" and no `on`. The CRD declares that key so the
 * API server runs the rule below and says what to write, instead of strict field validation's
 * `unknown field "spec.hooks[0].true"`. CEL escapes a property named like a reserved word as
 * __true__.
 */
export const BARE_ON_MESSAGE =
  'write the key "on" quoted ("on":): kubectl, Argo CD and Helm read YAML 1.1, where a bare on: is the boolean true';

const bareOnKey: V1JSONSchemaProps = {
  type: "object",
  "x-kubernetes-preserve-unknown-fields": true,
  description: `Not a field: what a bare on: becomes in YAML 1.1. ${BARE_ON_MESSAGE}.`,
};

/** The `spec` of hooks.yaml's schema, as the structural schema of the HookSet CRD's spec. */
export function hookSetSpecSchema(): V1JSONSchemaProps {
  const spec = (hookSetSchema().properties as Record<string, V1JSONSchemaProps>).spec!;
  const structural = toStructural(spec, "spec");
  const specProperties = structural.properties as Record<string, V1JSONSchemaProps>;
  const hook = specProperties.hooks!.items as V1JSONSchemaProps;
  hook.properties = { ...(hook.properties as object), true: bareOnKey };
  // The API server checks CEL rules only when the object passed every other check: `on` stays
  // required, but by a rule, so a missing `on` does not hide why it is missing.
  hook.required = (hook.required as string[]).filter((field) => field !== "on");
  hook["x-kubernetes-validations"] = [
    ...((hook["x-kubernetes-validations"] as object[] | undefined) ?? []),
    { rule: "!has(self.__true__)", message: BARE_ON_MESSAGE, fieldPath: ".true" },
    {
      rule: "has(self.on) || has(self.__true__)",
      message: "Required value",
      fieldPath: ".on",
      reason: "FieldValueRequired",
    },
  ];
  return structural;
}

export function hookSetCrd(labels: Record<string, string> = {}): CustomResourceDefinition {
  return customResourceDefinition(
    {
      kind: KIND,
      plural: HOOKSET_PLURAL,
      singular: "hookset",
      shortNames: ["hs"],
      statusSubresource: true,
      printerColumns: [
        { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        { name: "Hooks", type: "integer", jsonPath: ".status.hooks" },
        { name: "Watches", type: "integer", jsonPath: ".status.watches" },
        { name: "Last Run", type: "date", jsonPath: ".status.lastRunTime" },
        AGE_COLUMN,
      ],
      openAPIV3Schema: {
        type: "object",
        description:
          "Hooks that run steps after a Kubernetes resource (or one of its fields) changed: " +
          "hooks.yaml as a Kubernetes object.",
        required: ["spec"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { type: "object" },
          spec: hookSetSpecSchema(),
          status: statusSchema,
        },
      },
    },
    labels,
  );
}
