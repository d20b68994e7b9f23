// Test helpers for step types: a StepContext built as the executor builds it (ctx.secret registers
// values with a SecretScrubber, the logger scrubs every line) whose logger writes to memory, and a
// closed port. The HTTP server standing in for GitHub / Slack / Cloudflare / Fastly / CloudFront is
// test/helpers/recording-server.ts, shared with the e2e tests.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { EvaluationOptions } from "../../../src/expr/cel.js";
import { SecretScrubber, scrubbingLogger } from "../../../src/secrets/scrubber.js";
import { stepSecretReader, stepTemplating } from "../../../src/steps/context.js";
import {
  StepFailure,
  type Endpoints,
  type SecretSource,
  type StepContext,
  type StepOutcome,
  type StepType,
} from "../../../src/steps/types.js";

export interface TestContextOptions {
  scope?: Record<string, unknown>;
  /** Secret values by "secret-name/key" (secretKeyRef) or "env:NAME". */
  secrets?: Record<string, string>;
  endpoints?: Endpoints;
  awsRegion?: string;
  kubeConfig?: KubeConfig;
  /** Cost limit and deadline of template rendering. */
  evaluation?: EvaluationOptions;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface TestContext {
  ctx: StepContext;
  /** The run's scrubber: ctx.secret registers every value read. */
  scrubber: SecretScrubber;
  /** Everything logged so far, as pino's JSON lines. */
  logs(): string;
  logLines(): Record<string, unknown>[];
}

export function makeContext(options: TestContextOptions = {}): TestContext {
  const lines: string[] = [];
  const scrubber = new SecretScrubber();
  const root = pino({ level: "trace", base: undefined }, { write: (line: string) => void lines.push(line) });
  const logger = scrubbingLogger(root, scrubber);
  const scope = options.scope ?? {};
  const secrets = options.secrets ?? {};
  const runtime: StepContext["runtime"] = {
    ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
    readSecret: async (source: SecretSource): Promise<string> => {
      const key =
        "secretKeyRef" in source ? `${source.secretKeyRef.name}/${source.secretKeyRef.key}` : `env:${source.env}`;
      const value = secrets[key];
      if (value === undefined) throw new Error(`no secret ${key}`);
      return value;
    },
    endpoints: {
      github: "http://127.0.0.1:9/github",
      cloudflare: "http://127.0.0.1:9/cloudflare",
      fastly: "http://127.0.0.1:9/fastly",
      ...options.endpoints,
    },
    awsRegion: options.awsRegion ?? "us-east-1",
  };
  const ctx: StepContext = {
    hook: "test-hook",
    step: "test-step",
    runId: "run-1",
    eventId: "event-1",
    attempt: 1,
    idempotencyKey: options.idempotencyKey ?? "idem-0123456789abcdef",
    signal: options.signal ?? new AbortController().signal,
    scope,
    ...stepTemplating(scope, options.evaluation),
    secret: stepSecretReader(runtime, scrubber),
    logger,
    runtime,
  };
  scrubbers.set(ctx, scrubber);
  return {
    ctx,
    scrubber,
    logs: () => lines.join(""),
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const scrubbers = new WeakMap<StepContext, SecretScrubber>();

/**
 * Runs a step as the executor does: its output and its failure pass through the run's scrubber
 * (the executor's contract with step types, src/runner/execute.ts).
 */
export async function executeScrubbed<C>(step: StepType<C>, config: C, ctx: StepContext): Promise<StepOutcome> {
  const scrubber = scrubbers.get(ctx) ?? new SecretScrubber();
  try {
    const outcome = await step.execute(config, ctx);
    return { output: scrubber.value(outcome.output) };
  } catch (err) {
    throw scrubber.error(err);
  }
}

/** Runs a step (scrubbed as the executor does) and returns the StepFailure it throws (fails the test if it succeeds or throws something else). */
export async function failureOf<C>(step: StepType<C>, config: C, ctx: StepContext): Promise<StepFailure> {
  let outcome: unknown;
  try {
    outcome = await executeScrubbed(step, config, ctx);
  } catch (err) {
    if (err instanceof StepFailure) return err;
    throw new Error(`expected a StepFailure, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected a StepFailure, got success: ${JSON.stringify(outcome)}`);
}

/** A port on 127.0.0.1 that refuses connections (a server that was started and closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
