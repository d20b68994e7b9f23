// The contract between the runner and each step type. A step type is one folder under
// src/steps/<type>/ exporting a StepType, plus one line in src/steps/registry.ts.
import type { JsonSchema } from "../model/json-schema.js";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";

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

/**
 * Base URLs of external services by endpoint name (github, cloudflare, fastly, cloudfront …), as
 * the step types declare them (StepType.endpoints) with the runner's overrides applied; see
 * resolveEndpoints in src/runner/runtime.ts. A name without a default and without an override is
 * absent (cloudfront: the AWS SDK's own endpoint).
 */
export type Endpoints = Readonly<Record<string, string | undefined>>;

/**
 * An external service a step type calls, configurable so tests (and GitHub Enterprise, proxies)
 * can point elsewhere.
 */
export interface EndpointDeclaration {
  /** Base URL when the runner is not told otherwise; none: the client library's own default. */
  default?: string;
  description: string;
}

/** Services shared by all steps of a runner process. */
export interface StepRuntime {
  /** Undefined when the runner has no Kubernetes access (kubernetes/waitFor steps then fail). */
  kubeConfig?: KubeConfig;
  /**
   * Reads a secret's value. Steps do not call this: they call ctx.secret, which also registers the
   * value for scrubbing.
   */
  readSecret(source: SecretSource): Promise<string>;
  endpoints: Endpoints;
  /** AWS region for signing (CloudFront). */
  awsRegion: string;
}

export interface StepContext {
  hook: string;
  step: string;
  runId: string;
  eventId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * Stable across retries and redeliveries of the same event: use it for Idempotency-Key headers
   * and deterministic names.
   */
  idempotencyKey: string;
  /** Aborted when the step's timeout elapses or the runner shuts down. */
  signal: AbortSignal;
  /**
   * Template scope: object, oldObject, event, steps (outputs of earlier steps), and for Argo CD
   * hooks application, operation, resources.
   */
  scope: Readonly<Record<string, unknown>>;
  /** Renders `{{ CEL }}` placeholders in any JSON-like value against `scope`. */
  render<T>(value: T): T;
  /**
   * Renders a URL template: `{{ expr }}` values percent-encoded for the URL (RFC 6570 `{var}`),
   * `{{+ expr }}` values inserted as they are. Use it for every field that becomes part of a URL.
   */
  renderUrl(template: string): string;
  /**
   * Reads a secret and registers its value with the run's scrubber, so it never appears in the
   * step's errors, output or logs. The only way a step reads a secret. Throws a StepFailure
   * (not retryable) when the secret is missing or empty.
   */
  secret(source: SecretSource): Promise<string>;
  logger: Logger;
  runtime: StepRuntime;
}

export interface StepOutcome {
  /** Visible to later steps as steps.<name>.output. The executor scrubs secrets out of it. */
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

/**
 * The shape of a config field the step renders with ctx.renderUrl: `url`, one URL template;
 * `urlList`, a list of them, each item rendered on its own (one template that gives the whole list
 * is used as it gives it: its expression made the URLs).
 */
export type UrlField = "url" | "urlList";

export interface StepType<Config = unknown> {
  /** The key that selects this type in a step, e.g. `http`. */
  readonly type: string;
  /** JSON Schema of the config object; part of schema/hooks.schema.json. */
  readonly schema: JsonSchema;
  /**
   * Top-level config fields that become URLs, by name. `simulate` renders them as the runner does
   * (each placeholder's value percent-encoded for the part of the URL it lands in), so what it
   * prints is what the step would send.
   */
  readonly urlFields?: Readonly<Record<string, UrlField>>;
  /** Checks beyond the schema (run by `validate`); templates are already known to parse. */
  check?(config: Config): StepProblem[];
  /**
   * Kubernetes permissions the runner's ServiceAccount needs for this step. `hook.watch` is the
   * resource that triggers the hook, for steps that act on the triggering object by default.
   */
  permissions?(
    config: Config,
    hook: { watch: { group: string; version: string; resource: string; namespace: string } },
  ): PermissionNeed[];
  /** Secret keys the runner's Deployment must mount for this step. */
  secrets?(config: Config): SecretKeyRef["secretKeyRef"][];
  /**
   * External services this step type calls, by endpoint name (unique across step types). The
   * runner's `--endpoint <name>=<url>` overrides them; steps read ctx.runtime.endpoints[name].
   */
  readonly endpoints?: Readonly<Record<string, EndpointDeclaration>>;
  execute(config: Config, ctx: StepContext): Promise<StepOutcome>;
}
