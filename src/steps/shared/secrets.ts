// SecretSource helpers: the schema every step uses for its secret fields, the list of Secret keys
// for the runner's Deployment, and a per-execution bag that reads secrets and scrubs their values
// out of anything that leaves the step (outputs, error messages).
import { StepFailure, type JsonSchema, type SecretKeyRef, type SecretSource, type StepContext } from "../types.js";

export const REDACTED = "[redacted]";

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
  return "secretKeyRef" in source ? `secret ${source.secretKeyRef.name}/${source.secretKeyRef.key}` : `environment variable ${source.env}`;
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
    env: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$", description: "Environment variable of the runner holding the value." },
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

/** Reads secrets for one execution and remembers them, so they can be scrubbed from anything shown. */
export class SecretBag {
  private readonly values = new Set<string>();

  constructor(private readonly ctx: StepContext) {}

  async read(source: SecretSource): Promise<string> {
    let value: string;
    try {
      value = await this.ctx.runtime.readSecret(pickSecretSource(source));
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new StepFailure(`cannot read ${describeSecretSource(source)}: ${this.scrub(reason)}`, { retryable: false });
    }
    value = value.trim();
    if (!value) throw new StepFailure(`${describeSecretSource(source)} is empty`, { retryable: false });
    this.remember(value);
    return value;
  }

  /** Marks a value derived from a secret (e.g. the path of a secret webhook URL) as secret too. */
  remember(value: string): void {
    if (value.length >= 4) this.values.add(value);
    try {
      const url = new URL(value);
      if (url.pathname.length > 8) this.values.add(url.pathname);
      if (url.search.length > 8) this.values.add(url.search);
      if (url.password) this.values.add(url.password);
    } catch {
      // not a URL
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** Deep copy of a JSON-like value with every secret occurrence in strings (and keys) replaced. */
  scrubValue<T>(value: T): T {
    if (this.values.size === 0) return value;
    return this.scrubAny(value) as T;
  }

  private scrubAny(value: unknown): unknown {
    if (typeof value === "string") return this.scrub(value);
    if (Array.isArray(value)) return value.map((v) => this.scrubAny(v));
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.scrub(k)] = this.scrubAny(v);
      return out;
    }
    return value;
  }

  /** Rethrows an error with secrets scrubbed from its message (StepFailures keep their classification). */
  scrubError(err: unknown): unknown {
    if (this.values.size === 0) return err;
    if (err instanceof StepFailure) {
      const clean = this.scrub(err.message);
      if (clean === err.message) return err;
      return new StepFailure(clean, {
        retryable: err.retryable,
        ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      });
    }
    if (err instanceof Error) return new StepFailure(this.scrub(err.message), { retryable: false });
    return err;
  }
}
