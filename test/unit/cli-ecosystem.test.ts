// The CLI as a shell user meets it: streams, pipes, stdin, exit codes, colour, completion. Each
// behaviour that belongs to the process is checked on a real child process (and real bash,
// head and script(1) where the behaviour is about them). A child process starts in a second or
// more on a loaded machine, hence the generous timeouts (they bound a hang, they measure nothing).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { bashScript, fishScript, zshScript } from "../../src/cli/completion.js";
import { buildProgram } from "../../src/cli/program.js";
import type { Command } from "commander";

const root = join(import.meta.dirname, "../..");
const MAIN = join(root, "src/cli/main.ts");
const CLI = ["--import", "tsx", MAIN];
const tmp = mkdtempSync(join(tmpdir(), "rh-cli-eco-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], options: { input?: string; cwd?: string; env?: Record<string, string> } = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, RESOURCE_HOOKS_TOKEN: "", ...options.env };
  delete env.NO_COLOR;
  Object.assign(env, options.env);
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: options.cwd ?? root,
    encoding: "utf8",
    env,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a shell command line with bash (pipefail: the CLI's own exit code counts). */
function bash(script: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${script}`], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const node = `'${process.execPath}' --import tsx '${MAIN}'`;
const example = readFileSync(join(root, "examples/hooks.yaml"), "utf8");

describe("generate", { timeout: 180_000 }, () => {
  it("without --output-dir prints every manifest as one multi-document YAML stream, CRD first, no kustomization", () => {
    const r = cli(["generate", "-f", "examples/hooks.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const docs = parseAllDocuments(r.stdout);
    expect(docs.every((d) => d.errors.length === 0)).toBe(true);
    const objects = docs.map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(objects[0]!.kind).toBe("CustomResourceDefinition");
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(["ServiceAccount", "Deployment", "Service", "ConfigMap", "EventSource", "Sensor"]),
    );
    expect(objects.map((o) => o.kind)).not.toContain("Kustomization");
    expect(objects.map((o) => o.kind).slice(-2)).toEqual(["EventSource", "Sensor"]);
    expect(r.stdout).toContain("# Source: sensors/web.yaml\n");
  });

  it("-o json prints a kind: List of the same objects", () => {
    const yaml = parseAllDocuments(cli(["generate", "-f", "examples/hooks.yaml"]).stdout).map(
      (d) => d.toJS() as object,
    );
    const r = cli(["generate", "-f", "examples/hooks.yaml", "-o", "json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: object[] };
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items).toEqual(yaml);
  });

  it("--output-dir writes the directory; --check then passes however -f is spelt and from wherever it runs", () => {
    const dir = join(tmp, "deploy");
    expect(cli(["generate", "-f", "examples/hooks.yaml", "--output-dir", dir])).toMatchObject({
      code: 0,
      stdout: `${dir}: 10 files, 10 written, 0 removed\n`,
    });
    const fromRoot = relative(root, dir);
    for (const [f, cwd] of [
      ["examples/hooks.yaml", root],
      ["./examples/hooks.yaml", root],
      [join(root, "examples/hooks.yaml"), root],
      ["hooks.yaml", join(root, "examples")],
    ] as const) {
      const r = cli(["generate", "-f", f, "--output-dir", cwd === root ? fromRoot : dir, "--check"], { cwd });
      expect(r, `-f ${f} in ${cwd}`).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/: up to date \(10 files\)\n$/);
    }
  });

  it("--check prints a unified diff of what differs, names missing and extra files, and exits 1", () => {
    const dir = join(tmp, "drift");
    expect(cli(["generate", "-f", "examples/hooks.yaml", "--output-dir", dir]).code).toBe(0);
    const sensor = join(dir, "sensors/web.yaml");
    writeFileSync(sensor, readFileSync(sensor, "utf8").replace("kind: Sensor", "kind: Sensor\n# edited by hand"));
    rmSync(join(dir, "manifests/runner.yaml"));
    cpSync(join(dir, "eventsources/web.yaml"), join(dir, "eventsources/old.yaml"));
    const r = cli(["generate", "-f", "examples/hooks.yaml", "--output-dir", dir, "--check"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("--- a/sensors/web.yaml\ton disk\n+++ b/sensors/web.yaml\tgenerated\n@@ ");
    expect(r.stdout).toContain("\n kind: Sensor\n-# edited by hand\n");
    expect(r.stdout).toContain("missing: manifests/runner.yaml (would be generated)\n");
    expect(r.stdout).toContain("extra: eventsources/old.yaml (generated earlier, no longer produced)\n");
    expect(r.stdout).not.toContain("eventsources/web.yaml");
    expect(r.stderr).toBe(
      `${dir}: 3 file(s) differ from what would be generated; run: resource-hooks generate -f examples/hooks.yaml --output-dir ${dir}\n`,
    );
    // Piped, the diff carries no colour codes.
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("--check without --output-dir is a usage error (exit 2)", () => {
    expect(cli(["generate", "-f", "examples/hooks.yaml", "--check"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "error: --check compares a directory: give --output-dir <dir>\n",
    });
  });
});

describe("pipes and stdin", { timeout: 180_000 }, () => {
  // More than a pipe buffer (64 KiB) and than head reads at once, so the CLI is still writing when head exits.
  const many = join(tmp, "many.yaml");
  writeFileSync(
    many,
    [
      "apiVersion: resource-hooks.io/v1alpha1",
      "kind: HookSet",
      "metadata: {name: many}",
      "spec:",
      "  runner: {url: http://many-runner.argo-events.svc:8080}",
      "  hooks:",
      ...Array.from(
        { length: 40 },
        (_, i) =>
          `    - {name: h${i}, on: {resource: {group: apps, version: v1, resource: deployments, namespace: ns${i}, name: a${i}}, changed: [spec.replicas]}, steps: [{name: s, log: {message: m}}]}`,
      ),
    ].join("\n"),
  );

  it("output piped into head ends quietly: no stack trace, exit 0", () => {
    const size = cli(["generate", "-f", many]).stdout.length;
    expect(size).toBeGreaterThan(256 * 1024);
    for (const command of [`generate -f '${many}'`, "schema", `generate -f '${many}' -o json`]) {
      const r = bash(`${node} ${command} | head -n 2`);
      expect(r.stdout.split("\n")).toHaveLength(3);
      expect(r, command).toMatchObject({ code: 0, stderr: "" });
    }
  });

  it("-f - reads hooks.yaml from stdin, for validate, generate and simulate", () => {
    expect(cli(["validate", "-f", "-"], { input: example })).toEqual({
      code: 0,
      stdout: "<stdin>: valid: 6 hook(s), 5 watch(es)\n",
      stderr: "",
    });
    expect(cli(["generate", "-f", "-"], { input: example }).stdout).toBe(
      cli(["generate", "-f", "examples/hooks.yaml"]).stdout.replace("from examples/hooks.yaml;", "from -;"),
    );
    const sim = cli(
      [
        "simulate",
        "-f",
        "-",
        "--old",
        "examples/objects/deployment-2-replicas.yaml",
        "--new",
        "examples/objects/deployment-4-replicas.yaml",
      ],
      { input: example },
    );
    expect(sim.code).toBe(0);
    expect(sim.stdout).toContain("FIRES  announce-scaling: spec.replicas changed");
  });

  it("errors in hooks.yaml from stdin name <stdin>:line:column", () => {
    const bad = example.replace("events: [update]", "events: [modify]");
    const r = cli(["validate", "-f", "-"], { input: bad });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^<stdin>:26:\d+: spec\.hooks\[0\]\.on\.events\[0\]: expected one of "add", "update", "delete", got string "modify"\n$/,
    );
  });
});

describe("exit codes, streams and colour", { timeout: 180_000 }, () => {
  it("usage errors exit 2 with the message on stderr; --help and --version exit 0", () => {
    for (const args of [
      ["frobnicate"],
      ["runs", "list"],
      ["validate", "-f", "examples/hooks.yaml", "--bogus"],
      ["validate", "-f", "examples/hooks.yaml", "-o", "xml"],
      ["completion", "tcsh"],
      [],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(r.stderr, args.join(" ")).not.toBe("");
    }
    expect(cli(["--help"]).code).toBe(0);
    expect(cli(["--version"])).toMatchObject({
      code: 0,
      stdout: `${(JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version}\n`,
    });
  });

  it("invalid input exits 1, with the problem on stderr and nothing on stdout", () => {
    const r = cli(["simulate", "-f", "examples/hooks.yaml", "--new", join(tmp, "absent.yaml"), "--type", "add"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^resource-hooks: --new .*absent\.yaml: ENOENT/);
  });

  it("version prints the package and Node.js versions, also as JSON", () => {
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(cli(["version"])).toEqual({
      code: 0,
      stdout: `resource-hooks ${version} (Node.js ${process.versions.node})\n`,
      stderr: "",
    });
    expect(JSON.parse(cli(["version", "-o", "json"]).stdout)).toEqual({ version, node: process.versions.node });
  });

  it("-o is the output format in every command: yaml and json say the same", () => {
    const json = JSON.parse(cli(["schema"]).stdout) as unknown;
    expect(parseAllDocuments(cli(["schema", "-o", "yaml"]).stdout)[0]!.toJS()).toEqual(json);
    expect(JSON.parse(cli(["validate", "-f", "examples/hooks.yaml", "-o", "json"]).stdout)).toEqual({
      file: "examples/hooks.yaml",
      valid: true,
      hooks: 6,
      watches: 5,
    });
    const sim = [
      "simulate",
      "-f",
      "examples/hooks.yaml",
      "--old",
      "examples/objects/deployment-2-replicas.yaml",
      "--new",
      "examples/objects/deployment-4-replicas.yaml",
    ];
    expect(parseAllDocuments(cli([...sim, "-o", "yaml"]).stdout)[0]!.toJS()).toEqual(
      JSON.parse(cli([...sim, "-o", "json"]).stdout),
    );
  });

  // script(1) gives the CLI a real terminal; its output is what the terminal shows.
  const onTerminal = (command: string, env: Record<string, string> = {}) =>
    bash(`script -qec "${node} ${command}" /dev/null`, env);

  it("colours validation errors on a terminal, never with NO_COLOR, never into a pipe", () => {
    const bad = join(tmp, "bad.yaml");
    writeFileSync(bad, example.replace("events: [update]", "events: [modify]"));
    const tty = onTerminal(`validate -f '${bad}'`);
    expect(tty.code).toBe(1);
    expect(tty.stdout).toContain(`\u001b[1m\u001b[31m${bad}:26:`);
    const noColor = onTerminal(`validate -f '${bad}'`, { NO_COLOR: "1" });
    expect(noColor.code).toBe(1);
    expect(noColor.stdout).toContain(`${bad}:26:`);
    expect(noColor.stdout).not.toContain("\u001b[");
    expect(cli(["validate", "-f", bad]).stderr).not.toContain("\u001b[");
  });

  it("colours the --check diff on a terminal, never with NO_COLOR", () => {
    const dir = join(tmp, "colour");
    mkdirSync(dir);
    expect(cli(["generate", "-f", "examples/hooks.yaml", "--output-dir", dir]).code).toBe(0);
    const sensor = join(dir, "sensors/web.yaml");
    writeFileSync(sensor, readFileSync(sensor, "utf8").replace("kind: Sensor", "kind: Sensor\n# edited"));
    const diff = onTerminal(`generate -f examples/hooks.yaml --output-dir '${dir}' --check`);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain("\u001b[31m-# edited\u001b[0m");
    expect(
      onTerminal(`generate -f examples/hooks.yaml --output-dir '${dir}' --check`, { NO_COLOR: "1" }).stdout,
    ).not.toContain("\u001b[");
  });
});

describe("completion", { timeout: 180_000 }, () => {
  function walk(cmd: Command, path: string[] = []): Array<{ path: string[]; flags: string[] }> {
    const flags = cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
    return [{ path, flags }, ...cmd.commands.flatMap((c) => walk(c, [...path, c.name()]))];
  }
  const commands = walk(buildProgram());

  it("every command and every flag of the command tree appears in the bash, zsh and fish scripts", () => {
    expect(commands.map((c) => c.path.join(" "))).toEqual(
      expect.arrayContaining([
        "init",
        "add",
        "validate",
        "generate",
        "schema",
        "serve",
        "send",
        "runs list",
        "runs get",
        "runs retry",
        "simulate",
        "explain",
        "version",
        "completion",
      ]),
    );
    const program = buildProgram();
    const bashText = bashScript(program);
    const zshText = zshScript(program);
    const fishText = fishScript(program);
    for (const { path, flags } of commands) {
      const name = path.at(-1);
      if (name) {
        expect(bashText, name).toMatch(new RegExp(`rh_subs='[^']*\\b${name}\\b`));
        expect(zshText, name).toMatch(new RegExp(`rh_subs='[^']*\\b${name}\\b`));
        expect(fishText, name).toContain(` -a ${name} `);
      }
      const table = new RegExp(`'${path.join(" ")}'\\)\\n\\s+rh_subs='[^']*'\\n\\s+rh_opts='([^']*)'`);
      for (const flag of flags) {
        expect(table.exec(bashText)?.[1]?.split(" "), `${path.join(" ")} ${flag}`).toContain(flag);
        expect(table.exec(zshText)?.[1]?.split(" "), `${path.join(" ")} ${flag}`).toContain(flag);
        expect(fishText, `${path.join(" ")} ${flag}`).toContain(
          flag.startsWith("--") ? ` -l ${flag.slice(2)}` : ` -s ${flag.slice(1)}`,
        );
      }
    }
  });

  it("the bash script completes commands, subcommands, flags and choices in a real bash", () => {
    const r = cli(["completion", "bash"]);
    expect(r.code).toBe(0);
    const script = join(tmp, "completion.bash");
    writeFileSync(script, r.stdout);
    const complete = (...words: string[]) => {
      const quoted = words.map((w) => `'${w}'`).join(" ");
      const out = bash(
        `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _resource_hooks; echo "\${COMPREPLY[*]}"`,
      );
      expect(out.stderr).toBe("");
      return out.stdout.trim();
    };
    expect(complete("resource-hooks", "gen")).toBe("generate");
    expect(complete("resource-hooks", "runs", "re")).toBe("retry");
    expect(complete("resource-hooks", "generate", "--out")).toBe("--output-dir --output");
    expect(complete("resource-hooks", "generate", "-f", "x.yaml", "-o", "")).toBe("yaml json");
    expect(complete("resource-hooks", "completion", "")).toBe("bash zsh fish");
    expect(complete("resource-hooks", "runs", "list", "--h").split(" ").sort()).toEqual([
      "--help",
      "--hook",
      "--hookset",
    ]);
  });
});
