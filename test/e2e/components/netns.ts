// A host process in its own network and mount namespace, for programs that listen on fixed
// ports of every interface or use fixed paths under /tmp (Argo CD's application controller
// serves metrics on 0.0.0.0:<port>; its repo server puts its askpass socket at the fixed
// /tmp/reposerver-ask-pass.sock). Inside, it has its own loopback and its own /tmp, so
// nothing it opens is reachable from outside 127.0.0.1 of its namespace and nothing clashes
// with other stacks on the machine.
//
// The plumbing is the stack's pod init (../pod-init.mjs): inside the namespace it forwards
// 127.0.0.1:<port> for each `reachablePorts` entry to a unix socket whose host end connects
// to the host's 127.0.0.1:<port>, and each `exposePorts` entry of the namespace to a unix
// socket that a host listener on 127.0.0.1:<free port> connects to (`hostPort(port)`).
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { haveSetpriv } from "../process.js";
import { freePort, type ManagedProcess, type Stack } from "../stack.js";

const POD_INIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "pod-init.mjs");

export interface IsolatedOptions {
  /** Log name (the stack's log report shows it as proc/<name>) and directory name. */
  name: string;
  command: string;
  args: readonly string[];
  env?: Record<string, string>;
  /** Host ports on 127.0.0.1 the process must reach (kube-apiserver, redis, ...). */
  reachablePorts?: readonly number[];
  /** Ports the process listens on inside, made reachable on the host (see hostPort). */
  exposePorts?: readonly number[];
  /**
   * "private" (default): its own loopback, reachablePorts/exposePorts forwarded. "host": the
   * host's network (for a program that can be told to listen on 127.0.0.1 and must reach
   * arbitrary local ports), only /tmp is private.
   */
  network?: "private" | "host";
  /** Host paths under /tmp the process must see (the stack's dir is always kept). */
  keepVisible?: readonly string[];
}

export interface IsolatedProcess extends ManagedProcess {
  /** The host's 127.0.0.1 port that forwards to `port` inside the namespace. */
  hostPort(port: number): number;
  /** Directory on the host: the process's /tmp is <dir>/tmp. */
  readonly dir: string;
  /** Stops the process and closes the host-side forwarders. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A server on `listenOn` that pipes each connection to `connect()`. */
async function forward(connect: () => net.Socket, listenOn: [string] | [number, string]): Promise<net.Server> {
  const server = net.createServer((conn) => {
    const other = connect();
    conn.pipe(other);
    other.pipe(conn);
    const destroy = (): void => {
      conn.destroy();
      other.destroy();
    };
    for (const end of [conn, other]) {
      end.on("error", destroy);
      end.on("close", destroy);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (listenOn.length === 1) server.listen(listenOn[0], () => resolve());
    else server.listen(listenOn[0], listenOn[1], () => resolve());
  });
  return server;
}

export async function startIsolated(stack: Stack, o: IsolatedOptions): Promise<IsolatedProcess> {
  const dir = path.join(stack.dir, "components", o.name);
  const tmp = path.join(dir, "tmp");
  const sock = path.join(dir, "sock");
  mkdirSync(tmp, { recursive: true });
  mkdirSync(sock, { recursive: true });
  const servers: net.Server[] = [];
  const outbound: Array<{ port: number; socket: string }> = [];
  for (const port of new Set(o.reachablePorts ?? [])) {
    const socket = path.join(sock, `to-${port}.sock`);
    servers.push(await forward(() => net.connect(port, "127.0.0.1"), [socket]));
    outbound.push({ port, socket });
  }
  const inbound: Array<{ port: number; socket: string }> = [];
  const hostPorts = new Map<number, number>();
  for (const port of new Set(o.exposePorts ?? [])) {
    const socket = path.join(sock, `from-${port}.sock`);
    const hostPort = await freePort();
    servers.push(await forward(() => net.connect(socket), [hostPort, "127.0.0.1"]));
    inbound.push({ port, socket });
    hostPorts.set(port, hostPort);
  }
  // Paths under /tmp that must stay visible once the private /tmp is mounted: the stack's
  // dir (kubeconfigs, CA) and this repo's files when the checkout lives under /tmp.
  const keep = [stack.dir, path.dirname(POD_INIT), path.dirname(process.execPath), ...(o.keepVisible ?? [])].filter((p) =>
    p.startsWith("/tmp/"),
  );
  const privateNet = (o.network ?? "private") === "private";
  if (!privateNet && (outbound.length > 0 || inbound.length > 0)) throw new Error(`${o.name}: ports are forwarded only with a private network`);
  const script = [
    "set -eu",
    ...(privateNet ? ["ip link set lo up"] : []),
    'printf "%s\\n" "$E2E_POD_KEEP" | while IFS= read -r p; do',
    '  [ -n "$p" ] || continue',
    '  mkdir -p "$E2E_POD_TMP/${p#/tmp/}"',
    '  mount --bind "$p" "$E2E_POD_TMP/${p#/tmp/}"',
    "done",
    'mount --rbind "$E2E_POD_TMP" /tmp',
    'exec "$E2E_POD_NODE" "$E2E_POD_INIT"',
  ].join("\n");
  const proc = stack.spawn({
    name: o.name,
    command: "unshare",
    args: ["--mount", ...(privateNet ? ["--net"] : []), "--fork", "--kill-child", "--propagation", "private", "sh", "-c", script],
    env: {
      PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/tmp",
      ...o.env,
      E2E_POD_KEEP: keep.join("\n"),
      E2E_POD_TMP: tmp,
      E2E_POD_NODE: process.execPath,
      E2E_POD_INIT: POD_INIT,
      E2E_POD_CONFIG: JSON.stringify({ command: o.command, args: o.args, setpriv: haveSetpriv(), outbound, inbound }),
    },
    cwd: "/",
  });
  const closeServers = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  void proc.exited.then(closeServers);
  return {
    ...proc,
    dir,
    hostPort: (port: number): number => {
      const p = hostPorts.get(port);
      if (p === undefined) throw new Error(`${o.name}: port ${port} is not in exposePorts`);
      return p;
    },
    stop: async (graceMs?: number) => {
      const st = await proc.stop(graceMs);
      await closeServers();
      return st;
    },
  };
}
