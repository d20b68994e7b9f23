// CloudFront: CreateInvalidation through @aws-sdk/client-cloudfront. CallerReference is the
// event's idempotency key, so CloudFront itself answers a redelivered event with the invalidation
// it already created. The SDK's own retries are off (maxAttempts 1): the runner retries.
import type { CloudFrontClient as CloudFrontClientType } from "@aws-sdk/client-cloudfront";
// paths are URL path templates (placeholder values percent-encoded, as CloudFront asks of
// characters unsafe in URLs).
import { renderText, renderUrlList } from "../common/render.js";
import { abortFailure } from "../common/abort.js";
import { excerpt } from "../common/http.js";
import { StepFailure, type SecretSource, type StepContext } from "../types.js";
import type { StringList } from "./cloudflare.js";

export interface CloudFrontPurgeConfig {
  provider: "cloudfront";
  distributionId: string;
  /** Paths to invalidate, each starting with "/" (wildcard * allowed at the end). */
  paths: StringList;
  accessKeyId: SecretSource;
  secretAccessKey: SecretSource;
  sessionToken?: SecretSource;
  /** Signing region; default runtime.awsRegion. */
  region?: string;
}

export interface CloudFrontOutput {
  provider: "cloudfront";
  id: string;
  status?: string;
}

/** CloudFront errors worth retrying although they are 4xx. */
const RETRYABLE_ERRORS = new Set([
  "TooManyInvalidationsInProgress",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
]);

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: "client" | "server";
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Classifies an AWS SDK error: server faults, throttling and network errors are retryable. */
export function classifyAwsError(err: unknown): { retryable: boolean; message: string } {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? "Error";
  const message = `${name}${status ? ` (${status})` : ""}: ${e.message ?? String(err)}`;
  if (RETRYABLE_ERRORS.has(name) || e.$retryable || e.$fault === "server") return { retryable: true, message };
  if (status !== undefined) return { retryable: status >= 500 || status === 429 || status === 408, message };
  // No HTTP answer at all: a network error (ECONNREFUSED, ECONNRESET, DNS) is retryable.
  const code = e.code ?? (err as { cause?: { code?: string } } | undefined)?.cause?.code;
  return {
    retryable: typeof code === "string" && /^E[A-Z]+/.test(code),
    message: code && !message.includes(code) ? `${message} (${code})` : message,
  };
}

export const CLOUDFRONT_ENDPOINT = "cloudfront";

export async function purgeCloudFront(config: CloudFrontPurgeConfig, ctx: StepContext): Promise<CloudFrontOutput> {
  const distributionId = renderText(ctx, config.distributionId, "distributionId");
  const paths = renderUrlList(ctx, config.paths, "paths");
  if (paths.length === 0) throw new StepFailure("paths: the list is empty", { retryable: false });
  const bad = paths.find((p) => !p.startsWith("/"));
  if (bad !== undefined)
    throw new StepFailure(`paths: ${JSON.stringify(bad)} does not start with "/"`, { retryable: false });
  const accessKeyId = await ctx.secret(config.accessKeyId);
  const secretAccessKey = await ctx.secret(config.secretAccessKey);
  const sessionToken = config.sessionToken ? await ctx.secret(config.sessionToken) : undefined;
  const region = config.region ?? ctx.runtime.awsRegion;
  const endpoint = ctx.runtime.endpoints[CLOUDFRONT_ENDPOINT];
  const { CloudFrontClient, CreateInvalidationCommand } = await import("@aws-sdk/client-cloudfront");
  const client: CloudFrontClientType = new CloudFrontClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
    maxAttempts: 1,
  });
  try {
    const answer = await client.send(
      new CreateInvalidationCommand({
        DistributionId: distributionId,
        InvalidationBatch: { CallerReference: ctx.idempotencyKey, Paths: { Quantity: paths.length, Items: paths } },
      }),
      { abortSignal: ctx.signal },
    );
    const id = answer.Invalidation?.Id;
    if (!id) throw new StepFailure("CloudFront answered without an invalidation id", { retryable: false });
    ctx.logger.info({ provider: "cloudfront", distributionId, id, paths: paths.length }, "invalidation created");
    return {
      provider: "cloudfront",
      id,
      ...(answer.Invalidation?.Status ? { status: answer.Invalidation.Status } : {}),
    };
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    if (ctx.signal.aborted) throw abortFailure(ctx.signal, "creating the CloudFront invalidation");
    const { retryable, message } = classifyAwsError(err);
    throw new StepFailure(`CloudFront CreateInvalidation on ${distributionId}: ${excerpt(message)}`, { retryable });
  } finally {
    client.destroy();
  }
}
