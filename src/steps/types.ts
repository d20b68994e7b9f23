// The contract between the runner and each step type. A step type is one folder under
// src/steps/<type>/ exporting a StepType, plus one line in src/steps/registry.ts.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";

export type JsonSchema = { [keyword: string]: unknown };

/** A reference to a key of a Kubernetes Secret; the runner's Deployment mounts it as a file. */
export interface SecretKeyRef {
  secretKeyRef: { name: string; key: string };
}

/** Where a sensitive value (token, webhook URL, header) comes from: never inlined in hooks.yaml. */
export type SecretSource = SecretKeyRef | { env: string };

export interface StepProblem {
  /** Path below the step's config object, e.g. ["headers", "Authorization"]. */
  path: (string | number)[];
  message: string;
}

/** A Kubernetes permission a step needs; the generator turns these into the runner's Role/ClusterRole. */
export interface PermissionNeed {
  group: string;
  resource: string;
  /** Undefined: any namespace (a ClusterRole); a template in the namespace also means any namespace. */
  namespace?: string;
  verbs: string[];
}

/** External endpoints, configurable so tests (and GitHub Enterprise, proxies) can point elsewhere. */
export interface Endpoints {
  github: string;
  cloudflare: string;
  fastly: string;
  /** Undefined: the AWS SDK's default CloudFront endpoint. */
  cloudfront?: string;
  awsRegion: string;
}

/** Services shared by all steps of a runner process. */
export interface StepRuntime {
  /** Undefined when the runner has no Kubernetes access (kubernetes/waitFor steps then fail). */
  kubeConfig?: KubeConfig;
  readSecret(source: SecretSource): Promise<string>;
  endpoints: Endpoints;
}

export interface StepContext {
  hook: string;
  step: string;
  runId: string;
  eventId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Stable across retries and redeliveries of the same event: use it for Idempotency-Key headers and deterministic names. */
  idempotencyKey: string;
  /** Aborted when the step's timeout elapses or the runner shuts down. */
  signal: AbortSignal;
  /** Template scope: object, oldObject, event, steps (outputs of earlier steps), and for Argo CD hooks application, operation, resources. */
  scope: Readonly<Record<string, unknown>>;
  /** Renders `{{ CEL }}` placeholders in any JSON-like value against `scope`. */
  render<T>(value: T): T;
  /** Reads a secret and registers its value for scrubbing from errors, outputs and logs. */
  secret(source: SecretSource): Promise<string>;
  logger: Logger;
  runtime: StepRuntime;
}

export interface StepOutcome {
  /** Visible to later steps as steps.<name>.output. Must not contain secrets. */
  output?: unknown;
}

/** A step failure; `retryable` failures are retried with backoff while retries remain. */
export class StepFailure extends Error {
  override name = "StepFailure";
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(message: string, options: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export interface StepType<Config = unknown> {
  /** The key that selects this type in a step, e.g. `http`. */
  readonly type: string;
  /** JSON Schema of the config object; part of schema/hooks.schema.json. */
  readonly schema: JsonSchema;
  /** Checks beyond the schema (run by `validate`); templates are already known to parse. */
  check?(config: Config): StepProblem[];
  /**
   * Kubernetes permissions the runner's ServiceAccount needs for this step. `hook.watch` is the
   * resource that triggers the hook, for steps that act on the triggering object by default.
   */
  permissions?(config: Config, hook: { watch: { group: string; version: string; resource: string; namespace: string } }): PermissionNeed[];
  /** Secret keys the runner's Deployment must mount for this step. */
  secrets?(config: Config): SecretKeyRef["secretKeyRef"][];
  execute(config: Config, ctx: StepContext): Promise<StepOutcome>;
}
