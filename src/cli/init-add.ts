// `resource-hooks init` (a commented starter hooks.yaml) and `resource-hooks add` (one more hook,
// the way users add a Sensor per resource). `add` changes nothing but the end of the hooks
// list: the new hook is rendered by the yaml library and spliced in as text after the last hook,
// because re-printing the whole document (Document.toString) re-folds block scalars and
// re-spaces flow collections the user wrote. The result is validated before it is written.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { Document, isMap, isSeq, parse as parseYaml, parseDocument, type YAMLSeq } from "yaml";
import { parseHookSet, SpecError } from "../hookset/load.js";
import { CliError, out, reportProblems, UsageError } from "./io.js";
import { STARTER_HOOKS_YAML } from "./starter.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a commented starter hooks.yaml (one hook that logs), ready to validate and generate")
    .option("-f, --file <path>", "where to write it", "hooks.yaml")
    .option("--force", "overwrite an existing file")
    .action((opts: { file: string; force?: boolean }) => {
      if (existsSync(opts.file) && !opts.force)
        throw new CliError(`${opts.file} exists; add hooks with resource-hooks add, or overwrite it with --force`);
      writeFileSync(opts.file, STARTER_HOOKS_YAML);
      out(`${opts.file}: written; next: resource-hooks add … -f ${opts.file}, resource-hooks validate -f ${opts.file}`);
    });
}

/** Every step flag pushes here in command-line order, so the steps run in the order written. */
type StepSpec =
  | { type: "http"; method: string; url: string }
  | { type: "log"; message: string }
  | { type: "kubernetes"; action: string; file: string }
  | { type: "waitFor"; timeout: string };

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const KUBERNETES_ACTIONS = ["apply", "create", "delete"];

function parseResource(value: string): { group?: string; version: string; resource: string } {
  const parts = value.split("/");
  // A version looks like v1, v1beta1: `apps/deployments` must not pass as version "apps".
  const version = (v: string | undefined) => v !== undefined && /^v\d+((alpha|beta)\d+)?$/.test(v);
  if (parts.length === 2 && version(parts[0]) && parts[1]) return { version: parts[0]!, resource: parts[1] };
  if (parts.length === 3 && parts[0] && version(parts[1]) && parts[2])
    return { group: parts[0], version: parts[1]!, resource: parts[2] };
  throw new InvalidArgumentError(
    "expected <group>/<version>/<resource> (apps/v1/deployments) or <version>/<resource> for the core group (v1/configmaps)",
  );
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
  const steps: StepSpec[] = [];
  const step = (make: (value: string) => StepSpec) => (value: string) => {
    steps.push(make(value));
    return value;
  };
  program
    .command("add")
    .description(
      "append a hook to a hooks.yaml, keeping its comments and layout; refuses (changing nothing) if the result does not validate",
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
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option(
      "--event <type>",
      "add, update or delete (repeatable; default all three)",
      (v: string, prev: string[]) => {
        if (!["add", "update", "delete"].includes(v)) throw new InvalidArgumentError("expected add, update or delete");
        return [...prev, v];
      },
      [],
    )
    .option("--hook <name>", "the hook's name (default <name or all>-<resource>)")
    .option(
      "--http <[METHOD=]url>",
      "step: an HTTP call, e.g. POST=https://example.com/deployed/{{ object.metadata.name }} (method defaults to POST)",
      step((v) => {
        const m = /^([A-Za-z]+)=(.+)$/.exec(v);
        if (m && !HTTP_METHODS.includes(m[1]!.toUpperCase()))
          throw new InvalidArgumentError(`unknown method ${m[1]}; one of ${HTTP_METHODS.join(", ")}`);
        return { type: "http", method: m ? m[1]!.toUpperCase() : "POST", url: m ? m[2]! : v };
      }),
    )
    .option(
      "--log <message>",
      "step: a log line (a template over object, oldObject, event)",
      step((message) => ({ type: "log", message })),
    )
    .option(
      "--kubernetes <action=manifest.yaml>",
      `step: ${KUBERNETES_ACTIONS.join(", ")} the object in a manifest file (its text is copied into the hook), e.g. create=job.yaml`,
      step((v) => {
        const m = /^([a-z]+)=(.+)$/.exec(v);
        if (!m || !KUBERNETES_ACTIONS.includes(m[1]!))
          throw new InvalidArgumentError(`expected <action>=<file> with action ${KUBERNETES_ACTIONS.join(", ")}`);
        return { type: "kubernetes", action: m[1]!, file: m[2]! };
      }),
    )
    .option(
      "--wait-rollout <timeout>",
      "step: wait until the changed Deployment/StatefulSet/DaemonSet rolled out (e.g. 10m)",
      step((timeout) => ({ type: "waitFor", timeout })),
    )
    .option("-f, --file <path>", "the hooks.yaml to change", "hooks.yaml")
    .action((opts: AddOptions) => {
      if (steps.length === 0)
        throw new UsageError("give at least one step: --http, --log, --kubernetes or --wait-rollout");
      let text: string;
      try {
        text = readFileSync(opts.file, "utf8");
      } catch (e) {
        throw new CliError(`cannot read ${opts.file}: ${(e as Error).message} (resource-hooks init writes a starter)`);
      }
      const updated = appendHook(text, buildHook(opts, steps, hookNames(text)));
      try {
        parseHookSet(updated, opts.file);
      } catch (e) {
        if (!(e instanceof SpecError)) throw e;
        reportProblems(e.message);
        throw new CliError(
          `${opts.file}: not changed: the hook would make it invalid (positions above are in the file as it would be)`,
        );
      }
      writeFileSync(opts.file, updated);
      out(`${opts.file}: added hook ${lastHookName(updated)}`);
    });
}

function hookNames(text: string): Set<string> {
  const data = (() => {
    try {
      return parseYaml(text) as unknown;
    } catch {
      return undefined;
    }
  })();
  const hooks = (data as { spec?: { hooks?: unknown } } | undefined)?.spec?.hooks;
  return new Set(Array.isArray(hooks) ? hooks.map((h) => String((h as { name?: unknown })?.name)) : []);
}

function lastHookName(text: string): string {
  const hooks = (parseYaml(text) as { spec: { hooks: Array<{ name: string }> } }).spec.hooks;
  return hooks.at(-1)!.name;
}

function buildHook(opts: AddOptions, specs: StepSpec[], taken: Set<string>): Record<string, unknown> {
  const dns = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "");
  let name = opts.hook;
  if (!name) {
    const base = dns(`${opts.name ?? "all"}-${opts.resource.resource}`);
    name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  }
  const stepNames = new Set<string>();
  const stepName = (base: string) => {
    let n = base;
    for (let i = 2; stepNames.has(n); i++) n = `${base}-${i}`;
    stepNames.add(n);
    return n;
  };
  const steps = specs.map((s) => {
    switch (s.type) {
      case "http":
        return { name: stepName("call"), http: { method: s.method, url: s.url } };
      case "log":
        return { name: stepName("log"), log: { message: s.message } };
      case "waitFor":
        // The step's own timeout must cover the wait.
        return { name: stepName("rollout"), waitFor: { for: "rollout", timeout: s.timeout }, timeout: s.timeout };
      case "kubernetes":
        return { name: stepName(s.action), kubernetes: { action: s.action, manifest: readManifest(s.file) } };
    }
  });
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
    steps,
  };
}

