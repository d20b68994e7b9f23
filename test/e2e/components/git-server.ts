// A Git server on 127.0.0.1: git's own smart-HTTP CGI program (`git http-backend`) behind a
// small node:http server, serving bare repositories from a directory. Argo CD's repo server
// clones and fetches from it like from any Git host (no credentials: every repository is
// exported). Tests change a repository with `commit()`, which commits straight into the bare
// repository (a work tree next to it), so no push path is needed.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

/** Where git keeps its helper programs, http-backend among them (`git --exec-path`). */
async function gitExecPath(): Promise<string> {
  try {
    return (await execFileP("git", ["--exec-path"])).stdout.trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error("missing: git (Debian package git), needed by the e2e Git server");
    throw err;
  }
}

export interface GitRepo {
  readonly name: string;
  /** http://127.0.0.1:<port>/<name>.git: what an Application's source.repoURL says. */
  readonly url: string;
  /** Bare repository on disk. */
  readonly dir: string;
  /**
   * Writes `files` (path -> content; null deletes the file) into the work tree and commits
   * everything to `branch` (default "main"). Resolves with the new commit's SHA.
   */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /** SHA the branch points to. */
  head(): Promise<string>;
  /** Moves the branch back to `sha` (a new commit with that commit's tree: history stays linear). */
  revertTo(sha: string, message: string): Promise<string>;
}

export interface GitServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Creates an empty bare repository (branch "main") served at <url>/<name>.git. */
  createRepo(name: string): Promise<GitRepo>;
  /** Requests served so far (method and path), e.g. to see the repo server fetching. */
  readonly requests: ReadonlyArray<{ method: string; path: string; status: number }>;
  close(): Promise<void>;
}

export interface GitServerOptions {
  /** Directory that holds the repositories (created; removed by close() unless keep). */
  dir: string;
  keep?: boolean;
}

const GIT_ENV = {
  // no user/system config of this machine: commits and http-backend behave the same everywhere
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "resource-hooks e2e",
  GIT_AUTHOR_EMAIL: "e2e@resource-hooks.invalid",
  GIT_COMMITTER_NAME: "resource-hooks e2e",
  GIT_COMMITTER_EMAIL: "e2e@resource-hooks.invalid",
};

async function git(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP("git", args, {
      cwd: opts.cwd,
      env: { ...process.env, ...GIT_ENV, ...opts.env },
    });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`git ${args.join(" ")} failed: ${e.stderr ?? String(err)}`, { cause: err });
  }
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const root = path.join(opts.dir, "repos");
  mkdirSync(root, { recursive: true });
  const backend = path.join(await gitExecPath(), "git-http-backend");
  const requests: Array<{ method: string; path: string; status: number }> = [];

  // CGI: request line and headers go in as environment variables, the body on stdin; the
  // answer is "Header: value" lines (Status: among them), an empty line, then the body.
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const env: Record<string, string> = {
      ...GIT_ENV,
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: "HTTP/1.1",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ""),
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      CONTENT_TYPE: req.headers["content-type"] ?? "",
    };
    if (req.headers["content-length"]) env.CONTENT_LENGTH = req.headers["content-length"];
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string") env[`HTTP_${k.toUpperCase().replace(/-/g, "_")}`] = v;
    }
    const cgi = spawn(backend, [], { env, stdio: ["pipe", "pipe", "pipe"] });
    let head = Buffer.alloc(0);
    let headerDone = false;
    let status = 200;
    let stderr = "";
    cgi.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headerDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headerDone = true;
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
        else res.setHeader(name, value);
      }
      res.statusCode = status;
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", (code) => {
      if (!headerDone) {
        status = 500;
        res.statusCode = 500;
        res.end(`git http-backend exited ${String(code)}: ${stderr}`);
      } else {
        res.end();
      }
      requests.push({ method: req.method ?? "", path: url.pathname + url.search, status });
    });
    cgi.on("error", () => {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
    cgi.stdin.on("error", () => {});
    req.pipe(cgi.stdin);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const createRepo = async (name: string): Promise<GitRepo> => {
    const dir = path.join(root, `${name}.git`);
    const work = path.join(opts.dir, "work", name);
    mkdirSync(work, { recursive: true });
    await git(["init", "--quiet", "--bare", "--initial-branch=main", dir]);
    const gitW = (args: string[]): Promise<string> => git([`--git-dir=${dir}`, `--work-tree=${work}`, ...args]);
    const commit = async (files: Record<string, string | null>, message: string): Promise<string> => {
      for (const [rel, content] of Object.entries(files)) {
        const file = path.join(work, rel);
        if (!file.startsWith(work + path.sep)) throw new Error(`${rel} is outside the repository`);
        if (content === null) rmSync(file, { force: true });
        else {
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, content);
        }
      }
      await gitW(["add", "--all", "."]);
      // --allow-empty: a test may want a new revision with the same manifests
      await gitW(["commit", "--quiet", "--allow-empty", "-m", message]);
      return gitW(["rev-parse", "HEAD"]);
    };
    const revertTo = async (sha: string, message: string): Promise<string> => {
      await gitW(["read-tree", "--reset", "-u", sha]);
      await gitW(["commit", "--quiet", "--allow-empty", "-m", message]);
      return gitW(["rev-parse", "HEAD"]);
    };
    return { name, url: `${url}/${name}.git`, dir, commit, head: () => gitW(["rev-parse", "HEAD"]), revertTo };
  };

  return {
    url,
    port,
    createRepo,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      if (!opts.keep) rmSync(opts.dir, { recursive: true, force: true });
    },
  };
}
