// `resource-hooks init` (a commented starter hooks.yaml) and `resource-hooks add` (one more hook,
// the way users add a Sensor per resource). `add` edits the file as text (append-hook.ts), reads
// the edit back, validates the result, and only then replaces the file in one rename.
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { hookSetTooLarge, InputTooLarge, MAX_HOOKSET_BYTES, readBounded } from "../hookset/input.js";
import { parseHookSet, SpecError } from "../hookset/load.js";
import { hookNames, withHook } from "./append-hook.js";
import { CliError, Failure, UsageError } from "./exit.js";
import { makeDirs, writeFileAtomic } from "./files.js";
import { out, problemsText, readObject } from "./io.js";
import { collect, duration, fileOption } from "./options.js";
import { STARTER_HOOKS_YAML } from "./starter.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a commented starter hooks.yaml (one hook that logs), ready to validate and generate")
    .addOption(fileOption("where to write it", false))
    .option("--force", "overwrite an existing file")
    .action((opts: { file: string; force?: boolean }) => {
      if (existsSync(opts.file) && !opts.force)
        throw new CliError(`${opts.file} exists; add hooks with resource-hooks add, or overwrite it with --force`);
      try {
        makeDirs(dirname(opts.file));
        writeFileAtomic(opts.file, STARTER_HOOKS_YAML);
      } catch (e) {
        throw new CliError(`cannot write ${opts.file}: ${(e as Error).message}`);
      }
      const next = `resource-hooks add … -f ${opts.file}, resource-hooks validate -f ${opts.file}`;
      out(`${opts.file}: written; next: ${next}`);
    });
}

/**
 * What one step flag (--http, --log, --kubernetes, --wait-rollout) asked for. Every step flag
 * pushes one, so the steps run in the order written.
 */
type StepFlag =
  | { type: "http"; method: string; url: string }
  | { type: "log"; message: string }
  | { type: "kubernetes"; action: string; file: string }
  | { type: "waitFor"; timeout: string };

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const KUBERNETES_ACTIONS = ["apply", "create", "delete"];
const EVENTS = ["add", "update", "delete"];

function parseResource(value: string): { group?: string; version: string; resource: string } {
  const parts = value.split("/");
  // A version looks like v1, v1beta1: `apps/deployments` must not pass as version "apps".
  const version = (v: string | undefined) => v !== undefined && /^v\d+((alpha|beta)\d+)?$/.test(v);
  if (parts.length === 2 && version(parts[0]) && parts[1]) return { version: parts[0]!, resource: parts[1] };
  if (parts.length === 3 && parts[0] && version(parts[1]) && parts[2])
    return { group: parts[0], version: parts[1]!, resource: parts[2] };
  throw new InvalidArgumentError(
    "expected <group>/<version>/<resource> (apps/v1/deployments) " +
      "or <version>/<resource> for the core group (v1/configmaps)",
  );
}

function parseHttp(value: string): StepFlag {
  const m = /^([A-Za-z]+)=(.+)$/.exec(value);
  if (m && !HTTP_METHODS.includes(m[1]!.toUpperCase()))
    throw new InvalidArgumentError(`unknown method ${m[1]}; one of ${HTTP_METHODS.join(", ")}`);
  return { type: "http", method: m ? m[1]!.toUpperCase() : "POST", url: m ? m[2]! : value };
}

function parseKubernetes(value: string): StepFlag {
  const m = /^([a-z]+)=(.+)$/.exec(value);
  if (!m || !KUBERNETES_ACTIONS.includes(m[1]!))
    throw new InvalidArgumentError(`expected <action>=<file> with action ${KUBERNETES_ACTIONS.join(", ")}`);
  return { type: "kubernetes", action: m[1]!, file: m[2]! };
}

interface AddOptions {
  file: string;
  resource: { group?: string; version: string; resource: string };
  namespace?: string;
  name?: string;
  changed: string[];
  event: string[];
  hook?: string;
}

