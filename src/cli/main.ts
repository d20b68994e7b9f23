#!/usr/bin/env node
// resource-hooks: validate, generate, schema, serve, send, simulate.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { diffOutput, generate, render, writeOutput } from "../generate/index.js";
import { planWatches } from "../generate/eventsource.js";
import { loadHookSetFile, SpecError } from "../spec/load.js";
import { hookSetSchema } from "../spec/schema.js";
import type { HookSet } from "../spec/types.js";
import { simulate } from "../simulate.js";
import type { KubeObject } from "../trigger/event.js";
import { registerExplain } from "./explain.js";
import { registerRunCommands } from "./runs.js";
import { registerServe } from "./serve.js";

const program = new Command();
program.name("resource-hooks").description("Run steps after a specific Kubernetes resource, or field of it, changed — on Argo Events.").version("0.1.0");

function load(file: string): HookSet {
  try {
    return loadHookSetFile(file);
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

function readObject(file: string, what: string): KubeObject {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new InvalidArgumentError(`${what} ${file}: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new InvalidArgumentError(`${what} ${file}: expected one Kubernetes object`);
  return value as KubeObject;
}

const eventType = new Option("--type <type>", "event type").choices(["add", "update", "delete"]).default("update");

program
  .command("validate")
  .description("check a hooks.yaml; errors name file:line:column, the path and what was expected")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .action((opts: { file: string }) => {
    const hookSet = load(opts.file);
    const watches = planWatches(hookSet).size;
    process.stdout.write(`${opts.file}: valid: ${hookSet.hooks.length} hook(s), ${watches} watch(es)\n`);
  });

program
  .command("generate")
  .description("write eventsources/, sensors/ and manifests/ for a hooks.yaml")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .requiredOption("-o, --out <dir>", "output directory")
  .option("--check", "write nothing; exit 1 naming the files that differ from what would be written")
  .option("--create-token-secret", "also write manifests/token-secret.yaml with a placeholder (the runner refuses to start with it); by default the Secret is a prerequisite you create")
  .action((opts: { file: string; out: string; check?: boolean; createTokenSecret?: boolean }) => {
    const hookSet = load(opts.file);
    let files;
    try {
      files = generate(hookSet, { createTokenSecret: Boolean(opts.createTokenSecret) });
    } catch (err) {
      process.stderr.write(`${opts.file}: ${(err as Error).message}\n`);
      process.exit(1);
    }
    const rendered = render(files, opts.file);
    if (opts.check) {
      const diff = diffOutput(opts.out, rendered);
      const problems = [...diff.changed.map((p) => `${p}: differs from what would be generated`), ...diff.stale.map((p) => `${p}: generated file no longer produced`)];
      if (problems.length > 0) {
        process.stderr.write(`${problems.join("\n")}\nrun: resource-hooks generate -f ${opts.file} -o ${opts.out}\n`);
        process.exit(1);
      }
      process.stdout.write(`${opts.out}: up to date (${rendered.size} files)\n`);
      return;
    }
    const diff = writeOutput(opts.out, rendered);
    process.stdout.write(`${opts.out}: ${rendered.size} files, ${diff.changed.length} written, ${diff.stale.length} removed\n`);
  });

program
  .command("schema")
  .description("print the JSON Schema of hooks.yaml")
  .action(() => {
    process.stdout.write(`${JSON.stringify(hookSetSchema(), null, 2)}\n`);
  });

registerServe(program, load);
registerRunCommands(program, { readObject, eventType, load });
registerExplain(program, { load, readObject });

program
  .command("simulate")
  .description("print which hooks an old/new object pair would fire and why not the others, with steps rendered; runs nothing")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .requiredOption("--new <file>", "the object after the change")
  .option("--old <file>", "the object before the change (for update)")
  .addOption(eventType)
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
  .action((opts: { file: string; new: string; old?: string; type: string; output: string }) => {
    const hookSet = load(opts.file);
    const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
    const object = readObject(opts.new, "--new");
    const oldObject = opts.old ? readObject(opts.old, "--old") : null;
    if (type === "UPDATE" && !oldObject) throw new InvalidArgumentError("--type update needs --old");
    const results = simulate(hookSet, { type, object, oldObject });
    if (opts.output === "json") {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return;
    }
    for (const r of results) {
      process.stdout.write(`${r.fires ? "FIRES" : "skips"}  ${r.hook}: ${r.reason}\n`);
      if (!r.fires) continue;
      for (const step of r.steps) {
        const runs = step.runs === null ? "if undecided" : step.runs ? "runs" : "skipped (if is false)";
        process.stdout.write(`       - ${step.name} (${step.type}, ${runs})${step.note ? ` — ${step.note}` : ""}\n`);
        process.stdout.write(`${JSON.stringify(step.config, null, 2).replace(/^/gm, "           ")}\n`);
      }
    }
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`resource-hooks: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
