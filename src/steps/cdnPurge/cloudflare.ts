// Cloudflare: POST {cloudflare}/client/v4/zones/{zoneId}/purge_cache with a Bearer API token.
import { jsonBody, joinUrl, sendHttp, statusFailure } from "../shared/http.js";
import { renderList, renderText } from "../shared/render.js";
import type { SecretBag } from "../shared/secrets.js";
import { StepFailure, type SecretSource, type StepContext } from "../types.js";

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

export async function purgeCloudflare(config: CloudflarePurgeConfig, ctx: StepContext, secrets: SecretBag): Promise<{ provider: "cloudflare"; id?: string }> {
  const zoneId = renderText(ctx, config.zoneId, "zoneId");
  let payload: Record<string, unknown>;
  if (config.everything) {
    payload = { purge_everything: true };
  } else {
    const target = (["files", "prefixes", "tags", "hosts"] as const).find((t) => config[t] !== undefined);
    if (!target) throw new StepFailure("nothing to purge: give one of files, prefixes, tags, hosts or everything", { retryable: false });
    const items = renderList(ctx, config[target]!, target);
    if (items.length === 0) throw new StepFailure(`${target}: the list is empty`, { retryable: false });
    payload = { [target]: items };
  }
  const token = await secrets.read(config.token);
  const path = `/client/v4/zones/${encodeURIComponent(zoneId)}/purge_cache`;
  const label = `Cloudflare (POST ${path})`;
  const response = await sendHttp(
    ctx,
    {
      method: "POST",
      url: joinUrl(ctx.runtime.endpoints.cloudflare, path),
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
      body: jsonBody(payload),
      label,
    },
    secrets,
  );
  const answer = (response.body && typeof response.body === "object" ? response.body : {}) as CloudflareAnswer;
  const errors = (answer.errors ?? []).map((e) => `${e.code ?? "?"} ${e.message ?? ""}`.trim()).join("; ");
  if (response.status < 200 || response.status >= 300) throw statusFailure(response, label, errors || undefined);
  if (answer.success === false) throw new StepFailure(`${label} refused the purge: ${errors || "success: false"}`, { retryable: false });
  const id = answer.result?.id;
  ctx.logger.info({ provider: "cloudflare", zoneId, id }, "cache purged");
  return { provider: "cloudflare", ...(typeof id === "string" ? { id } : {}) };
}
