// The JSON Schema of hooks.yaml. Step configs come from the step registry, so a new step type
// extends the schema without touching this file. `resource-hooks schema` prints it and
// schema/hooks.schema.json is its checked-in copy for yaml-language-server.
import { DEFAULT_CEL_COST_LIMIT } from "../expr/cel.js";
import { stepTypes } from "../steps/registry.js";
import { triggerKinds } from "../trigger/registry.js";
import { DURATION_PATTERN } from "./duration.js";
import { API_VERSION, KIND } from "./types.js";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../model/kube-names.js";

type Schema = { [keyword: string]: unknown };

const nameSchema = (description: string): Schema => ({
  type: "string",
  pattern: DNS_LABEL.source,
  maxLength: 63,
  description,
  patternErrorMessage: "a lowercase DNS label: a-z, 0-9 and '-', starting and ending with a letter or digit",
});
const duration = (description: string): Schema => ({
  type: "string",
  pattern: DURATION_PATTERN,
  description,
  patternErrorMessage: 'a duration such as "30s", "5m" or "1h30m"',
});
const stringMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const secretKeySelector: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "key"],
  properties: { name: { type: "string", minLength: 1 }, key: { type: "string", minLength: 1 } },
};

/** The key under `on` that names each trigger kind (the first field its schema declares). */
export function kindKeys(): string[] {
  return Object.values(triggerKinds).map((k) => Object.keys(k.schema)[0]!);
}

function stepSchema(): Schema {
  const properties: Record<string, Schema> = {
    name: nameSchema("Step name; later steps read its output as steps.<name>.output."),
    if: {
      type: "string",
      minLength: 1,
      description: "CEL condition over object, oldObject, event and steps; the step is skipped when false.",
    },
    timeout: duration("Timeout of one attempt (default 60s)."),
    retries: {
      type: "integer",
      minimum: 0,
      maximum: 20,
      description: "Retries on retryable failures, with exponential backoff (default 2).",
    },
  };
  for (const stepType of stepTypes) properties[stepType.type] = stepType.schema;
  return {
    type: "object",
    required: ["name"],
    additionalProperties: false,
    description: `One step: a name and exactly one of ${stepTypes.map((t) => t.type).join(", ")}.`,
    properties,
  };
}

export function hookSetSchema(): Schema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "https://github.com/resource-hooks/resource-hooks/schema/hooks.schema.json",
    title: "resource-hooks HookSet",
    type: "object",
    additionalProperties: false,
    required: ["apiVersion", "kind", "metadata", "spec"],
    properties: {
      apiVersion: { const: API_VERSION },
      kind: { const: KIND },
      metadata: {
        type: "object",
        additionalProperties: false,
        required: ["name"],
        properties: {
          name: nameSchema("Name of the hook set; prefixes every generated object."),
          namespace: nameSchema("Namespace of the runner, EventSources and Sensors (default argo-events)."),
          labels: stringMap,
        },
      },
      spec: {
        type: "object",
        additionalProperties: false,
        required: ["hooks"],
        properties: {
          runner: {
            type: "object",
            additionalProperties: false,
            properties: {
              url: {
                type: "string",
                pattern: "^https?://",
                description:
                  "Base URL at which Sensors reach the runner " +
                  "(default http://<metadata.name>-runner.<namespace>.svc:8080, the generated Service).",
                patternErrorMessage: "an http:// or https:// URL",
              },
              tokenSecret: {
                ...secretKeySelector,
                description: "Secret key with the bearer token (default resource-hooks-token/token).",
              },
              image: { type: "string", minLength: 1, description: "Runner image." },
              replicas: { type: "integer", minimum: 1, maximum: 20 },
              store: {
                enum: ["memory", "kubernetes"],
                description:
                  "Where runs live: kubernetes HookRun objects (default; durable, shared by replicas) " +
                  "or memory (one replica, local use).",
              },
              retention: {
                type: "object",
                additionalProperties: false,
                description: "When finished HookRuns are deleted.",
                properties: {
                  ttl: duration("Delete a finished HookRun this long after it finished (default 168h, 7 days)."),
                  keepPerHook: {
                    type: "integer",
                    minimum: 1,
                    maximum: 100000,
                    description: "Keep at most this many finished HookRuns per hook, the newest (default 100).",
                  },
                },
              },
            },
          },
          limits: {
            type: "object",
            additionalProperties: false,
            description: "Bounds on what hooks may cost the runner.",
            properties: {
              celCost: {
                type: "integer",
                minimum: 1,
                description:
                  "CEL cost limit per evaluation of a when, if or template " + `(default ${DEFAULT_CEL_COST_LIMIT}).`,
              },
            },
          },
          eventBusName: { type: "string", minLength: 1, description: "Argo Events EventBus (default: default)." },
          serviceAccountName: {
            type: "string",
            pattern: DNS_SUBDOMAIN.source,
            maxLength: 253,
            description:
              "ServiceAccount, in the HookSet's namespace, that its EventSource runs as (it must be allowed " +
              "to get, list and watch every watched resource). generate: when unset, a <metadata.name>-eventsource " +
              'ServiceAccount with exactly those rights is generated. HookSet resources: default "default".',
            patternErrorMessage: "a ServiceAccount name: lowercase DNS subdomain (a-z, 0-9, '-' and '.')",
          },
          hooks: {
            type: "array",
            minItems: 1,
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "on", "steps"],
              properties: {
                name: nameSchema("Hook name; names its HookRuns."),
                description: { type: "string" },
                timeout: duration(
                  "Upper bound of one run, waiting for Argo CD health included " +
                    "(default: the steps' worst case, plus 10m with healthy: true).",
                ),
                concurrency: {
                  enum: ["queue", "replace", "parallel"],
                  description:
                    "Runs of this hook for the same object: queue (default; one at a time, in order), " +
                    "replace (a newer change supersedes a pending or running run), parallel (no ordering).",
                },
                deadline: duration(
                  "How long the runner keeps retrying a run after accepting it before it ends Failed " +
                    "(default 1h, at most 168h).",
                ),
                on: {
                  type: "object",
                  additionalProperties: false,
                  description: `What fires the hook: exactly one of ${kindKeys().join(" or ")}.`,
                  properties: {
                    // Each trigger kind owns its fields (src/trigger/<kind>).
                    ...Object.assign({}, ...Object.values(triggerKinds).map((k) => k.schema)),
                    when: {
                      type: "string",
                      minLength: 1,
                      description: "CEL condition over object, oldObject and event.",
                    },
                  },
                },
                steps: { type: "array", minItems: 1, items: stepSchema() },
              },
            },
          },
        },
      },
    },
  };
}
