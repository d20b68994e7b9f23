// vitest globalSetup for the e2e suite: builds whatever the stack still lacks
// (scripts/e2e/build.sh is cached and idempotent). E2E_SKIP_BUILD=1 skips it.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env.E2E_SKIP_BUILD === "1") return;
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/e2e/build.sh");
  const r = spawnSync("bash", [script], { stdio: "inherit" });
  if (r.status !== 0) {
    throw new Error(`scripts/e2e/build.sh failed (exit ${String(r.status ?? r.signal)}); see its output above`);
  }
}
