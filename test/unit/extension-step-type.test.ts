// A new step type is one folder and one line in src/steps/registry.ts. This test copies src/ to a
// temporary folder, adds a throwaway step type there (src/steps/echo/index.ts: a URL field, a
// secret, a permission) and one registry line, and nothing else; then, in one child process on that
// copy, it validates a hooks.yaml using it, generates the manifests, runs it in a real runner
// against a local HTTP server and simulates it. Any of those paths that still names the step
// types itself fails here.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

const root = join(import.meta.dirname, "../..");

const ECHO_STEP = `// echo: sends text to a URL with a token from a secret (a throwaway step type for a test).
import { renderText, renderUrlAt } from "../common/render.js";
import { secretKeyRefs, secretSourceSchema } from "../common/secrets.js";
import { templated } from "../common/schema.js";
import { StepFailure, type SecretSource, type StepType } from "../types.js";

export interface EchoConfig {
  url: string;
  text: string;
  token: SecretSource;
}

export const echoStep: StepType<EchoConfig> = {
  type: "echo",
  urlFields: { url: "url" },
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["url", "text", "token"],
    description: "Send text to a URL.",
    properties: {
      url: templated("Where to send it."),
      text: templated("What to send."),
      token: secretSourceSchema("The token the URL wants."),
    },
  },
  permissions: () => [{ group: "", resource: "configmaps", namespace: "echo-room", verbs: ["get"] }],
  secrets: (config) => secretKeyRefs(config.token),
  async execute(config, ctx) {
    const url = renderUrlAt(ctx, config.url, "url");
    const text = renderText(ctx, config.text, "text");
    const token = await ctx.secret(config.token);
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: \`Echo \${token}\` },
      body: text,
      signal: ctx.signal,
    });
    if (!response.ok) throw new StepFailure(\`echo: \${response.status}\`, { retryable: false });
    return { output: { status: response.status } };
  },
};
`;

const REGISTRY_LINE = `  (await import("./echo/index.js")).echoStep,`;

const hooksYaml = (echo: string) => `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: web
  namespace: argo-events
spec:
  runner:
    url: http://web-runner.argo-events.svc:8080
  hooks:
    - name: shout
      on:
        resource: {group: apps, version: v1, resource: deployments, namespace: web}
        changed: ["spec.template.spec.containers[0].image"]
      steps:
        - name: echo-image
          echo:
${echo}`;

/** Runs in the copy: everything it finds goes to stdout as one JSON document. */
const CHECK = `import { readFileSync } from "node:fs";
import { pino } from "pino";
import { generate } from "./src/generate/index.js";
import { formatProblem, parseHookSet, SpecError } from "./src/hookset/load.js";
import { createRuntime } from "./src/runner/runtime.js";
import { createRunner, listen } from "./src/runner/server.js";
import { MemoryRunStore } from "./src/runner/store/memory.js";
import { LocalShardStore } from "./src/runner/memory/store.js";
import { simulate } from "./src/simulate.js";
import { resourceEventRequest, sendEvent, watchPathOf } from "./src/testing/index.js";

const TOKEN = "extension-test-token-0123456789";
const hookSet = parseHookSet(readFileSync("hooks.yaml", "utf8"), "hooks.yaml");
let rejected: unknown = null;
try {
  parseHookSet(readFileSync("bad.yaml", "utf8"), "hooks.yaml");
} catch (err) {
  rejected = err instanceof SpecError ? err.problems.map(formatProblem) : String(err);
}

const generated = generate(hookSet).flatMap((f) => f.objects) as Array<Record<string, any>>;
const roles = generated
  .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
  .map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, rules: o.rules }));
const deployment = generated.find((o) => o.kind === "Deployment")!;
const secretVolumes = deployment.spec.template.spec.volumes
  .filter((v: any) => v.secret)
  .map((v: any) => v.secret.secretName);

const image = (tag: string) => "registry.example/frontend:" + tag;
const frontend = (tag: string, resourceVersion: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "frontend", namespace: "web", uid: "uid-frontend", resourceVersion, generation: 2 },
  spec: { template: { spec: { containers: [{ name: "web", image: image(tag) }] } } },
});
const object = frontend("2.0", "12");
const oldObject = frontend("1.0", "11");

const store = new MemoryRunStore();
const runner = createRunner({
  hookSet,
  token: TOKEN,
  runtime: createRuntime({ secretsDir: "secrets" }),
  store,
  memoryShards: new LocalShardStore(),
  namespace: "argo-events",
  holder: "extension-test",
  logger: pino({ level: "silent" }),
  retryBaseMs: 50,
});
await runner.start();
const running = await listen(runner, 0, "127.0.0.1");
const request = resourceEventRequest({ object, oldObject, group: "apps", version: "v1", resource: "deployments" }, TOKEN);
const answer = await sendEvent(running.url, watchPathOf(hookSet, "shout"), request);
const runName = (answer.body as { runs: Array<{ name: string }> }).runs[0]!.name;
const until = Date.now() + 20_000;
let run = store.get(runName);
while (!run || !["Succeeded", "Failed"].includes(run.status.phase)) {
  if (Date.now() > until) break;
  await new Promise((r) => setTimeout(r, 20));
  run = store.get(runName);
}
await running.stop(1000);

const simulated = simulate(hookSet, { type: "UPDATE", object, oldObject });

process.stdout.write(
  JSON.stringify({
    validated: hookSet.hooks.map((h) => h.steps.map((s) => s.type)),
    rejected,
    roles,
    secretVolumes,
    accepted: answer.status,
    run: run && { phase: run.status.phase, steps: run.status.steps },
    simulated: simulated.map((s) => ({ fires: s.fires, steps: s.steps })),
  }),
);
`;

