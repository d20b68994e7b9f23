// The CLI as users run it, for tests: a child process per command (TypeScript through tsx), with
// the environment of a user who has no token and no colour preference set.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "../..");
export const MAIN = join(ROOT, "src/cli/main.ts");
/** node's arguments before the command's: the CLI's TypeScript through tsx (found from any working directory). */
export const CLI = ["--import", import.meta.resolve("tsx"), MAIN];

export interface CliOptions {
  input?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function environment(extra: CliOptions["env"] = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RESOURCE_HOOKS_TOKEN: "" };
  delete env.NO_COLOR;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs a command to its end; blocks this process (no server of the test can answer meanwhile). */
export function cli(args: string[], options: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: "utf8",
    env: environment(options.env),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command without blocking this process, for commands that talk to a server of the test. */
export function cliAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: environment(options.env),
    stdio: [options.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
