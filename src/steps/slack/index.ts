// slack: post a message through a Slack incoming webhook. The webhook URL is the credential, so
// it comes from a secret and never appears in messages: the peer is called "Slack webhook".
// Slack answers 200 "ok"; errors are plain-text codes (invalid_payload, channel_not_found, ...).
import { excerpt, jsonBody, sendHttp, statusFailure } from "../common/http.js";
import { renderText, renderValueAt } from "../common/render.js";
import { secretKeyRefs, secretSourceSchema } from "../common/secrets.js";
import { templated } from "../common/schema.js";
import { StepFailure, type SecretSource, type StepType } from "../types.js";

export interface SlackConfig {
  webhookUrl: SecretSource;
  text: string;
  blocks?: unknown[] | string;
  channel?: string;
}

const LABEL = "Slack webhook";

export const slackStep: StepType<SlackConfig> = {
  type: "slack",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["webhookUrl", "text"],
    description: "Post a message to Slack through an incoming webhook.",
    properties: {
      webhookUrl: secretSourceSchema("Incoming webhook URL (https://hooks.slack.com/services/...)."),
      text: templated("Message text (mrkdwn); also the notification fallback when blocks are given."),
      blocks: {
        description: "Block Kit blocks (strings templated), or one template that gives the list.",
        anyOf: [
          { type: "array", items: { type: "object" }, maxItems: 50 },
          { type: "string", pattern: "^\\s*\\{\\{[\\s\\S]*\\}\\}\\s*$" },
        ],
      },
      channel: templated("Channel override (only legacy webhooks honour it)."),
    },
  },

  secrets(config) {
    return secretKeyRefs(config?.webhookUrl);
  },

  async execute(config, ctx) {
    const text = renderText(ctx, config.text, "text");
    const payload: Record<string, unknown> = { text };
    if (config.blocks !== undefined) {
      const blocks = renderValueAt<unknown>(ctx, config.blocks, "blocks");
      if (!Array.isArray(blocks)) throw new StepFailure("blocks: expected a list of blocks", { retryable: false });
      payload.blocks = blocks;
    }
    if (config.channel !== undefined) payload.channel = renderText(ctx, config.channel, "channel");
    const url = await ctx.secret(config.webhookUrl);
    if (!/^https?:\/\//.test(url))
      throw new StepFailure("the Slack webhook URL from the secret is not an http(s) URL", { retryable: false });
    const response = await sendHttp(ctx, {
      method: "POST",
      url,
      headers: { "Content-Type": "application/json" },
      body: jsonBody(payload),
      label: LABEL,
    });
    if (response.status < 200 || response.status >= 300) throw statusFailure(response, LABEL);
    ctx.logger.info({ status: response.status }, "Slack message posted");
    return { output: { status: response.status, response: excerpt(response.text, 200) } };
  },
};
