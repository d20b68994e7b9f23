// etcd for kube-apiserver: one member on free 127.0.0.1 ports, data in the stack's dir, no fsync
// (throwaway data). Ready when /health says so.
import path from "node:path";

import { pollUntil } from "../../helpers/poll.js";
import { tail, type ManagedProcess, type Spawn } from "../process.js";
import { httpGet } from "./http.js";
import { freePort } from "./ports.js";

export interface Etcd {
  /** http://127.0.0.1:<port> */
  url: string;
  process: ManagedProcess;
}

export async function startEtcd(o: { binary: string; dir: string; logsDir: string; spawn: Spawn }): Promise<Etcd> {
  const port = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const etcd = o.spawn({
    name: "etcd",
    command: o.binary,
    args: [
      "--name=e2e",
      `--data-dir=${path.join(o.dir, "etcd")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=e2e=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync", // throwaway data
      "--log-level=warn",
    ],
    logFile: path.join(o.logsDir, "etcd.log"),
  });
  await pollUntil("etcd /health", 30_000, async () => {
    if (!etcd.isRunning()) throw new Error(`etcd exited:\n${tail(etcd.logs())}`);
    const r = await httpGet(`${url}/health`);
    return r.status === 200 && r.body.includes('"true"') ? true : undefined;
  });
  return { url, process: etcd };
}
