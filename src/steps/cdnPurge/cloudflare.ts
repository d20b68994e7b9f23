// Cloudflare: POST {cloudflare}/client/v4/zones/{zoneId}/purge_cache with a Bearer API token.
// files and prefixes are URL templates (placeholder values percent-encoded).
import { endpointUrl, jsonBody, joinUrl, pathSegment, sendHttp, statusFailure } from "../common/http.js";
import { renderList, renderText, renderUrlList } from "../common/render.js";
import { StepFailure, type SecretSource, type StepContext } from "../types.js";

export const CLOUDFLARE_ENDPOINT = "cloudflare";

export type StringList = string | string[];

export interface CloudflarePurgeConfig {
  provider: "cloudflare";
  zoneId: string;
  files?: StringList;
  prefixes?: StringList;
  tags?: StringList;
  hosts?: StringList;
  everything?: boolean;
  token: SecretSource;
}

export const CLOUDFLARE_TARGETS = ["files", "prefixes", "tags", "hosts", "everything"] as const;

interface CloudflareAnswer {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: { id?: string } | null;
}

export async function purgeCloudflare(
  config: CloudflarePurgeConfig,
  ctx: StepContext,
): Promise<{ provider: "cloudflare"; id?: string }> {
  const zoneId = renderText(ctx, config.zoneId, "zoneId");
  let payload: Record<string, unknown>;
  if (config.everything) {
    payload = { purge_everything: true };
  } else {
    const target = (["files", "prefixes", "tags", "hosts"] as const).find((t) => config[t] !== undefined);
    if (!target)
      throw new StepFailure("nothing to purge: give one of files, prefixes, tags, hosts or everything", {
        retryable: false,
      });
    const items =
      target === "files" || target === "prefixes"
        ? renderUrlList(ctx, config[target]!, target)
        : renderList(ctx, config[target]!, target);
    if (items.length === 0) throw new StepFailure(`${target}: the list is empty`, { retryable: false });
    payload = { [target]: items };
  }
  const token = await ctx.secret(config.token);
  const path = `/client/v4/zones/${pathSegment(zoneId, "zoneId")}/purge_cache`;
  const label = `Cloudflare (POST ${path})`;
  const response = await sendHttp(ctx, {
    method: "POST",
    url: joinUrl(endpointUrl(ctx, CLOUDFLARE_ENDPOINT), path),
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
    body: jsonBody(payload),
    label,
  });
  const answer = (response.body && typeof response.body === "object" ? response.body : {}) as CloudflareAnswer;
  const errors = (answer.errors ?? []).map((e) => `${e.code ?? "?"} ${e.message ?? ""}`.trim()).join("; ");
  if (response.status < 200 || response.status >= 300) throw statusFailure(response, label, errors || undefined);
  if (answer.success === false)
    throw new StepFailure(`${label} refused the purge: ${errors || "success: false"}`, { retryable: false });
  const id = answer.result?.id;
  ctx.logger.info({ provider: "cloudflare", zoneId, id }, "cache purged");
  return { provider: "cloudflare", ...(typeof id === "string" ? { id } : {}) };
}
