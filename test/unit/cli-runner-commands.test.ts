// The commands that talk to a runner or a cluster: send (on any port, following every run the
// event fired), runs list as a table, explain and serve when the cluster or kubeconfig is not
// usable. A real `serve` child process, a recording server for the hooks' HTTP steps.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { runsTable } from "../../src/cli/runs.js";
import { CLI, cliAsync, ROOT } from "../helpers/cli.js";
import { deployment } from "../helpers/objects.js";
import { pollUntil } from "../helpers/poll.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { closedPort } from "./steps/helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "rh-cli-runner-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof content === "string" ? content : stringify(content));
  return path;
}

// Ports fetch() refuses before connecting (the WHATWG "bad ports" above 1023).
const BAD_PORTS = [6000, 10080, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 5060, 5061, 4045, 4190, 3659, 2049, 1719];

async function freeBadPort(): Promise<number> {
  for (const port of BAD_PORTS) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`every bad port is taken: ${BAD_PORTS.join(", ")}`);
}

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

describe("send and runs against a runner on a port fetch refuses", { timeout: 120_000 }, () => {
  let peer: RecordingServer;
  let runner: ChildProcessWithoutNullStreams;
  let url = "";
  let hooks = "";
  /** Everything the runner wrote to stdout so far. */
  let logs = "";
  const token = file("token", "Bearer cli-test-token-0123456789\n");

  beforeAll(async () => {
    // The notify hook's endpoint refuses: its run fails at once (a 400 is not retried).
    peer = await startRecordingServer({ responder: () => ({ status: 400, body: { error: "no" } }) });
    const watch = { group: "apps", version: "v1", resource: "deployments" };
    hooks = file("hooks.yaml", {
      apiVersion: "resource-hooks.io/v1alpha1",
      kind: "HookSet",
      metadata: { name: "t" },
      spec: {
        runner: { url: "http://127.0.0.1:8080", store: "memory" },
        hooks: [
          {
            name: "scaled",
            on: { resource: watch, changed: ["spec.replicas"] },
            steps: [{ name: "say", log: { message: "m" } }],
          },
          {
            name: "scaled-notify",
            on: { resource: watch, changed: ["spec.replicas"] },
            steps: [{ name: "call", retries: 0, http: { url: `${peer.url}/scaled` } }],
          },
        ],
      },
    });
    const port = await freeBadPort();
    url = `http://127.0.0.1:${port}`;
    runner = spawn(
      process.execPath,
      [
        ...CLI,
        "serve",
        "-f",
        hooks,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--token-file",
        token,
        "--no-kube-events",
      ],
      { cwd: ROOT, env: { ...process.env, RESOURCE_HOOKS_TOKEN: "" } },
    );
    await new Promise<void>((resolve, reject) => {
      runner.stdout.on("data", (chunk: Buffer) => {
        logs += chunk.toString();
        if (logs.includes('"msg":"runner listening"')) resolve();
      });
      runner.on("exit", (code) => reject(new Error(`serve exited ${code}: ${logs}`)));
    });
  });
  afterAll(async () => {
    if (runner.exitCode === null && runner.signalCode === null) {
      const done = exited(runner);
      runner.kill("SIGTERM");
      await done;
    }
    await peer.close();
  });

  const send = (...extra: string[]) =>
    cliAsync([
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
      file("new.yaml", deployment({ replicas: 5, generation: 4 })),
      "--token-file",
      token,
      ...extra,
    ]);

  it("send --wait reaches it, follows every run the event fired, names the other hook, and fails as one run did", async () => {
    const r = await send("--wait");
    const answer = JSON.parse(r.stdout) as { runs: Array<{ spec: { hook: string }; status: { phase: string } }> };
    expect(answer.runs.map((run) => [run.spec.hook, run.status.phase]).sort()).toEqual([
      ["scaled", "Succeeded"],
      ["scaled-notify", "Failed"],
    ]);
    expect(r.stderr).toMatch(
      /^note: the event also fired hook scaled-notify \(same watch as scaled\); following their runs too\n/,
    );
    expect(r.stderr).toMatch(/\nresource-hooks: 1 of 2 run\(s\) did not succeed: \S+ \(hook scaled-notify\) Failed\n$/);
    expect(r.code).toBe(1);
    expect(peer.requests).toHaveLength(1);
  });

  it("runs list -o table shows the runs as kubectl get hookruns does", async () => {
    const r = await cliAsync(["runs", "list", "--url", url, "--token-file", token, "-o", "table"]);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAME +HOOK +OBJECT +PHASE +AGE$/);
    expect(rows.map((row) => row.split(/ {3,}/).slice(1, 4)).sort()).toEqual([
      ["scaled", "Deployment web/frontend", "Succeeded"],
      ["scaled-notify", "Deployment web/frontend", "Failed"],
    ]);
    // In a pipe without -o: JSON, as before.
    const piped = await cliAsync(["runs", "list", "--url", url, "--token-file", token]);
    expect((JSON.parse(piped.stdout) as { runs: unknown[] }).runs).toHaveLength(2);
  });

  it("logs while it serves, though lines are written in batches, and its last line when it stops", async () => {
    // The runs above logged far less than a batch: only the flush interval brings their lines.
    await pollUntil("the runs' log lines", 10_000, async () =>
      logs.includes('"msg":"run failed"') ? true : undefined,
    );
    expect(logs).toContain('"msg":"run succeeded"');
    expect(logs).toContain('"msg":"run failed"');
    const done = exited(runner);
    runner.kill("SIGTERM");
    expect(await done).toBe(0);
    // Its last line, logged as it stops, reaches stdout before the process is gone.
    expect(logs.trimEnd().split("\n").at(-1)).toMatch(/"msg":"stopped"/);
  });
});

