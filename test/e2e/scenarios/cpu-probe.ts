// Where a scenario's CPU goes: CPU seconds of every process this test process started (directly or
// through pods), grouped by what it is, between two samples. Other stacks on the machine are not
// counted: only descendants of this process are read.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { parse } from "yaml";

const TICKS_PER_SECOND = 100;

interface Proc {
  ppid: number;
  ticks: number;
  label: string;
}

function label(cmdline: string[]): string {
  const joined = cmdline.join(" ");
  const exe = (cmdline[0] ?? "").split("/").pop() ?? "";
  if (exe === "kube-apiserver" || exe === "etcd" || exe === "nats-server") return exe;
  if (joined.includes("eventsource-service")) return "eventsource";
  if (joined.includes("sensor-service")) return "sensor";
  if (joined.includes("pod-init.mjs")) return "pod network (test harness)";
  if (joined.includes("main.ts serve") || joined.includes("main.js serve")) return "runner";
  return exe || "other";
}

function readProcs(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // fields after the parenthesised command: state ppid … utime(14) stime(15)
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      out.set(Number(entry), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        label: label(cmdline),
      });
    } catch {
      // exited while being read
    }
  }
  return out;
}

/** CPU ticks by pid of this process and its descendants, with their labels. */
function sample(): Map<number, Proc> {
  const procs = readProcs();
  const mine = new Map<number, Proc>();
  const isMine = (pid: number, depth = 0): boolean =>
    pid === process.pid || (depth < 32 && procs.has(pid) && isMine(procs.get(pid)!.ppid, depth + 1));
  for (const [pid, p] of procs) if (isMine(pid)) mine.set(pid, { ...p, label: pid === process.pid ? "test" : p.label });
  return mine;
}

/** Starts counting; the returned function gives CPU seconds by label since then (processes alive at both). */
export function cpuProbe(): () => Record<string, number> {
  const before = sample();
  return () => {
    const out: Record<string, number> = {};
    for (const [pid, p] of sample()) {
      const start = before.get(pid)?.ticks ?? 0;
      out[p.label] = (out[p.label] ?? 0) + (p.ticks - start) / TICKS_PER_SECOND;
    }
    return out;
  };
}

/**
 * E2E_APISERVER_PROFILE=<dir>: a CPU profile of kube-apiserver over the next `seconds`, written to
 * <dir>/<name>.pprof (`go tool pprof -top <file>`); resolves when written. Without it, nothing.
 */
export async function apiserverProfile(
  adminKubeconfig: string,
  caFile: string,
  name: string,
  seconds: number,
): Promise<void> {
  const dir = process.env.E2E_APISERVER_PROFILE;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const config = parse(readFileSync(adminKubeconfig, "utf8")) as {
    clusters: Array<{ cluster: { server: string } }>;
    users: Array<{ user: { token: string } }>;
  };
  const url = `${config.clusters[0]!.cluster.server}/debug/pprof/profile?seconds=${seconds}`;
  const args = ["-sf", "--cacert", caFile, "-H", `Authorization: Bearer ${config.users[0]!.user.token}`, url];
  await new Promise<void>((resolve) => {
    // a failed profile only means no file: the scenario's figures do not depend on it
    execFile("curl", [...args, "-o", path.join(dir, `${name}.pprof`)], () => resolve());
  });
}
