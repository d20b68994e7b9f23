// The CLI as users run it: a child process per command (TypeScript through tsx).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { deployment } from "../helpers/objects.js";
import { closedPort } from "./steps/helpers.js";
import { startRecordingServer } from "../helpers/recording-server.js";

const root = join(import.meta.dirname, "../..");
const CLI = ["--import", "tsx", join(root, "src/cli/main.ts")];
const tmp = mkdtempSync(join(tmpdir(), "rh-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, RESOURCE_HOOKS_TOKEN: "" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof content === "string" ? content : stringify(content));
  return path;
}

describe("validate and generate", () => {
  it("validate reports a valid file and its watch count", () => {
    expect(cli("validate", "-f", "examples/hooks.yaml")).toEqual({
      code: 0,
      stdout: "examples/hooks.yaml: valid: 6 hook(s), 5 watch(es)\n",
      stderr: "",
    });
  });

  it("validate names file:line:column, the path and what was expected", () => {
    const bad = file(
      "bad.yaml",
      "apiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: web}\nspec:\n  runner: {url: http://web-runner:8080}\n  hooks:\n    - name: x\n      on: {resource: {version: v1, resource: configmaps}, events: [modify]}\n      steps: [{name: s, log: {message: hi}}]\n",
    );
    const r = cli("validate", "-f", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `${bad}:8:68: spec.hooks[0].on.events[0]: expected one of "add", "update", "delete", got string "modify"\n`,
    );
  });

  // generate (stream, --output-dir, --check): cli-ecosystem.test.ts
});

describe("simulate", () => {
  it("prints which hooks fire and why the others do not, with steps rendered, as JSON", () => {
    const r = cli(
      "simulate",
      "-f",
      "examples/hooks.yaml",
      "--old",
      "examples/objects/deployment-2-replicas.yaml",
      "--new",
      "examples/objects/deployment-4-replicas.yaml",
      "-o",
      "json",
    );
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{
      hook: string;
      fires: boolean;
      reason: string;
      steps: Array<{ name: string; config: { text?: string } }>;
    }>;
    expect(results.map((x) => [x.hook, x.fires, x.reason])).toEqual([
      ["purge-cdn-on-image-change", false, "none of spec.template.spec.containers[0].image changed"],
      ["log-frontend-changes", true, "generation changed from 3 to 4"],
      ["reload-config-job", false, "the event is for apps/v1/deployments, the hook watches v1/configmaps"],
      [
        "smoke-test-on-ingress-change",
        false,
        "the event is for apps/v1/deployments, the hook watches networking.k8s.io/v1/ingresses",
      ],
      ["announce-scaling", true, "spec.replicas changed"],
      ["purge-cdn-after-argocd-sync", false, "the event is for apps/deployments, not an Argo CD Application"],
    ]);
    expect(results[4]!.steps[0]!.config.text).toBe("web/frontend scaled from 2 to 4 replicas");
  });
});

describe("serve and send", () => {
  function serve(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, [...CLI, "serve", ...args], {
      cwd: root,
      env: { ...process.env, RESOURCE_HOOKS_TOKEN: "", ...env },
    });
  }
  async function listening(child: ChildProcessWithoutNullStreams): Promise<string> {
    let out = "";
    return new Promise((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)".*"msg":"runner listening"/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  }
  const exited = (child: ChildProcessWithoutNullStreams | ReturnType<typeof spawn>) =>
    new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

  it("refuses to start without a token, or with the generated placeholder", async () => {
    const none = cli("serve", "-f", "examples/hooks.yaml", "--store", "memory", "--port", "0");
    expect(none.code).toBe(2);
    expect(none.stdout).toContain(
      "no token: give --token-file or RESOURCE_HOOKS_TOKEN, or --insecure-no-auth for local experiments",
    );
    const placeholder = file("placeholder", "Bearer replace-me-with-a-random-token\n");
    const r = cli(
      "serve",
      "-f",
      "examples/hooks.yaml",
      "--store",
      "memory",
      "--port",
      "0",
      "--token-file",
      placeholder,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("the token is still the generated placeholder");
  }, 60_000);

  function scaledHookSet(peerUrl: string): string {
    return file("hooks.yaml", {
      apiVersion: "resource-hooks.io/v1alpha1",
      kind: "HookSet",
      metadata: { name: "t" },
      spec: {
        runner: { url: "http://127.0.0.1:8080", store: "memory" },
        hooks: [
          {
            name: "scaled",
            on: { resource: { group: "apps", version: "v1", resource: "deployments" }, changed: ["spec.replicas"] },
            steps: [
              { name: "call", http: { url: `${peerUrl}/scaled`, body: { replicas: "{{ object.spec.replicas }}" } } },
            ],
          },
        ],
      },
    });
  }

  it("send delivers what a Sensor sends; --wait follows the run to its end and prints its final record", async () => {
    const peer = await startRecordingServer({ responder: () => ({ status: 200, body: { ok: true } }) });
    const hooks = scaledHookSet(peer.url);
    const tokenFile = file("token", "Bearer cli-test-token-0123456789\n");
    const child = serve([
      "-f",
      hooks,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--token-file",
      tokenFile,
      "--no-kube-events",
    ]);
    const childExit = exited(child);
    const url = await listening(child);
    const oldFile = file("old.yaml", deployment({ replicas: 2 }));
    const newFile = file("new.yaml", deployment({ replicas: 5, generation: 4 }));
    // A refusal is an error: its status and body on stderr, nothing on stdout, exit 1.
    const refused = cli(
      "send",
      "--url",
      url,
      "-f",
      hooks,
      "--hook",
      "scaled",
      "--old",
      oldFile,
      "--new",
      newFile,
      "--token-file",
      file("wrong-token", "not-the-token-0123456789"),
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^HTTP 401: /);
    const send = spawn(
      process.execPath,
      [
        ...CLI,
        "send",
        "--url",
        url,
        "-f",
        hooks,
        "--hook",
        "scaled",
        "--old",
        oldFile,
        "--new",
        newFile,
        "--token-file",
        tokenFile,
        "--wait",
      ],
      { cwd: root },
    );
    const sendExit = exited(send);
    let sendOut = "";
    send.stdout.on("data", (c: Buffer) => (sendOut += c.toString()));
    expect(await sendExit).toBe(0);
    expect(peer.requests.map((r) => r.json)).toEqual([{ replicas: 5 }]);
    const answer = JSON.parse(sendOut) as {
      runs: Array<{ spec: { hook: string }; status: { phase: string; steps: unknown[] } }>;
    };
    expect(answer.runs).toHaveLength(1);
    expect(answer.runs[0]!.spec.hook).toBe("scaled");
    expect(answer.runs[0]!.status).toMatchObject({
      phase: "Succeeded",
      steps: [{ name: "call", phase: "Succeeded", attempts: 1 }],
    });
    child.kill("SIGTERM");
    expect(await childExit).toBe(0);
    await peer.close();
  }, 30_000);

  it("on SIGTERM the running run finishes within the grace period, then the runner exits 0", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const peer = await startRecordingServer({
      responder: async () => {
        await gate;
        return { status: 200, body: { ok: true } };
      },
    });
    const hooks = scaledHookSet(peer.url);
    const tokenFile = file("token", "Bearer cli-test-token-0123456789\n");
    const child = serve([
      "-f",
      hooks,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--token-file",
      tokenFile,
      "--no-kube-events",
      "--shutdown-grace",
      "20s",
    ]);
    let logs = "";
    child.stdout.on("data", (c: Buffer) => (logs += c.toString()));
    const childExit = exited(child);
    const url = await listening(child);
    const send = spawn(
      process.execPath,
      [
        ...CLI,
        "send",
        "--url",
        url,
        "-f",
        hooks,
        "--hook",
        "scaled",
        "--old",
        file("old.yaml", deployment({ replicas: 2 })),
        "--new",
        file("new.yaml", deployment({ replicas: 6, generation: 4 })),
        "--token-file",
        tokenFile,
      ],
      { cwd: root },
    );
    expect(await exited(send)).toBe(0);
    await peer.waitFor(1);
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    release();
    expect(await childExit).toBe(0);
    expect(logs).toMatch(/"msg":"run succeeded"/);
    await peer.close();
  }, 30_000);

  it("send to a runner that does not answer names the URL and the cause", async () => {
    const port = await closedPort();
    const hooks = scaledHookSet("http://127.0.0.1:9");
    const r = cli(
      "send",
      "--url",
      `http://127.0.0.1:${port}`,
      "-f",
      hooks,
      "--hook",
      "scaled",
      "--type",
      "add",
      "--new",
      file("new.yaml", deployment({ replicas: 6 })),
      "--token-file",
      file("token", "cli-test-token-0123456789"),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `cannot reach the runner at http://127.0.0.1:${port}/namespaces/argo-events/hooksets/t/watches/deployments-all: ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});
