// The kubernetes step's configuration schema: part of schema/hooks.schema.json.
import { apiVersionSchema, kindSchema, templated } from "../common/schema.js";
import { waitConditionSchema, waitTimeoutSchema } from "../common/wait.js";
import type { JsonSchema } from "../../model/json-schema.js";

const metadataSchema: JsonSchema = {
  type: "object",
  description: "Object metadata. namespace: default is the runner's namespace for namespaced kinds.",
  additionalProperties: true,
  properties: {
    name: templated("Object name (required for apply, patch and delete)."),
    generateName: templated(
      "create only: name prefix; the name becomes the prefix plus a hash of the event's " +
        "idempotency key, so redeliveries create the object once.",
    ),
    namespace: templated("Namespace (namespaced kinds). A template means the runner needs access in every namespace."),
    labels: { type: "object", additionalProperties: { type: "string" }, description: "Labels (values templated)." },
    annotations: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "Annotations (values templated).",
    },
  },
};

const jsonPatchOperationSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["op", "path"],
  properties: {
    op: {
      type: "string",
      enum: ["add", "remove", "replace", "move", "copy", "test"],
      description: "RFC 6902 operation.",
    },
    path: {
      type: "string",
      description: "JSON pointer, e.g. /spec/replicas or /metadata/annotations/example.com~1key.",
    },
    value: { description: "Value for add, replace and test (templated)." },
    from: { type: "string", description: "Source JSON pointer for move and copy." },
  },
};

export const kubernetesSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["action", "manifest"],
  description: "Apply, create, patch or delete a Kubernetes object, and optionally wait for it.",
  properties: {
    action: {
      type: "string",
      enum: ["apply", "create", "patch", "delete"],
      description:
        "apply: server-side apply (field manager resource-hooks, force). create: create once per " +
        "event (generateName gets a deterministic suffix). patch: apply `patch` to an existing " +
        "object. delete: delete (already gone is success).",
    },
    manifest: {
      type: "object",
      additionalProperties: true,
      required: ["apiVersion", "kind", "metadata"],
      description:
        "The object (apply, create), or apiVersion, kind and metadata naming it (patch, delete). " +
        "String values are templated except apiVersion and kind.",
      properties: { apiVersion: apiVersionSchema, kind: kindSchema, metadata: metadataSchema },
    },
    patch: {
      description:
        "action: patch only. Exactly one of merge (RFC 7386 JSON merge patch), json (RFC 6902 JSON " +
        "patch) or strategic (Kubernetes strategic merge patch, built-in kinds only).",
      oneOf: [
        {
          type: "object",
          additionalProperties: false,
          required: ["merge"],
          properties: {
            merge: {
              type: "object",
              description: "JSON merge patch (application/merge-patch+json); null deletes a field. Templated.",
            },
          },
        },
        {
          type: "object",
          additionalProperties: false,
          required: ["json"],
          properties: {
            json: {
              type: "array",
              minItems: 1,
              items: jsonPatchOperationSchema,
              description: "JSON patch operations (application/json-patch+json). Templated.",
            },
          },
        },
        {
          type: "object",
          additionalProperties: false,
          required: ["strategic"],
          properties: {
            strategic: {
              type: "object",
              description: "Strategic merge patch (application/strategic-merge-patch+json). Templated.",
            },
          },
        },
      ],
    },
    propagationPolicy: {
      type: "string",
      enum: ["Background", "Foreground", "Orphan"],
      description: "action: delete only. How dependents are deleted (default Background, so a Job's Pods go too).",
    },
    wait: {
      type: "object",
      additionalProperties: false,
      required: ["for"],
      description: "Wait for the object after the action (for delete: only `deleted`).",
      properties: { for: waitConditionSchema, timeout: waitTimeoutSchema },
    },
  },
};
