// The command tree: init, add, validate, generate, schema, serve, send, runs, simulate, version,
// explain, completion. Built by a function so tests (completion) can walk it without running the CLI.
import { Command } from "commander";
import { planWatches } from "../generate/eventsource.js";
import { hookSetSchema } from "../hookset/schema.js";
import { simulate, type Simulation } from "../simulate.js";
import { registerCompletion } from "./completion.js";
import { registerController } from "./controller.js";
import { UsageError } from "./exit.js";
import { registerExplain } from "./explain.js";
import { registerGenerate } from "./generate.js";
import { registerAdd, registerInit } from "./init-add.js";
import { loadHooks, out, printAs, readObject, STDIN_NAME } from "./io.js";
import { eventTypeOption, fileOption, formatOption } from "./options.js";
import { registerRuns } from "./runs.js";
import { registerSend } from "./send.js";
import { registerServe } from "./serve.js";
import { VERSION } from "../version.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("resource-hooks")
    .description("Run steps after a specific Kubernetes resource, or field of it, changed — on Argo Events.")
    .version(VERSION)
    // Usage errors exit 2 (exit.ts), not commander's 1, which means "invalid input or failed run" here.
    .exitOverride()
    .showHelpAfterError("(resource-hooks <command> --help shows the options)");

  registerInit(program);
  registerAdd(program);
  registerValidate(program);
  registerGenerate(program);
  program
    .command("schema")
    .description("print the JSON Schema of hooks.yaml")
    .addOption(formatOption(["json", "yaml"], "json"))
    .action((opts: { output: string }) => printAs(opts.output, hookSetSchema()));
  registerServe(program);
  registerController(program);
  registerSend(program);
  registerRuns(program);
  registerSimulate(program);
  program
    .command("version")
    .description("print the version of resource-hooks and of Node.js")
    .addOption(formatOption(["text", "json", "yaml"], "text"))
    .action((opts: { output: string }) => {
      const info = { version: VERSION, node: process.versions.node };
      if (opts.output === "text") out(`resource-hooks ${info.version} (Node.js ${info.node})`);
      else printAs(opts.output, info);
    });
  registerExplain(program);
  // Last: the completion scripts are generated from every command registered above.
  registerCompletion(program);
  return program;
}

function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check a hooks.yaml; errors name file:line:column, the path and what was expected")
    .addOption(fileOption("hooks.yaml", true))
    .addOption(formatOption(["text", "json", "yaml"], "text"))
    .action((opts: { file: string; output: string }) => {
      const hookSet = loadHooks(opts.file);
      const file = opts.file === "-" ? STDIN_NAME : opts.file;
      const watches = planWatches(hookSet).size;
      if (opts.output === "text") out(`${file}: valid: ${hookSet.hooks.length} hook(s), ${watches} watch(es)`);
      else printAs(opts.output, { file, valid: true, hooks: hookSet.hooks.length, watches });
    });
}

interface SimulateOptions {
  file: string;
  new: string;
  old?: string;
  type: string;
  output: string;
}

function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description(
      "print which hooks an old/new object pair would fire and why not the others, with steps rendered; " +
        "runs nothing",
    )
    .addOption(fileOption("hooks.yaml", true))
    .requiredOption("--new <file>", "the object after the change")
    .option("--old <file>", "the object before the change (for update)")
    .addOption(eventTypeOption())
    .addOption(formatOption(["text", "json", "yaml"], "text"))
    .action((opts: SimulateOptions) => {
      const hookSet = loadHooks(opts.file);
      const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
      const object = readObject(opts.new, "--new");
      const oldObject = opts.old ? readObject(opts.old, "--old") : null;
      if (type === "UPDATE" && !oldObject) throw new UsageError("--type update needs --old");
      const results = simulate(hookSet, { type, object, oldObject });
      if (opts.output === "text") printSimulation(results);
      else printAs(opts.output, results);
    });
}

function printSimulation(results: Simulation[]): void {
  for (const r of results) {
    out(`${r.fires ? "FIRES" : "skips"}  ${r.hook}: ${r.reason}`);
    if (!r.fires) continue;
    for (const step of r.steps) {
      let runs = "if undecided";
      if (step.runs !== null) runs = step.runs ? "runs" : "skipped (if is false)";
      out(`       - ${step.name} (${step.type}, ${runs})${step.note ? ` — ${step.note}` : ""}`);
      out(JSON.stringify(step.config, null, 2).replace(/^/gm, "           "));
    }
  }
}
