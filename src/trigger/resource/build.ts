// The resource kind in hooks.yaml: its schema under `on`, and the trigger built from it.
import { parseFieldPath, PathSyntaxError, type FieldPath } from "../../hookset/paths.js";
import type { JsonSchema } from "../../model/json-schema.js";
import type { TriggerBuildContext } from "../kind.js";
import type { ResourceDocument, ResourceTrigger } from "./types.js";

const stringMap: JsonSchema = { type: "object", additionalProperties: { type: "string" } };

export const RESOURCE_SCHEMA: Record<string, JsonSchema> = {
  resource: {
    type: "object",
    additionalProperties: false,
    required: ["version", "resource"],
    description: "The Kubernetes resource to watch, and which of its objects the hook is about.",
    properties: {
      group: { type: "string", description: 'API group, "" or absent for the core group (ConfigMap, Service …).' },
      version: { type: "string", minLength: 1, description: "API version, e.g. v1." },
      resource: {
        type: "string",
        minLength: 1,
        pattern: "^[a-z0-9.-]+$",
        description: "Plural resource name, e.g. deployments.",
        patternErrorMessage: "a plural lowercase resource name such as deployments",
      },
      namespace: { type: "string", description: "Namespace to watch; absent for all namespaces." },
      name: { type: "string", minLength: 1, description: "Only the object with this name." },
      namePrefix: { type: "string", minLength: 1, description: "Only objects whose name starts with this." },
      labels: { ...stringMap, description: "Only objects carrying all these labels (matchLabels)." },
    },
  },
  events: {
    type: "array",
    minItems: 1,
    uniqueItems: true,
    items: { enum: ["add", "update", "delete"] },
    description: "Event types (default [update]).",
  },
  changed: {
    type: "array",
    minItems: 1,
    items: { type: "string", minLength: 1 },
    description:
      "Field paths whose change fires the hook, " +
      'e.g. spec.template.spec.containers[0].image or data["app.properties"].',
  },
};

function parseChanged(on: ResourceDocument, ctx: TriggerBuildContext): FieldPath[] {
  const changed: FieldPath[] = [];
  on.changed?.forEach((source, i) => {
    try {
      changed.push(parseFieldPath(source));
    } catch (err) {
      if (err instanceof PathSyntaxError) ctx.report([...ctx.at, "changed", i], err.message);
      else throw err;
    }
  });
  return changed;
}

export function buildResource(on: ResourceDocument, ctx: TriggerBuildContext): ResourceTrigger {
  const resource = on.resource;
  const at = ctx.at;
  const resourceAt = [...at, "resource"];
  const selectors = (["name", "namePrefix", "labels"] as const).filter((k) => resource[k] !== undefined);
  if (selectors.length > 1) {
    ctx.report(resourceAt, `give one of name, namePrefix or labels, not ${selectors.length === 2 ? "two" : "three"}`);
  }
  const events = on.events ?? ["update"];
  const changed = parseChanged(on, ctx);
  if (on.changed && !events.includes("update")) {
    ctx.report([...at, "changed"], 'changed applies to update events, and events has no "update"');
  }
  const when = ctx.when();
  return {
    kind: "resource",
    watch: {
      group: resource.group ?? "",
      version: resource.version,
      resource: resource.resource,
      namespace: resource.namespace ?? "",
      labels: resource.labels ?? {},
    },
    ...(resource.name !== undefined ? { name: resource.name } : {}),
    ...(resource.namePrefix !== undefined ? { namePrefix: resource.namePrefix } : {}),
    events,
    ...(on.changed ? { changed } : {}),
    ...(when ? { when } : {}),
  };
}
