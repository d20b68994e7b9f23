// Every file that enters the CLI is bounded before it is believed: hooks.yaml and object files by
// size (1 MiB, what a ConfigMap holds), YAML by nesting depth and alias expansions, problems by
// count and quoted values by length. A fuzz test drives the readers with hostile input: each
// ends with a value or a typed error, within bounded time and memory.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/exit.js";
import { readObject } from "../../src/cli/io.js";
import { hookSetTooLarge, MAX_HOOKSET_BYTES, MAX_INPUT_BYTES } from "../../src/hookset/input.js";
import { parseHookSet, SpecError } from "../../src/hookset/load.js";
import { cli, ROOT } from "../helpers/cli.js";
import { laughs } from "../helpers/fuzz-readers.js";

const tmp = mkdtempSync(join(tmpdir(), "rh-cli-limits-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const example = readFileSync(join(ROOT, "examples/hooks.yaml"), "utf8");

/** examples/hooks.yaml grown with comment lines to `bytes` bytes: valid YAML, only too large. */
function grown(bytes: number): string {
  const line = `# ${"x".repeat(97)}\n`;
  const text = example + line.repeat(Math.ceil((bytes - example.length) / line.length));
  return text.slice(0, bytes - 1) + "\n";
}

const problemsOf = (text: string): string[] => {
  try {
    parseHookSet(text, "h.yaml");
  } catch (e) {
    if (e instanceof SpecError) return e.message.split("\n");
    throw e;
  }
  return [];
};

describe("sizes", { timeout: 120_000 }, () => {
  it("validate refuses a 1.5 MB hooks.yaml, as generate does: the runner's ConfigMap could not hold it", () => {
    const big = join(tmp, "big.yaml");
    writeFileSync(big, grown(1_572_864));
    const message =
      "hooks.yaml is 1572864 bytes; the runner reads it from a ConfigMap, and a ConfigMap holds at most 1 MiB " +
      `(${MAX_INPUT_BYTES} bytes, less its metadata): split the hooks into several HookSets`;
    for (const command of ["validate", "generate"])
      expect(cli([command, "-f", big]), command).toEqual({ code: 1, stdout: "", stderr: `${big}:1:1: ${message}\n` });
  });

  it("a hooks.yaml just over what fits beside the ConfigMap's metadata is refused however it arrives", () => {
    const text = grown(MAX_HOOKSET_BYTES + 1);
    expect(problemsOf(text)).toEqual([`h.yaml:1:1: ${hookSetTooLarge(MAX_HOOKSET_BYTES + 1)}`]);
    expect(cli(["validate", "-f", "-"], { input: text }).stderr).toContain(
      `<stdin>:1:1: hooks.yaml is more than ${MAX_HOOKSET_BYTES} bytes`,
    );
    expect(problemsOf(grown(MAX_HOOKSET_BYTES))).toEqual([]);
  });

  it("an object file larger than 1 MiB, or a device that never ends, is refused before it is parsed", () => {
    const big = join(tmp, "big-object.yaml");
    const text = `kind: ConfigMap\ndata:\n  a: "${"x".repeat(MAX_INPUT_BYTES)}"\n`;
    writeFileSync(big, text);
    expect(() => readObject(big, "--new")).toThrow(
      new CliError(
        `--new ${big}: the file is ${text.length} bytes; an object file may have at most 1 MiB ` +
          `(${MAX_INPUT_BYTES} bytes), what one Kubernetes object holds`,
      ),
    );
    const started = Date.now();
    expect(() => readObject("/dev/zero", "--new")).toThrow(`the file is more than ${MAX_INPUT_BYTES} bytes`);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("YAML", () => {
  it("a billion laughs is refused in milliseconds, at its first alias", () => {
    const text = laughs(10, 9);
    const started = performance.now();
    const problems = problemsOf(text);
    expect(performance.now() - started).toBeLessThan(500);
    expect(problems).toEqual([
      "h.yaml:2:10: aliases (*name) expand to too much data: at most 100 expansions of an anchor (&name)",
    ]);
    const file = join(tmp, "laughs.yaml");
    writeFileSync(file, text);
    expect(() => readObject(file, "--new")).toThrow(`--new ${file}:2:10: aliases (*name) expand to too much data`);
  });

  it("nesting deeper than 100 levels is refused where it gets too deep, also a megabyte of it", () => {
    for (const text of ["[".repeat(MAX_INPUT_BYTES - 8192), "- ".repeat(400_000), "a: {".repeat(200)]) {
      const started = performance.now();
      const problems = problemsOf(text);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^h\.yaml:1:\d+: nested more than 100 levels deep$/);
    }
    // Deep, but as deep as Kubernetes objects get: fine.
    expect(problemsOf(`x: ${"[".repeat(60)}${"]".repeat(60)}\n`)[0]).not.toMatch(/nested/);
  });
});

describe("messages", () => {
  it("at most 50 problems, then how many more", () => {
    const hooks = Array.from(
      { length: 120 },
      () =>
        "    - {name: same, on: {resource: {version: v1, resource: configmaps}}, steps: [{name: s, log: {message: m}}]}",
    );
    const text = `${example.slice(0, example.indexOf("  hooks:"))}  hooks:\n${hooks.join("\n")}\n`;
    const problems = problemsOf(text);
    expect(problems).toHaveLength(51);
    expect(problems.at(-1)).toBe("and 69 more problems");
  });

  it("values quoted in messages are cut to 80 characters", () => {
    // A key may be at most 1024 characters long in YAML; a value any length.
    const long = "v".repeat(10_000);
    const text = example
      .replace("events: [update]", `events: [${long}]`)
      .replace("name: web", `name: web\n  ${"k".repeat(1000)}: 1`);
    const problems = problemsOf(text);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p.length, p).toBeLessThan(400);
    expect(problems.join("\n")).toContain(`got string "${"v".repeat(77)}…"`);
    expect(problems.join("\n")).toContain(`metadata: unknown field "${"k".repeat(77)}…"`);
  });
});

describe("fuzz: the CLI's file readers", () => {
  it("end with a value or a typed error, in bounded time, within a 384 MiB heap", { timeout: 600_000 }, () => {
    // In a child process with a heap limit: a case that needs unbounded memory kills it, visibly.
    const r = spawnSync(
      process.execPath,
      ["--max-old-space-size=384", "--import", "tsx", join(ROOT, "test/helpers/fuzz-readers.ts")],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          FUZZ_RUNS: process.env.FUZZ_RUNS ?? "150",
          FUZZ_SEED: process.env.FUZZ_SEED ?? "20260317",
        },
      },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^ok: \d+ cases/);
    expect(r.status).toBe(0);
  });
});
