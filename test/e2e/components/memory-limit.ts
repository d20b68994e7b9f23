// A container's memory limit for a host process, as the kubelet sets it: a memory cgroup with the
// limit (v1 memory.limit_in_bytes or v2 memory.max), entered before the program starts. Node sizes
// V8's heap from it as it does in the pod (process.constrainedMemory()): under the runner's
// 512Mi, a 256 MiB old generation, 1 MiB semi-spaces and a heap that grows by at most 1.3×
// between collections. Unlimited on a machine of many GiB, V8 lets the heap grow 4× between
// collections, and RSS then says more about when V8 last collected than about what the runner
// keeps. Needs root and a writable memory cgroup; without them the process runs unlimited and
// `limited` says so.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { pidAlive } from "../process.js";

export interface MemoryLimit {
  /** Whether a cgroup holds the limit; false: the command runs unlimited. */
  readonly limited: boolean;
  /** The command line that enters the cgroup and then executes `command` (the same pid). */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  /** Removes the cgroup once its process has exited (a cgroup with processes cannot be removed). */
  remove(): void;
}

const PREFIX = "rh-e2e-";

/** Bytes of a Kubernetes memory quantity in binary units ("512Mi", "1Gi"). */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`not a binary memory quantity: ${quantity}`);
  return Number(match[1]) * 1024 ** (["Ki", "Mi", "Gi"].indexOf(match[2]!) + 1);
}

/** This process's memory cgroup directory and the file that sets a child's limit; undefined when none. */
function ownMemoryCgroup(): { dir: string; limitFile: string } | undefined {
  let lines: string[];
  try {
    lines = readFileSync("/proc/self/cgroup", "utf8").split("\n");
  } catch {
    return undefined;
  }
  const v1 = lines.map((l) => /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  if (v1 !== undefined && existsSync(`/sys/fs/cgroup/memory${v1}`)) {
    return { dir: `/sys/fs/cgroup/memory${v1}`, limitFile: "memory.limit_in_bytes" };
  }
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)?.[1]).find((p) => p !== undefined);
  const controllers = existsSync("/sys/fs/cgroup/cgroup.controllers")
    ? readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8")
    : "";
  if (v2 !== undefined && /\bmemory\b/.test(controllers))
    return { dir: `/sys/fs/cgroup${v2}`, limitFile: "memory.max" };
  return undefined;
}

/** Cgroups left by test processes that are gone (killed before they removed them). */
function removeStale(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(PREFIX)) continue;
    // named …-<pid of the test process>: another test process's may be about to be entered
    if (pidAlive(Number(name.slice(name.lastIndexOf("-") + 1)))) continue;
    try {
      rmdirSync(path.join(parent, name));
    } catch {
      // still in use, or not ours to remove
    }
  }
}

export function memoryLimit(name: string, bytes: number): MemoryLimit {
  const own = ownMemoryCgroup();
  let dir: string | undefined;
  if (own) {
    try {
      removeStale(own.dir);
      dir = path.join(own.dir, `${PREFIX}${name}-${process.pid}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, own.limitFile), String(bytes));
    } catch {
      if (dir && existsSync(dir)) rmdirSync(dir);
      dir = undefined;
    }
  }
  return {
    limited: dir !== undefined,
    wrap: (command, args) =>
      dir === undefined
        ? { command, args: [...args] }
        : {
            command: "sh",
            args: ["-c", 'echo $$ > "$0" && exec "$@"', path.join(dir, "cgroup.procs"), command, ...args],
          },
    remove: () => {
      try {
        if (dir) rmdirSync(dir);
      } catch {
        // a process is still in it: removeStale takes it next time
      }
    },
  };
}
