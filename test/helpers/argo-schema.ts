// Validates generated objects against Argo Events v1.9.11's own JSON schema (read from
// ../shared/argo-events/schema.json, never copied here). That schema declares no
// additionalProperties: false, so a misspelt field would pass; this helper validates against a
// copy in which every object definition with declared properties forbids undeclared ones.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

const SCHEMA_PATH = join(import.meta.dirname, "../../../shared/argo-events/schema.json");

type Json = { [key: string]: unknown };

function forbidUnknown(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(forbidUnknown);
  if (!node || typeof node !== "object") return;
  const obj = node as Json;
  if (obj.properties && typeof obj.properties === "object" && obj.additionalProperties === undefined) obj.additionalProperties = false;
  for (const value of Object.values(obj)) forbidUnknown(value);
}

let validators: Record<"EventSource" | "Sensor", ValidateFunction> | undefined;

export function argoValidators(): Record<"EventSource" | "Sensor", ValidateFunction> {
  if (validators) return validators;
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as Json;
  delete schema.$schema;
  delete schema.$id;
  delete schema.oneOf;
  forbidUnknown(schema.definitions);
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(schema, "argo");
  validators = {
    EventSource: ajv.compile({ $ref: "argo#/definitions/io.argoproj.events.v1alpha1.EventSource" }),
    Sensor: ajv.compile({ $ref: "argo#/definitions/io.argoproj.events.v1alpha1.Sensor" }),
  };
  return validators;
}
