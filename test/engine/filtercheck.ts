// Builds (once, cached next to the e2e stack) and runs test/engine/filtercheck: Argo Events
// v1.9.11's own filter code, reading {script, data} lines and answering {pass, error}.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const VERSION = "v1.9.11";

export function filtercheckBinary(): string {
  const cache = process.env.RESOURCE_HOOKS_E2E_CACHE ?? join(homedir(), ".cache/resource-hooks-e2e");
  const dir = join(cache, `filtercheck-${VERSION}`);
  const binary = join(dir, "filtercheck");
  const source = readFileSync(join(import.meta.dirname, "filtercheck/main.go"), "utf8");
  const stamp = join(dir, "source.go");
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8") === source) return binary;
  // The argo-events build's throwaway module pins the exact dependency versions of v1.9.11.
  const argoModule = join(cache, "src", `argo-events-${VERSION}`);
  if (!existsSync(join(argoModule, "go.sum")))
    throw new Error(`filtercheck needs ${argoModule}/go.sum: run scripts/e2e/build.sh first`);
  const src = join(dir, "src");
  mkdirSync(src, { recursive: true });
  copyFileSync(join(argoModule, "go.sum"), join(src, "go.sum"));
  writeFileSync(
    join(src, "go.mod"),
    readFileSync(join(argoModule, "go.mod"), "utf8").replace(/^module .*$/m, "module resource-hooks.e2e/filtercheck"),
  );
  writeFileSync(join(src, "main.go"), source);
  execFileSync("go", ["build", "-trimpath", "-o", binary, "."], {
    cwd: src,
    env: { ...process.env, GOFLAGS: "-mod=mod" },
    stdio: "inherit",
  });
  writeFileSync(stamp, source);
  return binary;
}

/** Runs every (script, data) pair through Argo Events' filter in one process. */
export function runArgoFilters(
  binary: string,
  cases: Array<{ script: string; data: unknown }>,
): Array<{ pass: boolean; error?: string }> {
  const input = cases.map((c) => JSON.stringify(c)).join("\n") + "\n";
  const result = spawnSync(binary, [], { input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`filtercheck failed: ${result.stderr}`);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { pass: boolean; error?: string });
}