describe("the runner's log", () => {
  it("writes what waits in its batch when the process exits, long before the flush interval", () => {
    const script = [
      `const { makeLogger } = await import(${JSON.stringify(join(ROOT, "src/cli/runner-options.ts"))});`,
      `const logger = await makeLogger("info", "t");`,
      `logger.info("first");`,
      `logger.error("last, right before the exit");`,
      `process.exit(3);`,
    ].join("\n");
    const r = spawnSync(process.execPath, [CLI[0]!, CLI[1]!, "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(r.status).toBe(3);
    expect(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((line) => (JSON.parse(line) as { msg: string }).msg),
    ).toEqual(["first", "last, right before the exit"]);
  });
});

describe("runsTable", () => {
  it("aligns columns and gives ages as kubectl does", () => {
    const now = Date.parse("2026-03-17T12:00:00Z");
    const run = (name: string, acceptedAt: string) => ({
      metadata: { name },
      spec: { hook: "h", subject: "ConfigMap web/x", acceptedAt },
      status: { phase: "Succeeded" },
    });
    expect(runsTable([run("h-1", "2026-03-17T11:59:15Z"), run("h-long-name-2", "2026-03-15T12:00:00Z")], now)).toBe(
      [
        "NAME            HOOK   OBJECT            PHASE       AGE",
        "h-1             h      ConfigMap web/x   Succeeded   45s",
        "h-long-name-2   h      ConfigMap web/x   Succeeded   2d",
      ].join("\n"),
    );
  });
});

describe("explain and serve without a usable cluster", { timeout: 120_000 }, () => {
  const example = join(ROOT, "examples/hooks.yaml");
  const home = mkdtempSync(join(tmp, "home-"));
  const noCluster = { HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined };
  const explain = (...extra: string[]) =>
    cliAsync(["explain", "log-frontend-changes", "--object", "web/frontend", "-f", example, ...extra], {
      env: noCluster,
    });

  it("without any kubeconfig, explain says so and how to give one, exit 1", async () => {
    const r = await explain();
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "resource-hooks: no kubeconfig found (no --kubeconfig, $KUBECONFIG is not set, no ~/.kube/config, " +
        "not in a pod): explain reads the cluster; give one with --kubeconfig <file> or KUBECONFIG=<file>\n",
    });
  });

  it("with a cluster that does not answer, explain prints what it knows and says it cannot reach it, exit 1", async () => {
    const port = await closedPort();
    const kubeconfig = file("unreachable.kubeconfig", {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    });
    const r = await explain("--kubeconfig", kubeconfig);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `object: GET /apis/apps/v1/namespaces/web/deployments/frontend: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(r.stderr).toBe(
      `resource-hooks: cannot reach the cluster at http://127.0.0.1:${port} (from --kubeconfig ${kubeconfig}): ` +
        `GET /apis/apps/v1/namespaces/web/deployments/frontend: connect ECONNREFUSED 127.0.0.1:${port}; ` +
        "check that it is up and reachable, " +
        "or choose another with --kubeconfig or --context\n",
    );
  });

  it("a --kubeconfig that cannot be read is a usage error for explain and serve (exit 2), not ignored", async () => {
    const missing = join(tmp, "absent.kubeconfig");
    const r = await explain("--kubeconfig", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error: --kubeconfig ${missing}: cannot load it: .*ENOENT`));
    const serve = await cliAsync(
      ["serve", "-f", example, "--store", "memory", "--insecure-no-auth", "--port", "0", "--kubeconfig", missing],
      { env: noCluster },
    );
    expect(serve.code).toBe(2);
    expect(serve.stdout).toContain(`"msg":"--kubeconfig ${missing}: cannot load it:`);
  });
});
