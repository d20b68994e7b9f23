// cdnPurge: purge a CDN cache — Cloudflare (zone purge_cache), Fastly (purge_all, surrogate keys,
// URL) or CloudFront (CreateInvalidation). Output: the provider's purge/invalidation id.
import { secretKeyRefs, secretSourceSchema } from "../common/secrets.js";
import { stringList, templated } from "../common/schema.js";
import { StepFailure, type StepProblem, type StepType } from "../types.js";
import { CLOUDFLARE_ENDPOINT, CLOUDFLARE_TARGETS, purgeCloudflare, type CloudflarePurgeConfig } from "./cloudflare.js";
import { CLOUDFRONT_ENDPOINT, purgeCloudFront, type CloudFrontPurgeConfig } from "./cloudfront.js";
import { FASTLY_ENDPOINT, FASTLY_TARGETS, purgeFastly, type FastlyPurgeConfig } from "./fastly.js";

export type { CloudflarePurgeConfig, CloudFrontPurgeConfig, FastlyPurgeConfig };
export type CdnPurgeConfig = CloudflarePurgeConfig | FastlyPurgeConfig | CloudFrontPurgeConfig;

function given(config: Record<string, unknown>, targets: readonly string[]): string[] {
  return targets.filter((t) => config[t] !== undefined && config[t] !== false);
}

export const cdnPurgeStep: StepType<CdnPurgeConfig> = {
  type: "cdnPurge",
  urlFields: { url: "url", files: "urlList", prefixes: "urlList", paths: "urlList" },
  endpoints: {
    [CLOUDFLARE_ENDPOINT]: { default: "https://api.cloudflare.com", description: "Cloudflare API base URL." },
    [FASTLY_ENDPOINT]: { default: "https://api.fastly.com", description: "Fastly API base URL." },
    [CLOUDFRONT_ENDPOINT]: {
      description: "CloudFront endpoint (default: the AWS SDK's, https://cloudfront.amazonaws.com).",
    },
  },
  schema: {
    type: "object",
    required: ["provider"],
    description: "Purge a CDN cache: Cloudflare, Fastly or CloudFront.",
    oneOf: [
      {
        type: "object",
        additionalProperties: false,
        required: ["provider", "zoneId", "token"],
        description: "Cloudflare: give exactly one of files, prefixes, tags, hosts, everything.",
        properties: {
          provider: { type: "string", const: "cloudflare", description: "Cloudflare cache purge." },
          zoneId: templated("Zone id (32 hex characters, from the zone's overview page)."),
          files: stringList(
            "URLs to purge (placeholder values percent-encoded for the URL; {{+ expr }} inserts a value as it is).",
          ),
          prefixes: stringList("URL prefixes to purge (host/path, no scheme; placeholder values percent-encoded)."),
          tags: stringList("Cache-Tag values to purge."),
          hosts: stringList("Hostnames to purge."),
          everything: { type: "boolean", const: true, description: "Purge everything in the zone." },
          token: secretSourceSchema("Cloudflare API token with the Cache Purge permission."),
        },
      },
      {
        type: "object",
        additionalProperties: false,
        required: ["provider", "serviceId", "token"],
        description: "Fastly: give exactly one of keys, url, all.",
        properties: {
          provider: { type: "string", const: "fastly", description: "Fastly purge." },
          serviceId: templated("Service id."),
          keys: stringList("Surrogate keys to purge (one request per 256 keys)."),
          url: templated(
            "One URL to purge (placeholder values percent-encoded for the URL; {{+ expr }} inserts a value as it is).",
          ),
          all: { type: "boolean", const: true, description: "Purge everything in the service (purge_all)." },
          soft: {
            type: "boolean",
            description: "Soft purge: mark content stale instead of evicting it (not with all).",
          },
          token: secretSourceSchema("Fastly API token with purge_select (or purge_all) scope."),
        },
      },
      {
        type: "object",
        additionalProperties: false,
        required: ["provider", "distributionId", "paths", "accessKeyId", "secretAccessKey"],
        description: "CloudFront invalidation; the event's idempotency key is the CallerReference.",
        properties: {
          provider: { type: "string", const: "cloudfront", description: "Amazon CloudFront invalidation." },
          distributionId: templated("Distribution id."),
          paths: stringList(
            "Paths to invalidate, each starting with / (e.g. /index.html, /assets/*); placeholder " +
              "values percent-encoded.",
          ),
          accessKeyId: secretSourceSchema("AWS access key id."),
          secretAccessKey: secretSourceSchema("AWS secret access key."),
          sessionToken: secretSourceSchema("AWS session token, for temporary credentials."),
          region: {
            type: "string",
            pattern: "^[a-z]{2}(-[a-z]+)+-[0-9]+$",
            description: "Signing region (default: the runner's AWS region, usually us-east-1).",
          },
        },
      },
    ],
  },

  check(config) {
    const problems: StepProblem[] = [];
    const raw = (config ?? {}) as unknown as Record<string, unknown>;
    const one = (targets: readonly string[]): void => {
      const found = given(raw, targets);
      if (found.length === 0) problems.push({ path: [], message: `give one of ${targets.join(", ")}` });
      if (found.length > 1)
        problems.push({
          path: [found[1]!],
          message: `give only one of ${targets.join(", ")}, not ${found.join(" and ")}`,
        });
    };
    if (config?.provider === "cloudflare") one(CLOUDFLARE_TARGETS);
    if (config?.provider === "fastly") {
      one(FASTLY_TARGETS);
      if (config.soft && config.all)
        problems.push({ path: ["soft"], message: "Fastly has no soft purge_all: soft purges keys or a URL" });
    }
    if (config?.provider === "cloudfront" && Array.isArray(config.paths)) {
      config.paths.forEach((p, i) => {
        if (typeof p === "string" && !p.startsWith("/") && !p.startsWith("{{"))
          problems.push({ path: ["paths", i], message: "a path starts with /" });
      });
    }
    return problems;
  },

  secrets(config) {
    if (config?.provider === "cloudfront")
      return secretKeyRefs(config.accessKeyId, config.secretAccessKey, config.sessionToken);
    return secretKeyRefs(config?.token);
  },

  async execute(config, ctx) {
    const raw = config as unknown as Record<string, unknown>;
    switch (config.provider) {
      case "cloudflare":
        if (given(raw, CLOUDFLARE_TARGETS).length > 1)
          throw new StepFailure("give only one purge target", { retryable: false });
        return { output: await purgeCloudflare(config, ctx) };
      case "fastly":
        if (given(raw, FASTLY_TARGETS).length > 1)
          throw new StepFailure("give only one purge target", { retryable: false });
        return { output: await purgeFastly(config, ctx) };
      case "cloudfront":
        return { output: await purgeCloudFront(config, ctx) };
      default:
        throw new StepFailure(`unknown provider ${String((config as { provider?: unknown }).provider)}`, {
          retryable: false,
        });
    }
  },
};
