// Writing the files users keep: their hooks.yaml (init, add) and the generated directory. A write
// replaces a file whole or not at all, and creating directories fails at once where it cannot.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * Creates `dir` and its missing parents one at a time. Node's recursive mkdir retries forever
 * where a parent refuses new entries without saying EACCES (/proc/nope spins at full CPU); one
 * level at a time, the first refusal is the error.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (existsSync(at) && !statSync(at).isDirectory()) throw new Error(`${at} is not a directory`);
  for (const path of missing.reverse()) mkdirSync(path);
}

/**
 * Writes `text` to `file` through a temporary file in the same directory and a rename, so a
 * reader (kubectl, an editor, a crash) sees the old content or the new, never half of it. A
 * symbolic link keeps pointing at the file it named; an existing file keeps its mode.
 */
export function writeFileAtomic(file: string, text: string): void {
  const target = existsSync(file) ? realpathSync(file) : resolve(file);
  const mode = existsSync(target) ? statSync(target).mode & 0o7777 : undefined;
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fd = openSync(temp, "wx");
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (mode !== undefined) chmodSync(temp, mode);
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}
