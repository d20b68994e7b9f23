// Writes the installation's files from src/install/manifests.ts: config/ (the kustomize base) and
// the chart's crds/. With --check it writes nothing and exits 1 when a file differs (CI).
//   npx tsx scripts/install-manifests.ts [--check]
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installFiles } from "../src/install/files.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
let stale = 0;
for (const [path, text] of installFiles()) {
  const file = join(root, path);
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    console.error(`${path} is stale: npx tsx scripts/install-manifests.ts`);
    stale++;
  } else {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${path}`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
