// Fastly, with a Fastly-Key API token:
//   all: true   POST {fastly}/service/{id}/purge_all
//   keys (one)  POST {fastly}/service/{id}/purge/{key}
//   keys (more) POST {fastly}/service/{id}/purge   Surrogate-Key: "k1 k2 ..." (batches of 256)
//   url         POST {fastly}/purge/{host}{path}
// soft: true sends Fastly-Soft-Purge: 1 (marks content stale instead of evicting it).
// url is a URL template (placeholder values percent-encoded).
import { endpointUrl, joinUrl, pathSegment, sendHttp, statusFailure, type HttpResponse } from "../common/http.js";
import { renderList, renderText, renderUrlAt } from "../common/render.js";
import { StepFailure, type SecretSource, type StepContext } from "../types.js";
import type { StringList } from "./cloudflare.js";

export const FASTLY_ENDPOINT = "fastly";

export interface FastlyPurgeConfig {
  provider: "fastly";
  serviceId: string;
  keys?: StringList;
  url?: string;
  all?: boolean;
  soft?: boolean;
  token: SecretSource;
}

export const FASTLY_TARGETS = ["keys", "url", "all"] as const;
const MAX_KEYS_PER_BATCH = 256;

export interface FastlyOutput {
  provider: "fastly";
  /** Purge id of a single-key or URL purge. */
  id?: string;
  /** Purge ids by surrogate key, for a batch purge. */
  ids?: Record<string, string>;
}

export async function purgeFastly(config: FastlyPurgeConfig, ctx: StepContext): Promise<FastlyOutput> {
  const serviceId = renderText(ctx, config.serviceId, "serviceId");
  const service = `/service/${pathSegment(serviceId, "serviceId")}`;
  type Call = { path: string; headers?: Record<string, string> };
  const calls: Call[] = [];
  let batch = false;
  if (config.all) {
    calls.push({ path: `${service}/purge_all` });
  } else if (config.url !== undefined) {
    const text = renderUrlAt(ctx, config.url, "url");
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
    } catch {
      throw new StepFailure(`url: ${JSON.stringify(text.slice(0, 200))} is not a URL`, { retryable: false });
    }
    calls.push({ path: `/purge/${url.host}${url.pathname}${url.search}` });
  } else if (config.keys !== undefined) {
    const keys = renderList(ctx, config.keys, "keys");
    if (keys.length === 0) throw new StepFailure("keys: the list is empty", { retryable: false });
    const bad = keys.find((k) => /\s/.test(k));
    if (bad !== undefined)
      throw new StepFailure(`keys: surrogate keys cannot contain spaces (${JSON.stringify(bad)})`, {
        retryable: false,
      });
    if (keys.length === 1) {
      calls.push({ path: `${service}/purge/${pathSegment(keys[0]!, "keys[0]")}` });
    } else {
      batch = true;
      for (let i = 0; i < keys.length; i += MAX_KEYS_PER_BATCH) {
        calls.push({
          path: `${service}/purge`,
          headers: { "Surrogate-Key": keys.slice(i, i + MAX_KEYS_PER_BATCH).join(" ") },
        });
      }
    }
  } else {
    throw new StepFailure("nothing to purge: give one of keys, url or all", { retryable: false });
  }
  const token = await ctx.secret(config.token);
  const output: FastlyOutput = { provider: "fastly" };
  for (const call of calls) {
    const label = `Fastly (POST ${call.path})`;
    const response = await sendHttp(ctx, {
      method: "POST",
      url: joinUrl(endpointUrl(ctx, FASTLY_ENDPOINT), call.path),
      headers: {
        "Fastly-Key": token,
        Accept: "application/json",
        ...(config.soft ? { "Fastly-Soft-Purge": "1" } : {}),
        ...call.headers,
      },
      label,
    });
    if (response.status < 200 || response.status >= 300) throw statusFailure(response, label, fastlyMessage(response));
    const body = (response.body && typeof response.body === "object" ? response.body : {}) as Record<string, unknown>;
    if (batch) {
      output.ids = { ...output.ids };
      for (const [key, id] of Object.entries(body)) if (typeof id === "string") output.ids[key] = id;
    } else if (typeof body.id === "string") {
      output.id = body.id;
    }
  }
  ctx.logger.info({ provider: "fastly", serviceId, requests: calls.length }, "cache purged");
  return output;
}

function fastlyMessage(response: HttpResponse): string | undefined {
  const body = response.body as { msg?: unknown; detail?: unknown } | undefined;
  if (!body || typeof body !== "object") return undefined;
  const parts = [body.msg, body.detail].filter((p): p is string => typeof p === "string" && p !== "");
  return parts.length ? parts.join(": ") : undefined;
}
