// SecretSource helpers: the schema every step uses for its secret fields and the list of Secret
// keys for the runner's Deployment. Steps read values with ctx.secret (src/steps/context.ts), and
// the executor scrubs them out of everything that leaves a run (src/secrets/scrubber.ts).
import type { JsonSchema } from "../../model/json-schema.js";
import type { SecretKeyRef, SecretSource } from "../types.js";

export function isSecretSource(value: unknown): value is SecretSource {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.env === "string") return true;
  const ref = v.secretKeyRef as Record<string, unknown> | undefined;
  return !!ref && typeof ref === "object" && typeof ref.name === "string" && typeof ref.key === "string";
}

/** Only the SecretSource part of a value that may carry more fields (e.g. a header prefix). */
export function pickSecretSource(value: SecretSource): SecretSource {
  if ("secretKeyRef" in value) return { secretKeyRef: { name: value.secretKeyRef.name, key: value.secretKeyRef.key } };
  return { env: value.env };
}

/** The secretKeyRefs among some sources, without duplicates (for StepType.secrets). */
export function secretKeyRefs(...sources: unknown[]): SecretKeyRef["secretKeyRef"][] {
  const out: SecretKeyRef["secretKeyRef"][] = [];
  for (const source of sources) {
    if (!isSecretSource(source) || !("secretKeyRef" in source)) continue;
    const { name, key } = source.secretKeyRef;
    if (!out.some((r) => r.name === name && r.key === key)) out.push({ name, key });
  }
  return out;
}

export function describeSecretSource(source: SecretSource): string {
  return "secretKeyRef" in source
    ? `secret ${source.secretKeyRef.name}/${source.secretKeyRef.key}`
    : `environment variable ${source.env}`;
}

const secretKeyRefSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["secretKeyRef"],
  properties: {
    secretKeyRef: {
      type: "object",
      additionalProperties: false,
      required: ["name", "key"],
      description: "A key of a Kubernetes Secret in the runner's namespace; the runner's Deployment mounts it.",
      properties: {
        name: {
          type: "string",
          pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
          maxLength: 253,
          description: "Name of the Secret.",
        },
        key: { type: "string", pattern: "^[-._a-zA-Z0-9]+$", maxLength: 253, description: "Key within the Secret." },
      },
    },
  },
};

const envSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["env"],
  properties: {
    env: {
      type: "string",
      pattern: "^[A-Za-z_][A-Za-z0-9_]*$",
      description: "Environment variable of the runner holding the value.",
    },
  },
};

/** JSON Schema of a SecretSource; `extra` adds properties allowed beside it (e.g. prefix). */
export function secretSourceSchema(description: string, extra: Record<string, JsonSchema> = {}): JsonSchema {
  const withExtra = (schema: JsonSchema): JsonSchema => ({
    ...schema,
    properties: { ...(schema.properties as Record<string, JsonSchema>), ...extra },
  });
  return {
    description: `${description} Never inlined: {secretKeyRef: {name, key}} or {env: NAME}.`,
    oneOf: [withExtra(secretKeyRefSchema), withExtra(envSchema)],
  };
}
