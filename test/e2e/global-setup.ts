// vitest globalSetup for the e2e suite: builds whatever the stack still lacks
// (scripts/e2e/build.sh is cached and idempotent; E2E_SKIP_BUILD=1 skips it), then compiles dist/
// from the current sources: the runners, controllers and CLI the suite starts run dist/cli/main.js
// as the image does (components/kubelet.ts, ENTRYPOINT), and a dist/ older than src/ would test
// old code.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export default function setup(): void {
  if (process.env.E2E_SKIP_BUILD !== "1") {
    const r = spawnSync("bash", [path.join(REPO_ROOT, "scripts/e2e/build.sh")], { stdio: "inherit" });
    if (r.status !== 0) {
      throw new Error(`scripts/e2e/build.sh failed (exit ${String(r.status ?? r.signal)}); see its output above`);
    }
  }
  const started = performance.now();
  const r = spawnSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
  if (r.status !== 0)
    throw new Error(`npm run build failed (exit ${String(r.status ?? r.signal)}); see its output above`);
  console.log(`[e2e-build] dist/ (npm run build): ${((performance.now() - started) / 1000).toFixed(1)}s`);
}
