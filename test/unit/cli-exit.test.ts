// How the CLI ends: every byte it wrote reaches the reader before the process exits, also into a
// pipe that is read slowly (a pipe holds 64 KiB; ending with writes pending cut the output
// there), and the exit code is the same either way.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, cli, ROOT } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "rh-cli-exit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The command's output as files receive it: its byte counts and exit code. */
function toFiles(args: string[]): { code: number | null; stdout: number; stderr: number; stderrText: string } {
  const outFile = join(tmp, "out");
  const errFile = join(tmp, "err");
  const [o, e] = [openSync(outFile, "w"), openSync(errFile, "w")];
  try {
    const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ["ignore", o, e] });
    return {
      code: r.status,
      stdout: statSync(outFile).size,
      stderr: statSync(errFile).size,
      stderrText: readFileSync(errFile, "utf8"),
    };
  } finally {
    closeSync(o);
    closeSync(e);
  }
}

/** Reads a stream chunk by chunk with a pause after each, as a slow consumer (less, a busy pipeline) does. */
async function countSlowly(stream: NodeJS.ReadableStream): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length;
    await sleep(20);
  }
  return bytes;
}

/** The same command with stdout and stderr pipes that this process reads slowly. */
async function throughSlowPipes(args: string[]): Promise<{ code: number | null; stdout: number; stderr: number }> {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const [stdout, stderr] = await Promise.all([countSlowly(child.stdout), countSlowly(child.stderr)]);
  return { code: await exited, stdout, stderr };
}

const header = [
  "apiVersion: resource-hooks.io/v1alpha1",
  "kind: HookSet",
  "metadata: {name: many}",
  "spec:",
  "  runner: {url: http://many-runner.argo-events.svc:8080}",
  "  hooks:",
];
const hookLine = (name: string, i: number) =>
  `    - {name: ${name}, on: {resource: {group: apps, version: v1, resource: deployments, namespace: ns${i}, ` +
  `name: a${i}}, changed: [spec.replicas]}, steps: [{name: s, log: {message: m}}]}`;

describe("output reaches a slow reader whole", { timeout: 180_000 }, () => {
  let server: Server;
  let url = "";
  beforeAll(async () => {
    // A runner that refuses with a long answer (a proxy's error page, a runner's long message).
    server = createServer((_req, res) => res.writeHead(500, { "content-type": "text/plain" }).end("x".repeat(300_000)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("validate of a file with thousands of problems: every problem line and the count, in a pipe as in a file", async () => {
    const dup = join(tmp, "dup.yaml");
    writeFileSync(dup, [...header, ...Array.from({ length: 2000 }, (_, i) => hookLine("same", i))].join("\n"));
    const files = toFiles(["validate", "-f", dup]);
    expect(await throughSlowPipes(["validate", "-f", dup])).toEqual({ code: 1, stdout: 0, stderr: files.stderr });
    expect(files.code).toBe(1);
    expect(files.stderrText.split("\n").filter(Boolean)).toHaveLength(51);
    expect(files.stderrText).toMatch(/\nand 1949 more problems\n$/);
  });

  it("generate --check with a diff of more than a pipe holds: the whole diff, exit 1", async () => {
    const dir = join(tmp, "deploy");
    const before = join(tmp, "before.yaml");
    const after = join(tmp, "after.yaml");
    writeFileSync(before, [...header, ...Array.from({ length: 400 }, (_, i) => hookLine(`h${i}`, i))].join("\n"));
    writeFileSync(after, [...header, ...Array.from({ length: 400 }, (_, i) => hookLine(`g${i}`, i))].join("\n"));
    expect(cli(["generate", "-f", before, "--output-dir", dir]).code).toBe(0);
    const check = ["generate", "-f", after, "--output-dir", dir, "--check"];
    const files = toFiles(check);
    expect(files.code).toBe(1);
    expect(files.stdout).toBeGreaterThan(128 * 1024);
    expect(await throughSlowPipes(check)).toEqual({ code: 1, stdout: files.stdout, stderr: files.stderr });
  });

  it("a refusal longer than a pipe holds: the whole answer on stderr, exit 1", async () => {
    const args = ["runs", "list", "--url", url];
    const slow = await throughSlowPipes(args);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toBe("HTTP 500: ".length + 300_000 + 1);
    expect(slow.stdout).toBe(0);
  });
});
