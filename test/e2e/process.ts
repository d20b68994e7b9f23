// Child processes of the e2e stack: each runs in its own process group, its
// stdout/stderr go to a log file (and an in-memory copy for waitForLog), and
// stop() signals the whole group (SIGTERM, then SIGKILL).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** File that receives the process's stdout and stderr. */
  readonly logFile: string;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  logs(): string;
  /**
   * Resolves with the first log line matching `pattern` (already printed or
   * printed later); rejects on timeout or when the process exits first.
   */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** True while the process has not exited. */
  isRunning(): boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** SIGKILL to the process group at once (a crash, e.g. for at-least-once tests). */
  kill(): Promise<ExitStatus>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * SIGKILL the process when this Node process dies without cleaning up
   * (`setpriv --pdeathsig KILL`, when util-linux's setpriv is there). Default true.
   */
  dieWithParent?: boolean;
}

/** Whether a process of this pid exists (EPERM: it does, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

let setprivOk: boolean | undefined;
/** Whether `setpriv --pdeathsig` works here. */
export function haveSetpriv(): boolean {
  setprivOk ??= spawnSync("setpriv", ["--pdeathsig", "KILL", "--", "true"]).status === 0;
  return setprivOk;
}

const MAX_BUFFERED_LOG = 8 * 1024 * 1024;

/** Process groups still alive; killed synchronously if this Node process exits. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  installExitHook();
  const out: WriteStream = createWriteStream(opts.logFile, { flags: "a" });
  out.write(`# ${new Date().toISOString()} ${opts.command} ${opts.args.join(" ")}\n`);
  const [command, args] =
    (opts.dieWithParent ?? true) && haveSetpriv()
      ? ["setpriv", ["--pdeathsig", "KILL", "--", opts.command, ...opts.args]]
      : [opts.command, [...opts.args]];
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() reaches grandchildren too
  });
  if (child.pid === undefined) {
    // spawn failures (ENOENT...) also come as an 'error' event: swallow it,
    // the caller gets this exception instead.
    child.on("error", () => {});
    out.end(`# could not start ${command}\n`);
    throw new Error(`${opts.name}: could not start ${command} (not found or not executable?)`);
  }
  const pid = child.pid;
  liveGroups.add(pid);

  // The log's tail, at least MAX_BUFFERED_LOG characters of it, kept as the chunks that came:
  // trimming a string at the cap on every chunk copied megabytes per chunk (V8 flattens a string
  // built by appending before it slices it), most of the test process's CPU once a pod had
  // logged that much (the 20,000-object scale scenario).
  const chunks: string[] = [];
  let buffered = 0;
  const logs = (): string => {
    if (chunks.length > 1) chunks.splice(0, chunks.length, chunks.join(""));
    return chunks[0] ?? "";
  };
  let running = true;
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out.write(chunk);
    const text = chunk.toString("utf8");
    chunks.push(text);
    buffered += text.length;
    while (chunks.length > 1 && buffered - chunks[0]!.length >= MAX_BUFFERED_LOG) buffered -= chunks.shift()!.length;
    for (const l of listeners) l();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  const exited = new Promise<ExitStatus>((resolve) => {
    child.on("error", (err) => {
      out.write(`# spawn error: ${String(err)}\n`);
    });
    // 'exit' rather than 'close': a grandchild may keep the pipes open.
    child.on("exit", (code, signal) => {
      running = false;
      out.write(`# exited code=${String(code)} signal=${String(signal)}\n`);
      for (const l of listeners) l();
      resolve({ code, signal });
    });
    child.on("close", () => out.end());
  });

  const waitForLog = (pattern: RegExp | string, timeoutMs = 30_000): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const test = (): string | undefined => {
        for (const line of logs().split("\n")) {
          if (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line)) return line;
        }
        return undefined;
      };
      const check = (): void => {
        const hit = test();
        if (hit !== undefined) {
          cleanup();
          resolve(hit);
        } else if (!running) {
          cleanup();
          reject(
            new Error(`${opts.name} exited before logging ${String(pattern)}; log: ${opts.logFile}\n${tail(logs())}`),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `${opts.name}: timed out after ${timeoutMs}ms waiting for ${String(pattern)}; log: ${opts.logFile}\n${tail(logs())}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  let stopping: Promise<ExitStatus> | undefined;
  const stop = (graceMs = 5_000): Promise<ExitStatus> => {
    if (stopping) return stopping;
    stopping = (async () => {
      if (running) {
        signalGroup(pid, "SIGTERM");
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
        ]);
        if (timedOut) signalGroup(pid, "SIGKILL");
      }
      const status = await exited;
      // whatever else is left in the group (grandchildren that ignored SIGTERM)
      signalGroup(pid, "SIGKILL");
      liveGroups.delete(pid);
      return status;
    })();
    return stopping;
  };

  const kill = async (): Promise<ExitStatus> => {
    signalGroup(pid, "SIGKILL");
    const status = await exited;
    liveGroups.delete(pid);
    return status;
  };

  return {
    name: opts.name,
    pid,
    logFile: opts.logFile,
    logs,
    waitForLog,
    exited,
    isRunning: () => running,
    stop,
    kill,
  };
}

export function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Starts a process that belongs to the stack (its log goes into the stack's report, stop() ends it). */
export type Spawn = (opts: SpawnOptions) => ManagedProcess;
