// `resource-hooks init` and `add`: the real CLI on real files, and appendHook on the layouts a
// user's hooks.yaml may have (the text around the new hook must stay byte for byte).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { appendHook } from "../../src/cli/append-hook.js";
import { STARTER_HOOKS_YAML } from "../../src/cli/starter.js";
import { parseHookSet } from "../../src/hookset/load.js";

const root = join(import.meta.dirname, "../..");
const CLI = ["--import", "tsx", join(root, "src/cli/main.ts")];
const tmp = mkdtempSync(join(tmpdir(), "rh-cli-add-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NO_COLOR;
  const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: root, encoding: "utf8", env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const example = readFileSync(join(root, "examples/hooks.yaml"), "utf8");
const hook = {
  name: "added",
  on: { resource: { version: "v1", resource: "secrets" } },
  steps: [{ name: "log", log: { message: "m" } }],
};

// A child process starts in a second or more on a loaded machine: the timeouts bound a hang only.
describe("init", { timeout: 120_000 }, () => {
  it("writes a commented starter that validates, and refuses to overwrite without --force", () => {
    const file = join(tmp, "init.yaml");
    expect(cli("init", "-f", file)).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(file, "utf8")).toBe(STARTER_HOOKS_YAML);
    expect(STARTER_HOOKS_YAML).toMatch(/^# /);
    expect(cli("validate", "-f", file)).toEqual({
      code: 0,
      stdout: `${file}: valid: 1 hook(s), 1 watch(es)\n`,
      stderr: "",
    });
    writeFileSync(file, "mine\n");
    const again = cli("init", "-f", file);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `resource-hooks: ${file} exists; add hooks with resource-hooks add, or overwrite it with --force\n`,
    );
    expect(readFileSync(file, "utf8")).toBe("mine\n");
    expect(cli("init", "-f", file, "--force").code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(STARTER_HOOKS_YAML);
  });
});

describe("add", { timeout: 180_000 }, () => {
  it("appends a valid hook after the last one, leaving every other byte of the file as it was", () => {
    const file = join(tmp, "hooks.yaml");
    writeFileSync(file, example);
    const r = cli(
      "add",
      "-f",
      file,
      "--resource",
      "apps/v1/deployments",
      "--namespace",
      "web",
      "--name",
      "frontend",
      "--changed",
      "spec.template.spec.containers[0].image",
      "--log",
      "image now {{ object.spec.template.spec.containers[0].image }}",
      "--http",
      "PUT=https://hooks.example.com/deployed/{{ object.metadata.name }}",
    );
    expect(r).toEqual({ code: 0, stdout: `${file}: added hook frontend-deployments\n`, stderr: "" });
    const updated = readFileSync(file, "utf8");
    expect(updated.startsWith(example)).toBe(true);
    expect(updated.slice(example.length)).toBe(
      [
        "",
        "    - name: frontend-deployments",
        "      on:",
        "        resource:",
        "          group: apps",
        "          version: v1",
        "          resource: deployments",
        "          namespace: web",
        "          name: frontend",
        "        changed:",
        "          - spec.template.spec.containers[0].image",
        "      steps:",
        "        - name: log",
        "          log:",
        "            message: image now {{ object.spec.template.spec.containers[0].image }}",
        "        - name: call",
        "          http:",
        "            method: PUT",
        "            url: https://hooks.example.com/deployed/{{ object.metadata.name }}",
        "",
      ].join("\n"),
    );
    // The new hook is a real one: it fires for the image change and not for a scale.
    const fires = cli(
      "simulate",
      "-f",
      file,
      "--old",
      join(root, "examples/objects/frontend-1.4.0.yaml"),
      "--new",
      join(root, "examples/objects/frontend-1.5.0.yaml"),
      "-o",
      "json",
    );
    expect(
      (JSON.parse(fires.stdout) as Array<{ hook: string; fires: boolean }>).find(
        (x) => x.hook === "frontend-deployments",
      ),
    ).toMatchObject({ fires: true });
  });

  it("refuses a hook that would make the file invalid, naming file:line:column, and leaves the file unchanged", () => {
    const file = join(tmp, "refuse.yaml");
    writeFileSync(file, example);
    const r = cli(
      "add",
      "-f",
      file,
      "--resource",
      "v1/configmaps",
      "--http",
      "https://user:secret@hooks.example.com/x",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: spec\\.hooks\\[6\\]\\.steps\\[0\\]\\.http\\.url: .*credentials`,
        "m",
      ),
    );
    expect(r.stderr).toContain(`resource-hooks: ${file}: not changed: the hook would make it invalid`);
    expect(readFileSync(file, "utf8")).toBe(example);
  });

  it("keeps steps in command-line order, copies a --kubernetes manifest in, and names hooks uniquely", () => {
    const file = join(tmp, "k8s.yaml");
    writeFileSync(file, STARTER_HOOKS_YAML);
    const job = join(tmp, "job.yaml");
    writeFileSync(
      job,
      "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: smoke-, namespace: web}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: t, image: busybox}]}}}\n",
    );
    const args = [
      "add",
      "-f",
      file,
      "--resource",
      "v1/configmaps",
      "--namespace",
      "web",
      "--event",
      "update",
      "--wait-rollout",
      "5m",
      "--kubernetes",
      `create=${job}`,
      "--log",
      "done",
    ];
    expect(cli(...args).code).toBe(0);
    expect(cli(...args).stdout).toBe(`${file}: added hook all-configmaps-2\n`);
    const hooks = (
      parse(readFileSync(file, "utf8")) as {
        spec: { hooks: Array<{ name: string; on: unknown; steps: Array<Record<string, unknown>> }> };
      }
    ).spec.hooks;
    expect(hooks.map((h) => h.name)).toEqual(["log-image-change", "all-configmaps", "all-configmaps-2"]);
    expect(hooks[1]!.on).toEqual({
      resource: { version: "v1", resource: "configmaps", namespace: "web" },
      events: ["update"],
    });
    expect(hooks[1]!.steps).toEqual([
      { name: "rollout", waitFor: { for: "rollout", timeout: "5m" }, timeout: "5m" },
      { name: "create", kubernetes: { action: "create", manifest: parse(readFileSync(job, "utf8")) as unknown } },
      { name: "log", log: { message: "done" } },
    ]);
    expect(readFileSync(file, "utf8").startsWith(STARTER_HOOKS_YAML)).toBe(true);
  });

  it("usage errors exit 2 and change nothing: no step, a resource without a version", () => {
    const file = join(tmp, "usage.yaml");
    writeFileSync(file, STARTER_HOOKS_YAML);
    expect(cli("add", "-f", file, "--resource", "v1/configmaps")).toMatchObject({
      code: 2,
      stderr: "error: give at least one step: --http, --log, --kubernetes or --wait-rollout\n",
    });
    const noVersion = cli("add", "-f", file, "--resource", "apps/deployments", "--log", "x");
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain("expected <group>/<version>/<resource> (apps/v1/deployments)");
    expect(readFileSync(file, "utf8")).toBe(STARTER_HOOKS_YAML);
  });
});

describe("appendHook", () => {
  it("inserts after the last hook when other keys follow the list, keeping comments and a folded scalar", () => {
    const text = [
      "apiVersion: resource-hooks.io/v1alpha1",
      "kind: HookSet",
      "metadata: {name: t}",
      "spec:",
      "  hooks:",
      "  - name: a   # trailing comment",
      "    on: {resource: {version: v1, resource: configmaps}}",
      "    steps:",
      "      - name: s",
      "        log:",
      "          message: >-",
      "            folded text",
      "            over lines",
      "",
      "  # about the runner",
      "  runner:",
      "    url: http://t-runner.argo-events.svc:8080",
      "",
    ].join("\n");
    const updated = appendHook(text, hook);
    const cut = text.indexOf("\n  # about the runner");
    expect(updated.slice(0, cut)).toBe(text.slice(0, cut));
    expect(updated.slice(cut)).toBe(
      [
        "  - name: added",
        "    on:",
        "      resource:",
        "        version: v1",
        "        resource: secrets",
        "    steps:",
        "      - name: log",
        "        log:",
        "          message: m",
        "",
        "  # about the runner",
        "  runner:",
        "    url: http://t-runner.argo-events.svc:8080",
        "",
      ].join("\n"),
    );
    expect(parseHookSet(updated, "t.yaml").hooks.map((h) => h.name)).toEqual(["a", "added"]);
  });

  it("adds to a file without a trailing newline and to an empty flow list", () => {
    const noNewline =
      "apiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: t}\nspec:\n  runner: {url: http://t-runner.argo-events.svc:8080}\n  hooks:\n    - {name: a, on: {resource: {version: v1, resource: configmaps}}, steps: [{name: s, log: {message: x}}]}";
    const updated = appendHook(noNewline, hook);
    expect(updated.startsWith(`${noNewline}\n    - name: added\n`)).toBe(true);
    expect(parseHookSet(updated, "t.yaml").hooks.map((h) => h.name)).toEqual(["a", "added"]);
    const empty =
      "# my hooks\napiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: t}\nspec:\n  runner: {url: http://t-runner.argo-events.svc:8080}\n  hooks: []\n";
    const filled = appendHook(empty, hook);
    expect(filled.startsWith("# my hooks\n")).toBe(true);
    expect((parse(filled) as { spec: { hooks: unknown[] } }).spec.hooks).toEqual([hook]);
  });
});
