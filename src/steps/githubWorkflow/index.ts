// githubWorkflow: start a GitHub Actions workflow.
//   dispatch: workflow   (default) workflow_dispatch of one workflow file or id at a ref, with inputs
//   dispatch: repository repository_dispatch with an event type and client payload
// GitHub answers 204 No Content. Rate-limit answers (403/429 with Retry-After or an exhausted
// X-RateLimit-Remaining) are retryable after the time GitHub names.
import {
  endpointUrl,
  jsonBody,
  joinUrl,
  parseRetryAfter,
  pathSegment,
  sendHttp,
  statusFailure,
  type Classification,
  type HttpResponse,
} from "../common/http.js";
import { renderText, renderValueAt } from "../common/render.js";
import { secretKeyRefs, secretSourceSchema } from "../common/secrets.js";
import { templated } from "../common/schema.js";
import { StepFailure, type SecretSource, type StepProblem, type StepType } from "../types.js";

export interface GithubWorkflowDispatchConfig {
  dispatch?: "workflow";
  owner: string;
  repo: string;
  /** Workflow file name (deploy.yml) or numeric id. */
  workflow: string | number;
  /** Branch or tag. */
  ref: string;
  /** Inputs of the workflow; values are sent as strings. */
  inputs?: Record<string, unknown>;
  token: SecretSource;
}

export interface GithubRepositoryDispatchConfig {
  dispatch: "repository";
  owner: string;
  repo: string;
  eventType: string;
  clientPayload?: Record<string, unknown>;
  token: SecretSource;
}

export type GithubWorkflowConfig = GithubWorkflowDispatchConfig | GithubRepositoryDispatchConfig;

const NAME_PATTERN = "^([A-Za-z0-9_.-]+|.*\\{\\{.*)$";

const common = {
  owner: templated("Repository owner (user or organization).", { pattern: NAME_PATTERN }),
  repo: templated("Repository name.", { pattern: NAME_PATTERN }),
  token: secretSourceSchema(
    "GitHub token (fine-grained: Actions write for workflow dispatch, Contents write for repository dispatch).",
  ),
};

/** GitHub's rate limits: 403/429 with Retry-After, or X-RateLimit-Remaining 0 until X-RateLimit-Reset. */
export function githubClassification(response: HttpResponse, now: number = Date.now()): Classification | undefined {
  if (response.status !== 403 && response.status !== 429) return undefined;
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now);
  if (retryAfterMs !== undefined) return { retryable: true, retryAfterMs };
  if (response.headers.get("x-ratelimit-remaining") === "0") {
    const reset = Number(response.headers.get("x-ratelimit-reset"));
    return Number.isFinite(reset) && reset > 0
      ? { retryable: true, retryAfterMs: Math.max(0, reset * 1000 - now) }
      : { retryable: true };
  }
  return undefined;
}