function readManifest(file: string): unknown {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CliError(`--kubernetes ${file}: ${(e as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new CliError(`--kubernetes ${file}: expected one Kubernetes object`);
  return value;
}

/**
 * Returns `text` with `hook` as the last item of spec.hooks. A block list gets the hook's text
 * after its last item, indented like it; a missing or flow-style list (`hooks: []`) is set through
 * the Document API (the only case where the file is re-printed).
 */
export function appendHook(text: string, hook: Record<string, unknown>): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new CliError(`cannot add to a file that is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  if (!isMap(doc.contents)) throw new CliError("cannot add: the file is not a HookSet (no mapping at the top)");
  const spec = doc.get("spec", true);
  if (spec !== undefined && !isMap(spec)) throw new CliError("cannot add: spec is not a mapping");
  const hooks = doc.getIn(["spec", "hooks"], true);
  if (!isSeq(hooks) || hooks.flow || hooks.items.length === 0 || !hooks.range) {
    if (hooks !== undefined && hooks !== null && !isSeq(hooks))
      throw new CliError("cannot add: spec.hooks is not a list");
    const seq = doc.createNode([hook]) as YAMLSeq;
    doc.setIn(["spec", "hooks"], seq);
    return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  }
  const last = hooks.items.at(-1) as {
    range?: [number, number, number] | null;
    spaceBefore?: boolean;
    commentBefore?: string | null;
  };
  const lineStart = (pos: number) => text.lastIndexOf("\n", pos - 1) + 1;
  const indent = " ".repeat(hooks.range[0] - lineStart(hooks.range[0]));
  // After the line on which the last hook's value ends (a block scalar's range already ends past its newline).
  const valueEnd = last.range![1];
  const nl = text[valueEnd - 1] === "\n" ? valueEnd - 1 : text.indexOf("\n", valueEnd);
  const at = nl === -1 ? text.length : nl + 1;
  const item = new Document([hook]).toString({ lineWidth: 0, flowCollectionPadding: false });
  const separated =
    Boolean(hooks.commentBefore) ||
    hooks.items.some(
      (h) =>
        (h as { spaceBefore?: boolean; commentBefore?: string | null }).spaceBefore ||
        (h as { commentBefore?: string | null }).commentBefore,
    );
  const block = `${separated ? "\n" : ""}${item
    .trimEnd()
    .split("\n")
    .map((line) => (line === "" ? line : indent + line))
    .join("\n")}\n`;
  const before = text.slice(0, at);
  return `${before}${before.endsWith("\n") || before === "" ? "" : "\n"}${block}${text.slice(at)}`;
}
