// Validates generated objects against Argo Events v1.9.11's own JSON schema, read from the
// argo-events Go module (`go mod download`, as the e2e stack takes the CRDs; never copied here).
// That schema declares no additionalProperties: false, so a misspelt field would pass; this
// helper validates against a copy in which every object definition with declared properties
// forbids undeclared ones. Used by the e2e layer only: a fresh clone's `npm test` needs no Go.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";

export const ARGO_EVENTS_MODULE = "github.com/argoproj/argo-events@v1.9.11";

type Json = { [key: string]: unknown };

/** The schema file in the module; throws (never skips) when Go or the module cannot be had. */
export function argoEventsSchemaPath(): string {
  let out: string;
  try {
    out = execFileSync("go", ["mod", "download", "-json", ARGO_EVENTS_MODULE], {
      encoding: "utf8",
      cwd: import.meta.dirname,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `cannot get Argo Events' JSON schema: go mod download -json ${ARGO_EVENTS_MODULE} failed: ${e.stdout || e.stderr || e.message}`,
    );
  }
  const { Dir, Error: error } = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!Dir) throw new Error(`cannot get Argo Events' JSON schema: ${error ?? "go mod download gave no Dir"}`);
  return join(Dir, "api/jsonschema/schema.json");
}

function forbidUnknown(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(forbidUnknown);
  if (!node || typeof node !== "object") return;
  const obj = node as Json;
  if (obj.properties && typeof obj.properties === "object" && obj.additionalProperties === undefined)
    obj.additionalProperties = false;
  for (const value of Object.values(obj)) forbidUnknown(value);
}

let validators: Record<"EventSource" | "Sensor", ValidateFunction> | undefined;

export function argoValidators(): Record<"EventSource" | "Sensor", ValidateFunction> {
  if (validators) return validators;
  const schema = JSON.parse(readFileSync(argoEventsSchemaPath(), "utf8")) as Json;
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
