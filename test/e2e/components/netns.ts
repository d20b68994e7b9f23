// A host process in its own network and mount namespace (unshare; needs root), for programs that
// listen on fixed ports of every interface or use fixed paths: the stack's Argo Events "pods"
// (eventsource-service and sensor-service serve metrics on :7777 of all interfaces; the graft
// leader election log is the fixed /tmp/graft.log) and Argo CD's components (the application
// controller serves metrics on 0.0.0.0:<port>; the repo server puts its askpass socket at the
// fixed /tmp/reposerver-ask-pass.sock). Inside, it has its own loopback and its own /tmp, so
// nothing it opens is reachable from outside 127.0.0.1 of its namespace and nothing clashes
// with other stacks on the machine.
//
// The plumbing is ../pod-init.mjs, the namespace's init process: inside the namespace it
// forwards 127.0.0.1:<port> for each `reachablePorts` entry to a unix socket whose host end
// connects to the host's 127.0.0.1:<port>, and each `exposePorts` entry of the namespace to a
// unix socket that a host listener on 127.0.0.1:<free port> connects to (`hostPort(port)`).
import { mkdirSync, realpathSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { haveSetpriv, type ManagedProcess, type SpawnOptions } from "../process.js";
import type { Stack } from "../stack.js";
import { closeServer, forwarder, freePort } from "./ports.js";

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

export interface NamespacedOptions extends Omit<IsolatedOptions, "name"> {
  /** The process's name in the stack (e.g. "pod/<name>", "proc/<name>"). */
  name: string;
  /** Its directory on the host: <dir>/tmp becomes its /tmp, the forwarding sockets live in <dir>. */
  dir: string;
  /** The stack's dir (kept visible: kubeconfigs, CA). */
  stackDir: string;
  /** Host directories bind-mounted inside at a fixed path (e.g. the pod's /argo-events). */
  binds?: ReadonlyArray<{ host: string; at: string }>;
  logFile?: string;
  spawn: (opts: Omit<SpawnOptions, "logFile"> & { logFile?: string }) => ManagedProcess;
}

function realDir(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Starts `command` in its own namespaces with the forwards and mounts of `o`. */
export async function spawnNamespaced(o: NamespacedOptions): Promise<IsolatedProcess> {
  const tmp = path.join(o.dir, "tmp");
  mkdirSync(tmp, { recursive: true });
  const servers: net.Server[] = [];
  const closeServers = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map(closeServer));
  };
  const outbound: Array<{ port: number; socket: string }> = [];
  const inbound: Array<{ port: number; socket: string }> = [];
  const hostPorts = new Map<number, number>();
  try {
    for (const port of new Set(o.reachablePorts ?? [])) {
      const socket = path.join(o.dir, `to-${port}.sock`);
      servers.push(await forwarder(() => net.connect(port, "127.0.0.1"), [socket]));
      outbound.push({ port, socket });
    }
    for (const port of new Set(o.exposePorts ?? [])) {
      const socket = path.join(o.dir, `from-${port}.sock`);
      const hostPort = await freePort();
      servers.push(await forwarder(() => net.connect(socket), [hostPort, "127.0.0.1"]));
      inbound.push({ port, socket });
      hostPorts.set(port, hostPort);
    }
  } catch (err) {
    await closeServers();
    throw err;
  }
  // Paths under /tmp that must stay visible once the private /tmp is mounted: the stack's
  // dir (kubeconfigs, CA), this repo's files and Node when they live under /tmp.
  const keep = [o.stackDir, path.dirname(POD_INIT), path.dirname(process.execPath), ...(o.keepVisible ?? [])]
    .map(realDir)
    .filter((p) => p.startsWith("/tmp/"));
  const privateNet = (o.network ?? "private") === "private";
  if (!privateNet && (outbound.length > 0 || inbound.length > 0))
    throw new Error(`${o.name}: ports are forwarded only with a private network`);
  const binds = o.binds ?? [];
  const script = [
    "set -eu",
    ...(privateNet ? ["ip link set lo up"] : []),
    // keep what lives under /tmp on the host visible at the same path
    'printf "%s\\n" "$E2E_POD_KEEP" | while IFS= read -r p; do',
    '  [ -n "$p" ] || continue',
    '  mkdir -p "$E2E_POD_TMP/${p#/tmp/}"',
    '  mount --bind "$p" "$E2E_POD_TMP/${p#/tmp/}"',
    "done",
    'mount --rbind "$E2E_POD_TMP" /tmp',
    ...binds.flatMap((_, i) => [
      `mkdir -p "$E2E_POD_BIND_AT_${i}"`,
      `mount --bind "$E2E_POD_BIND_HOST_${i}" "$E2E_POD_BIND_AT_${i}"`,
    ]),
    'exec "$E2E_POD_NODE" "$E2E_POD_INIT"',
  ].join("\n");
  let proc: ManagedProcess;
  try {
    proc = o.spawn({
      name: o.name,
      command: "unshare",
      args: [
        "--mount",
        ...(privateNet ? ["--net"] : []),
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
      ],
      env: {
        PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: "/tmp",
        ...o.env,
        ...Object.fromEntries(
          binds.flatMap((b, i) => [
            [`E2E_POD_BIND_HOST_${i}`, b.host],
            [`E2E_POD_BIND_AT_${i}`, b.at],
          ]),
        ),
        E2E_POD_KEEP: keep.join("\n"),
        E2E_POD_TMP: tmp,
        E2E_POD_NODE: process.execPath,
        E2E_POD_INIT: POD_INIT,
        E2E_POD_CONFIG: JSON.stringify({ command: o.command, args: o.args, setpriv: haveSetpriv(), outbound, inbound }),
      },
      cwd: "/",
      ...(o.logFile ? { logFile: o.logFile } : {}),
    });
  } catch (err) {
    await closeServers();
    throw err;
  }
  void proc.exited.then(closeServers);
  return {
    ...proc,
    dir: o.dir,
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

/** A process of the stack (proc/<name>) in its own namespaces, its dir <stack dir>/components/<name>. */
export async function startIsolated(stack: Stack, o: IsolatedOptions): Promise<IsolatedProcess> {
  return await spawnNamespaced({
    ...o,
    dir: path.join(stack.dir, "components", o.name),
    stackDir: stack.dir,
    spawn: (so) => stack.spawn(so),
  });
}
