// JSON Schema pieces shared by the step types' schemas.
import { DURATION_PATTERN } from "../../hookset/duration.js";
import type { JsonSchema } from "../../model/json-schema.js";

/** A templated string ({{ CEL }} placeholders allowed). */
export function templated(description: string, extra: JsonSchema = {}): JsonSchema {
  return { type: "string", minLength: 1, description: `${description} Templated with {{ CEL }}.`, ...extra };
}

/** A list of templated strings, or one template giving a list. */
export function stringList(description: string): JsonSchema {
  return {
    description: `${description} A list of templated strings, or one {{ CEL }} template that gives a list.`,
    anyOf: [
      { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
      { type: "string", pattern: "^\\s*\\{\\{[\\s\\S]*\\}\\}\\s*$" },
    ],
  };
}

export function durationSchema(description: string): JsonSchema {
  return {
    type: "string",
    pattern: DURATION_PATTERN,
    description: `${description} A duration such as 30s, 5m or 1h30m.`,
  };
}

export const API_VERSION_PATTERN =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+((alpha|beta)[0-9]+)?$";
export const KIND_PATTERN = "^[A-Z][A-Za-z0-9]*$";

export const apiVersionSchema: JsonSchema = {
  type: "string",
  pattern: API_VERSION_PATTERN,
  description: "apiVersion of the object, e.g. v1, apps/v1, batch/v1 (literal, not templated).",
  patternErrorMessage:
    "a literal apiVersion such as v1 or batch/v1 (not a template: the runner's RBAC is derived from it)",
  examples: ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"],
};

export const kindSchema: JsonSchema = {
  type: "string",
  pattern: KIND_PATTERN,
  description: "Kind of the object, e.g. Deployment, Job, ConfigMap (literal, not templated).",
  patternErrorMessage: "a literal kind such as Job (not a template: the runner's RBAC is derived from it)",
  examples: ["Deployment", "Job", "ConfigMap", "Secret", "StatefulSet"],
};
