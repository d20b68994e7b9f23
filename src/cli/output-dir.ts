// The directory `generate --output-dir` writes and `--check` compares: the rendered files, and
// the generated files of earlier runs (recognised by their header) that are no longer produced.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { HEADER_MARK } from "../generate/index.js";
import { makeDirs, writeFileAtomic } from "./files.js";

/** Directories whose generated files belong wholly to one hook set and may be pruned. */
const OWNED_DIRS = ["eventsources", "sensors", "manifests"];

export interface OutputDiff {
  /** Files that would be written with different content, or are missing. */
  changed: string[];
  /** Generated files present in the output that would no longer be written. */
  stale: string[];
}

function existingGenerated(outDir: string): string[] {
  const found: string[] = [];
  for (const dir of OWNED_DIRS) {
    const full = join(outDir, dir);
    if (!existsSync(full)) continue;
    for (const name of readdirSync(full)) {
      if (!name.endsWith(".yaml")) continue;
      const text = readFileSync(join(full, name), "utf8");
      if (text.startsWith(HEADER_MARK)) found.push(`${dir}/${name}`);
    }
  }
  return found;
}

export function diffOutput(outDir: string, rendered: Map<string, string>): OutputDiff {
  const changed: string[] = [];
  for (const [path, text] of rendered) {
    const full = join(outDir, path);
    if (!existsSync(full) || readFileSync(full, "utf8") !== text) changed.push(path);
  }
  const stale = existingGenerated(outDir).filter((p) => !rendered.has(p));
  return { changed, stale };
}

/** Writes the files that differ and removes generated files that are no longer produced. */
export function writeOutput(outDir: string, rendered: Map<string, string>): OutputDiff {
  makeDirs(outDir);
  const diff = diffOutput(outDir, rendered);
  for (const path of diff.changed) {
    const full = join(outDir, path);
    makeDirs(dirname(full));
    writeFileAtomic(full, rendered.get(path)!);
  }
  for (const path of diff.stale) rmSync(join(outDir, path));
  return diff;
}