function stringInputs(inputs: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(inputs)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "string") out[key] = value;
    else out[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

export const GITHUB_ENDPOINT = "github";

export const githubWorkflowStep: StepType<GithubWorkflowConfig> = {
  type: "githubWorkflow",
  endpoints: {
    [GITHUB_ENDPOINT]: {
      default: "https://api.github.com",
      description: "GitHub REST API base URL (GitHub Enterprise: https://ghe.example/api/v3).",
    },
  },
  schema: {
    type: "object",
    description:
      "Start a GitHub Actions workflow: workflow_dispatch (dispatch: workflow, the default) or " +
      "repository_dispatch (dispatch: repository).",
    oneOf: [
      {
        type: "object",
        additionalProperties: false,
        required: ["owner", "repo", "workflow", "ref", "token"],
        properties: {
          dispatch: {
            type: "string",
            const: "workflow",
            description: "workflow_dispatch of one workflow (the default).",
          },
          ...common,
          workflow: {
            description: "Workflow file name (e.g. deploy.yml) or numeric id.",
            anyOf: [
              { type: "string", minLength: 1 },
              { type: "integer", minimum: 1 },
            ],
          },
          ref: templated("Branch or tag to run the workflow on."),
          inputs: {
            type: "object",
            description: "Workflow inputs (values templated; sent as strings, at most 25).",
            maxProperties: 25,
          },
        },
      },
      {
        type: "object",
        additionalProperties: false,
        required: ["dispatch", "owner", "repo", "eventType", "token"],
        properties: {
          dispatch: {
            type: "string",
            const: "repository",
            description: "repository_dispatch: triggers workflows `on: repository_dispatch`.",
          },
          ...common,
          eventType: templated("Event type (workflows filter on it with `types:`), at most 100 characters.", {
            maxLength: 100,
          }),
          clientPayload: {
            type: "object",
            description: "JSON payload for github.event.client_payload (templated, at most 10 top-level keys).",
            maxProperties: 10,
          },
        },
      },
    ],
  },

  check(config) {
    const problems: StepProblem[] = [];
    if (
      config &&
      config.dispatch !== "repository" &&
      typeof config.workflow === "string" &&
      !config.workflow.includes("{{")
    ) {
      if (!/^\d+$/.test(config.workflow) && !/\.ya?ml$/.test(config.workflow)) {
        problems.push({
          path: ["workflow"],
          message: "a workflow is a file name ending in .yml/.yaml or a numeric id",
        });
      }
    }
    return problems;
  },

  secrets(config) {
    return secretKeyRefs(config?.token);
  },

  async execute(config, ctx) {
    const owner = renderText(ctx, config.owner, "owner");
    const repo = renderText(ctx, config.repo, "repo");
    const repoPath = `/repos/${pathSegment(owner, "owner")}/${pathSegment(repo, "repo")}`;
    let path: string;
    let payload: unknown;
    let output: Record<string, unknown>;
    if (config.dispatch === "repository") {
      const eventType = renderText(ctx, config.eventType, "eventType");
      path = `${repoPath}/dispatches`;
      payload = {
        event_type: eventType,
        ...(config.clientPayload !== undefined
          ? { client_payload: renderValueAt(ctx, config.clientPayload, "clientPayload") }
          : {}),
      };
      output = { dispatch: "repository", owner, repo, eventType };
    } else {
      const workflow =
        typeof config.workflow === "number" ? String(config.workflow) : renderText(ctx, config.workflow, "workflow");
      const ref = renderText(ctx, config.ref, "ref");
      const inputs = config.inputs !== undefined ? renderValueAt(ctx, config.inputs, "inputs") : undefined;
      if (inputs !== undefined && (inputs === null || typeof inputs !== "object" || Array.isArray(inputs))) {
        throw new StepFailure("inputs: expected a map", { retryable: false });
      }
      path = `${repoPath}/actions/workflows/${pathSegment(workflow, "workflow")}/dispatches`;
      payload = { ref, ...(inputs ? { inputs: stringInputs(inputs) } : {}) };
      output = { dispatch: "workflow", owner, repo, workflow, ref };
    }
    const token = await ctx.secret(config.token);
    const label = `GitHub (POST ${path})`;
    const response = await sendHttp(ctx, {
      method: "POST",
      url: joinUrl(endpointUrl(ctx, GITHUB_ENDPOINT), path),
      headers: {
        Accept: "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
      },
      body: jsonBody(payload),
      label,
    });
    if (response.status < 200 || response.status >= 300) {
      const message = (response.body as { message?: unknown } | undefined)?.message;
      throw statusFailure(
        response,
        label,
        typeof message === "string" ? message : undefined,
        githubClassification(response),
      );
    }
    // With return_run_details GitHub answers 200 with the run; plain dispatches answer 204.
    const run =
      response.body && typeof response.body === "object" ? (response.body as Record<string, unknown>) : undefined;
    if (typeof run?.workflow_run_id === "number") output.runId = run.workflow_run_id;
    if (typeof run?.html_url === "string") output.runUrl = run.html_url;
    ctx.logger.info({ owner, repo, dispatch: output.dispatch }, "GitHub workflow dispatched");
    return { output };
  },
};
