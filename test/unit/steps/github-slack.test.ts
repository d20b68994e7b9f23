// githubWorkflow and slack against a real HTTP server on 127.0.0.1 standing in for api.github.com
// and hooks.slack.com.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubWorkflowStep, type GithubWorkflowConfig } from "../../../src/steps/githubWorkflow/index.js";
import { slackStep, type SlackConfig } from "../../../src/steps/slack/index.js";
import { closedPort, failureOf, makeContext } from "./helpers.js";
import { startRecordingServer, type RecordingServer } from "../../helpers/recording-server.js";

const GH_TOKEN = "ghp_secretTokenValue1234567890";
const scope = { object: { metadata: { name: "web", namespace: "prod" }, spec: { image: "app:1.2.3", replicas: 2 } } };

let peer: RecordingServer;
beforeAll(async () => {
  peer = await startRecordingServer();
});
afterAll(async () => {
  await peer.close();
});

describe("githubWorkflow", () => {
  const context = () =>
    makeContext({ scope, secrets: { "github/token": GH_TOKEN }, endpoints: { github: `${peer.url}/api/v3/` } });
  const workflow: GithubWorkflowConfig = {
    owner: "acme",
    repo: "site",
    workflow: "deploy.yml",
    ref: "main",
    inputs: { image: "{{ object.spec.image }}", replicas: "{{ object.spec.replicas }}", dryRun: false },
    token: { secretKeyRef: { name: "github", key: "token" } },
  };

  it("dispatches a workflow with GitHub's headers and string inputs (204)", async () => {
    peer.respondWith(() => ({ status: 204 }));
    const { ctx, logs } = context();
    const outcome = await githubWorkflowStep.execute(workflow, ctx);
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/api/v3/repos/acme/site/actions/workflows/deploy.yml/dispatches");
    expect(req.headers.accept).toBe("application/vnd.github+json");
    expect(req.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(req.headers.authorization).toBe(`Bearer ${GH_TOKEN}`);
    expect(req.headers["idempotency-key"]).toBe(ctx.idempotencyKey);
    expect(req.json).toEqual({ ref: "main", inputs: { image: "app:1.2.3", replicas: "2", dryRun: "false" } });
    expect(outcome.output).toEqual({
      dispatch: "workflow",
      owner: "acme",
      repo: "site",
      workflow: "deploy.yml",
      ref: "main",
    });
    expect(logs()).not.toContain(GH_TOKEN);
  });

  it("accepts a numeric workflow id and reports run details when GitHub returns them", async () => {
    peer.respondWith(() => ({
      status: 200,
      body: { workflow_run_id: 99, run_url: "x", html_url: "https://github.com/acme/site/actions/runs/99" },
    }));
    const { ctx } = context();
    const outcome = await githubWorkflowStep.execute({ ...workflow, workflow: 1234, inputs: undefined }, ctx);
    expect(peer.requests.at(-1)!.path).toBe("/api/v3/repos/acme/site/actions/workflows/1234/dispatches");
    expect(peer.requests.at(-1)!.json).toEqual({ ref: "main" });
    expect(outcome.output).toMatchObject({ runId: 99, runUrl: "https://github.com/acme/site/actions/runs/99" });
  });

  it("sends repository_dispatch with event_type and client_payload", async () => {
    peer.respondWith(() => ({ status: 204 }));
    const { ctx } = context();
    const outcome = await githubWorkflowStep.execute(
      {
        dispatch: "repository",
        owner: "acme",
        repo: "site",
        eventType: "deployed-{{ object.metadata.namespace }}",
        clientPayload: { object: "{{ object.metadata }}", replicas: "{{ object.spec.replicas }}" },
        token: { secretKeyRef: { name: "github", key: "token" } },
      },
      ctx,
    );
    const req = peer.requests.at(-1)!;
    expect(req.path).toBe("/api/v3/repos/acme/site/dispatches");
    expect(req.json).toEqual({
      event_type: "deployed-prod",
      client_payload: { object: { name: "web", namespace: "prod" }, replicas: 2 },
    });
    expect(outcome.output).toEqual({ dispatch: "repository", owner: "acme", repo: "site", eventType: "deployed-prod" });
  });

  it("fails without retry on 422 with GitHub's message, and retries rate limits after the reset", async () => {
    const { ctx } = context();
    peer.respondWith(() => ({ status: 422, body: { message: "Workflow does not have 'workflow_dispatch' trigger" } }));
    const invalid = await failureOf(githubWorkflowStep, workflow, ctx);
    expect(invalid.retryable).toBe(false);
    expect(invalid.message).toContain("does not have 'workflow_dispatch' trigger");

    const reset = Math.floor(Date.now() / 1000) + 30;
    peer.respondWith(() => ({
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      body: { message: "API rate limit exceeded" },
    }));
    const limited = await failureOf(githubWorkflowStep, workflow, ctx);
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBeGreaterThan(20_000);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(30_000);

    peer.respondWith(() => ({
      status: 403,
      headers: { "retry-after": "60" },
      body: { message: "secondary rate limit" },
    }));
    expect(await failureOf(githubWorkflowStep, workflow, ctx)).toMatchObject({ retryable: true, retryAfterMs: 60_000 });

    peer.respondWith(() => ({ status: 403, body: { message: "Resource not accessible by integration" } }));
    expect((await failureOf(githubWorkflowStep, workflow, ctx)).retryable).toBe(false);

    peer.respondWith((req) => ({
      status: 401,
      body: { message: `Bad credentials: ${String(req.headers.authorization)}` },
    }));
    const denied = await failureOf(githubWorkflowStep, workflow, ctx);
    expect(denied.retryable).toBe(false);
    expect(denied.message).not.toContain(GH_TOKEN);

    peer.respondWith(() => ({ status: 502, body: "bad gateway" }));
    expect((await failureOf(githubWorkflowStep, workflow, ctx)).retryable).toBe(true);
  });

  it("lists its secret and checks the workflow name", () => {
    expect(githubWorkflowStep.secrets!(workflow)).toEqual([{ name: "github", key: "token" }]);
    expect(githubWorkflowStep.check!({ ...workflow, workflow: "deploy" })[0]?.path).toEqual(["workflow"]);
    expect(githubWorkflowStep.check!(workflow)).toEqual([]);
  });
});

describe("slack", () => {
  const hookPath = "/services/T000/B000/XXXXsecretXXXX";
  const context = () => makeContext({ scope, secrets: { "slack/url": `${peer.url}${hookPath}\n` } });
  const message: SlackConfig = {
    webhookUrl: { secretKeyRef: { name: "slack", key: "url" } },
    text: "Deployment {{ object.metadata.namespace }}/{{ object.metadata.name }} now runs {{ object.spec.image }}",
    blocks: [{ type: "section", text: { type: "mrkdwn", text: "*{{ object.metadata.name }}* updated" } }],
    channel: "#deploys",
  };

  it("posts JSON to the webhook from the secret", async () => {
    peer.respondWith(() => ({ status: 200, headers: { "content-type": "text/html" }, body: "ok" }));
    const { ctx, logs } = context();
    const outcome = await slackStep.execute(message, ctx);
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe(hookPath);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["idempotency-key"]).toBe(ctx.idempotencyKey);
    expect(req.json).toEqual({
      text: "Deployment prod/web now runs app:1.2.3",
      blocks: [{ type: "section", text: { type: "mrkdwn", text: "*web* updated" } }],
      channel: "#deploys",
    });
    expect(outcome.output).toEqual({ status: 200, response: "ok" });
    expect(logs()).not.toContain("XXXXsecretXXXX");
  });

  it("classifies Slack's errors and never shows the webhook URL", async () => {
    const { ctx } = context();
    peer.respondWith(() => ({ status: 404, body: "channel_not_found" }));
    const notFound = await failureOf(slackStep, message, ctx);
    expect(notFound.retryable).toBe(false);
    expect(notFound.message).toBe("Slack webhook answered 404 Not Found: channel_not_found");

    peer.respondWith(() => ({ status: 429, headers: { "retry-after": "3" }, body: "rate_limited" }));
    expect(await failureOf(slackStep, message, ctx)).toMatchObject({ retryable: true, retryAfterMs: 3000 });

    peer.respondWith((req) => ({ status: 400, body: `invalid_payload for ${req.path}` }));
    const echoed = await failureOf(slackStep, message, ctx);
    expect(echoed.message).not.toContain("XXXXsecretXXXX");

    const port = await closedPort();
    const { ctx: down } = makeContext({ scope, secrets: { "slack/url": `http://127.0.0.1:${port}${hookPath}` } });
    const refused = await failureOf(slackStep, message, down);
    expect(refused.retryable).toBe(true);
    expect(refused.message).not.toContain("XXXXsecretXXXX");
  });

  it("lists its secret", () => {
    expect(slackStep.secrets!(message)).toEqual([{ name: "slack", key: "url" }]);
  });
});