interface Findings {
  validated: string[][];
  rejected: string[] | string | null;
  roles: Array<{ kind: string; namespace?: string; rules: Array<{ resources: string[]; verbs: string[] }> }>;
  secretVolumes: string[];
  accepted: number;
  run?: { phase: string; steps: Array<{ name: string; phase: string; output?: unknown; error?: string }> };
  simulated: Array<{ fires: boolean; steps: Array<{ name: string; type: string; config: Record<string, unknown> }> }>;
}

describe("a step type added as one folder and one registry line", () => {
  let dir: string;
  let peer: RecordingServer;
  let findings: Findings;
  let badEchoLine: number;

  beforeAll(async () => {
    peer = await startRecordingServer({ responder: { status: 200, body: { ok: true } } });
    dir = mkdtempSync(join(tmpdir(), "resource-hooks-extension-"));
    cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
    // src/version.ts reads the package.json beside src/, which also makes the copy ESM.
    cpSync(join(root, "package.json"), join(dir, "package.json"));
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");

    mkdirSync(join(dir, "src/steps/echo"));
    writeFileSync(join(dir, "src/steps/echo/index.ts"), ECHO_STEP);
    const registryPath = join(dir, "src/steps/registry.ts");
    const lines = readFileSync(registryPath, "utf8").split("\n");
    const last = lines.findIndex((l) => l.includes(".logStep,"));
    expect(last).toBeGreaterThan(0);
    lines.splice(last + 1, 0, REGISTRY_LINE);
    writeFileSync(registryPath, lines.join("\n"));

    const echo = [
      `            url: "${peer.url}/echo/{{ object.metadata.name }}?image={{ object.spec.template.spec.containers[0].image }}"`,
      `            text: "image {{ object.spec.template.spec.containers[0].image }}"`,
      `            token: {secretKeyRef: {name: echo-token, key: token}}`,
      "",
    ];
    writeFileSync(join(dir, "hooks.yaml"), hooksYaml(echo.join("\n")));
    const bad = hooksYaml([...echo.slice(0, 3), "            colour: red", ""].join("\n"));
    badEchoLine = bad.split("\n").findIndex((l) => l.includes("colour:")) + 1;
    writeFileSync(join(dir, "bad.yaml"), bad);
    mkdirSync(join(dir, "secrets/echo-token"), { recursive: true });
    writeFileSync(join(dir, "secrets/echo-token/token"), "s3cret-echo-token\n");
    writeFileSync(join(dir, "check.ts"), CHECK);

    // Asynchronously: the HTTP server the step calls lives in this process. A child process
    // through tsx is slow on a loaded machine; the timeout only guards a hang.
    const r = await promisify(execFile)(process.execPath, ["--import", "tsx", "check.ts"], {
      cwd: dir,
      encoding: "utf8",
    });
    findings = JSON.parse(r.stdout) as Findings;
  }, 90_000);
  afterAll(async () => {
    await peer.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the copy differs from src/ by the step's folder and one registry line", () => {
    const original = readFileSync(join(root, "src/steps/registry.ts"), "utf8").split("\n");
    const copied = readFileSync(join(dir, "src/steps/registry.ts"), "utf8").split("\n");
    expect(copied.filter((l) => !original.includes(l))).toEqual([REGISTRY_LINE]);
    expect(copied).toHaveLength(original.length + 1);
  });

  it("hooks.yaml validation accepts it, and rejects a field it does not know at file:line:column", () => {
    expect(findings.validated).toEqual([["echo"]]);
    const at = `hooks.yaml:${badEchoLine}:13: spec.hooks[0].steps[0].echo: `;
    expect(findings.rejected).toEqual([expect.stringMatching(new RegExp(`^${escape(at)}unknown field "colour"`))]);
  });

  it("generate grants what it declares and mounts its secret", () => {
    expect(findings.roles).toContainEqual({
      kind: "Role",
      namespace: "echo-room",
      rules: [expect.objectContaining({ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] })],
    });
    expect(findings.secretVolumes).toContain("echo-token");
  });

  it("the runner executes it against a real HTTP server, with its URL rendered as a URL and its secret", () => {
    expect(findings.accepted).toBe(202);
    expect(findings.run).toMatchObject({
      phase: "Succeeded",
      steps: [{ name: "echo-image", phase: "Succeeded", output: { status: 200 } }],
    });
    expect(peer.requests.map((r) => [r.method, r.path, r.bodyText, r.headers.authorization])).toEqual([
      [
        "POST",
        "/echo/frontend?image=registry.example%2Ffrontend%3A2.0",
        "image registry.example/frontend:2.0",
        "Echo s3cret-echo-token",
      ],
    ]);
  });

  it("simulate renders its URL field as the runner sent it, and its other fields as text", () => {
    expect(findings.simulated).toEqual([
      {
        fires: true,
        steps: [
          expect.objectContaining({
            name: "echo-image",
            type: "echo",
            config: {
              url: `${peer.url}${peer.requests[0]!.path}`,
              text: "image registry.example/frontend:2.0",
              token: { secretKeyRef: { name: "echo-token", key: "token" } },
            },
          }),
        ],
      },
    ]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
