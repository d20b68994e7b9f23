// log: write a templated message (and optional templated fields) to the runner's log.
import { renderText, renderValueAt } from "../common/render.js";
import { templated } from "../common/schema.js";
import { StepFailure, type StepType } from "../types.js";

export interface LogConfig {
  message: string;
  level?: "info" | "warn" | "error";
  fields?: Record<string, unknown>;
}

export const logStep: StepType<LogConfig> = {
  type: "log",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["message"],
    description: "Write a message to the runner's log.",
    properties: {
      message: templated("The message."),
      level: {
        type: "string",
        enum: ["info", "warn", "error"],
        default: "info",
        description: "Log level (default info).",
      },
      fields: { type: "object", description: "Extra structured fields for the log line (values templated)." },
    },
  },

  async execute(config, ctx) {
    const message = renderText(ctx, config.message, "message");
    const level = config.level ?? "info";
    const fields = config.fields !== undefined ? renderValueAt(ctx, config.fields, "fields") : undefined;
    if (fields !== undefined && (fields === null || typeof fields !== "object" || Array.isArray(fields))) {
      throw new StepFailure("fields: expected a map", { retryable: false });
    }
    ctx.logger[level]({ ...(fields ?? {}) }, message);
    return { output: { level, message } };
  },
};