export function registerAdd(program: Command): void {
  const steps: StepFlag[] = [];
  const step = (make: (value: string) => StepFlag) => (value: string) => {
    steps.push(make(value));
    return value;
  };
  program
    .command("add")
    .description(
      "append a hook to a hooks.yaml, keeping its comments and layout; " +
        "refuses (changing nothing) if the result does not validate",
    )
    .requiredOption(
      "--resource <group/version/resource>",
      "the watched resource: apps/v1/deployments, v1/configmaps (core group)",
      parseResource,
    )
    .option("--namespace <ns>", "only objects in this namespace")
    .option("--name <name>", "only the object of this name")
    .option(
      "--changed <path>",
      "fire only when this field changed, e.g. 'spec.template.spec.containers[0].image' (repeatable)",
      collect,
      [],
    )
    .option(
      "--event <type>",
      "add, update or delete (repeatable; default update, as in hooks.yaml)",
      (v: string, prev: string[]) => {
        if (!EVENTS.includes(v)) throw new InvalidArgumentError("expected add, update or delete");
        return [...prev, v];
      },
      [],
    )
    .option("--hook <name>", "the hook's name (default <name or all>-<resource>)")
    .option(
      "--http <[METHOD=]url>",
      "step: an HTTP call, e.g. POST=https://example.com/deployed/{{ object.metadata.name }} " +
        "(method defaults to POST)",
      step(parseHttp),
    )
    .option(
      "--log <message>",
      "step: a log line (a template over object, oldObject, event)",
      step((message) => ({ type: "log", message })),
    )
    .option(
      "--kubernetes <action=manifest.yaml>",
      `step: ${KUBERNETES_ACTIONS.join(", ")} the object in a manifest file (its text is copied into the hook), ` +
        "e.g. create=job.yaml",
      step(parseKubernetes),
    )
    .option(
      "--wait-rollout <timeout>",
      "step: wait until the changed Deployment/StatefulSet/DaemonSet rolled out (e.g. 10m)",
      step((timeout) => ({ type: "waitFor", timeout: duration(timeout) })),
    )
    .addOption(fileOption("the hooks.yaml to change", false))
    .action((opts: AddOptions) => add(opts, steps));
}

function readHooksText(file: string): string {
  try {
    return readBounded(file, MAX_HOOKSET_BYTES).toString("utf8");
  } catch (e) {
    if (e instanceof InputTooLarge) throw new CliError(`${file}: ${hookSetTooLarge(e.bytes)}`);
    throw new CliError(`cannot read ${file}: ${(e as Error).message} (resource-hooks init writes a starter)`);
  }
}

function add(opts: AddOptions, steps: StepFlag[]): void {
  if (steps.length === 0) throw new UsageError("give at least one step: --http, --log, --kubernetes or --wait-rollout");
  const text = readHooksText(opts.file);
  const hook = buildHook(opts, steps, hookNames(text));
  let updated: string;
  try {
    updated = withHook(text, hook);
  } catch (e) {
    throw new CliError(`${opts.file}: not changed: ${(e as Error).message}`);
  }
  try {
    parseHookSet(updated, opts.file);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    throw new Failure(
      `${problemsText(e)}\nresource-hooks: ${opts.file}: not changed: ` +
        "the hook would make it invalid (positions above are in the file as it would be)",
    );
  }
  writeFileAtomic(opts.file, updated);
  out(`${opts.file}: added hook ${String(hook.name)}`);
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  return name;
}

function buildStep(flag: StepFlag, name: (base: string) => string): Record<string, unknown> {
  switch (flag.type) {
    case "http":
      return { name: name("call"), http: { method: flag.method, url: flag.url } };
    case "log":
      return { name: name("log"), log: { message: flag.message } };
    case "waitFor":
      // The step's own timeout must cover the wait.
      return { name: name("rollout"), waitFor: { for: "rollout", timeout: flag.timeout }, timeout: flag.timeout };
    case "kubernetes":
      return {
        name: name(flag.action),
        kubernetes: { action: flag.action, manifest: readObject(flag.file, "--kubernetes") },
      };
  }
}

function buildHook(opts: AddOptions, flags: StepFlag[], taken: Set<string>): Record<string, unknown> {
  const dns = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "");
  const name = opts.hook ?? uniqueName(dns(`${opts.name ?? "all"}-${opts.resource.resource}`), taken);
  const stepNames = new Set<string>();
  const stepName = (base: string) => {
    const n = uniqueName(base, stepNames);
    stepNames.add(n);
    return n;
  };
  return {
    name,
    on: {
      resource: {
        ...(opts.resource.group ? { group: opts.resource.group } : {}),
        version: opts.resource.version,
        resource: opts.resource.resource,
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        ...(opts.name ? { name: opts.name } : {}),
      },
      ...(opts.event.length > 0 ? { events: opts.event } : {}),
      ...(opts.changed.length > 0 ? { changed: opts.changed } : {}),
    },
    steps: flags.map((flag) => buildStep(flag, stepName)),
  };
}
