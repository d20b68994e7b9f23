// Loads hooks.yaml: YAML with source positions, the JSON Schema, then the checks a schema cannot
// express. Every problem names file:line:column, the path and what was expected.
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { closest } from "fastest-levenshtein";
import { isCollection, isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { compileExpression, ExpressionError, type CompiledExpression } from "../expr/cel.js";
import { parseTemplate, templateStrings } from "../expr/template.js";
import { stepTypeByName, stepTypes } from "../steps/registry.js";
import { DEFAULT_RETRIES, DEFAULT_STEP_TIMEOUT_MS, stepBudgetMs } from "./budget.js";
import { parseDuration } from "./duration.js";
import { parseFieldPath, PathSyntaxError, type FieldPath } from "./paths.js";
import { triggerVariables } from "../trigger/index.js";
import { hookSetSchema } from "./schema.js";
import type {
  ArgoCDTrigger,
  Hook,
  HookDocument,
  HookSet,
  HookSetDocument,
  ResourceTrigger,
  RunnerSettings,
  StepDocument,
  StepSpec,
  Trigger,
} from "./types.js";

export const DEFAULT_NAMESPACE = "argo-events";
export const DEFAULT_RUNNER_IMAGE = "ghcr.io/resource-hooks/resource-hooks:0.1.0";
export const DEFAULT_ARGOCD_NAMESPACE = "argocd";
/** How long an Argo CD hook with healthy: true waits for health when the hook sets no timeout. */
export const DEFAULT_HEALTH_WAIT_MS = 10 * 60_000;

/** Variables a trigger condition may read, by trigger kind (owned by the kinds in src/trigger). */
export const TRIGGER_VARIABLES = {
  resource: triggerVariables("resource"),
  argocd: triggerVariables("argocd"),
} as const;

export const DEFAULT_DEADLINE_MS = 60 * 60_000;
export const MAX_DEADLINE_MS = 7 * 24 * 60 * 60_000;
export const DEFAULT_RETENTION_TTL_MS = 7 * 24 * 60 * 60_000;
export const DEFAULT_KEEP_PER_HOOK = 100;
/**
 * CEL cost limit per evaluation when the HookSet sets none. src/expr/cel.ts exports no default
 * yet; this matches the order of magnitude Kubernetes' CEL admission allows per expression.
 */
export const DEFAULT_CEL_COST_LIMIT = 1_000_000;

type Segment = string | number;

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

export class SpecError extends Error {
  override name = "SpecError";
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

export function loadHookSetFile(file: string): HookSet {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SpecError([{ file, line: 1, column: 1, path: "", message: `cannot read file: ${(err as Error).message}` }]);
  }
  return parseHookSet(text, file);
}

let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addKeyword("patternErrorMessage");
    validator = ajv.compile(hookSetSchema());
  }
  return validator;
}

/** Where problems are reported: positions come from the YAML document. */
class Reporter {
  readonly problems: SpecProblem[] = [];
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Reports at the value at `path` (or, with `key`, at that key of the map at `path`). */
  at(path: Segment[], message: string, key?: string): void {
    const offset = this.offset(path, key);
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ file: this.file, line, column: col, path: formatInstancePath(path), message });
  }

  private offset(path: Segment[], key?: string): number {
    // Walk down as far as the document goes: a missing node reports at its nearest parent.
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      const next = isCollection(node) ? node.get(segment, true) : undefined;
      if (next === undefined || next === null) break;
      node = next;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
    return (node as Node | null)?.range?.[0] ?? 0;
  }
}

export function formatInstancePath(path: readonly Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

export function parseHookSet(text: string, file: string): HookSet {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const reporter = new Reporter(file, doc, lines);
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const { line, col } = lines.linePos(err.pos[0]);
      reporter.problems.push({ file, line, column: col, path: "", message: `invalid YAML: ${err.message.split("\n")[0]}` });
    }
    throw new SpecError(reporter.problems);
  }
  const data: unknown = doc.toJS();
  const validate = schemaValidator();
  if (!validate(data)) {
    reportSchemaErrors(validate.errors ?? [], data, reporter);
    throw new SpecError(sortProblems(reporter.problems));
  }
  const hookSet = buildHookSet(data as HookSetDocument, text, reporter);
  if (reporter.problems.length > 0) throw new SpecError(sortProblems(reporter.problems));
  return hookSet;
}

function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

function pointerToPath(pointer: string, data: unknown): Segment[] {
  if (!pointer) return [];
  const path: Segment[] = [];
  let at: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) {
      path.push(Number(key));
      at = at[Number(key)];
    } else {
      path.push(key);
      at = at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value === "string" ? "string" : typeof value} ${JSON.stringify(value)}`;
}

const TYPE_NAMES: Record<string, string> = { object: "a map", array: "a list", string: "a string", integer: "an integer", number: "a number", boolean: "true or false" };

/**
 * For a failed oneOf/anyOf, ajv reports every alternative's errors. Keep only those of the
 * alternative the value came closest to (its type matched, fewest errors): that is the shape
 * the user meant.
 */
function closestAlternatives(errors: ErrorObject[]): ErrorObject[] {
  let kept = errors;
  const choices = errors.filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf").sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const choice of choices) {
    if (!kept.includes(choice)) continue;
    const prefix = `${choice.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of kept) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split("/")[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    if (branches.size === 0) continue;
    // A wrong type or a wrong discriminator (a `const` such as provider: cloudflare) rules a branch out first.
    const typeMismatch = (es: ErrorObject[]) => es.some((e) => e.keyword === "type" && e.instancePath === choice.instancePath);
    const constMismatch = (es: ErrorObject[]) => es.some((e) => e.keyword === "const");
    const rank = (es: ErrorObject[]) => Number(typeMismatch(es)) * 2 + Number(constMismatch(es));
    const best = [...branches.values()].sort((a, b) => rank(a) - rank(b) || a.length - b.length)[0]!;
    kept = kept.filter((e) => e !== choice && (!e.schemaPath.startsWith(prefix) || best.includes(e)));
  }
  return kept;
}

function reportSchemaErrors(errors: ErrorObject[], data: unknown, reporter: Reporter): void {
  for (const error of closestAlternatives(errors)) {
    const path = pointerToPath(error.instancePath, data);
    switch (error.keyword) {
      case "additionalProperties": {
        const field = String((error.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
        if (path.length >= 4 && path[path.length - 2] === "steps" && path[0] === "spec") {
          reporter.at(path, `unknown step type "${field}" (expected one of ${stepTypes.map((t) => t.type).join(", ")})`, field);
        } else {
          const guess = known.length ? closest(field, known) : undefined;
          reporter.at(path, `unknown field "${field}"${guess ? ` (did you mean "${guess}"?)` : ""}`, field);
        }
        break;
      }
      case "required":
        reporter.at(path, `missing required field "${(error.params as { missingProperty: string }).missingProperty}"`);
        break;
      case "type": {
        // An inline value where a secret reference belongs: say so, and do not echo the secret.
        if ((error.parentSchema as { properties?: Record<string, unknown> }).properties?.secretKeyRef) {
          reporter.at(path, "expected a secret reference, {secretKeyRef: {name, key}} or {env: NAME}: secrets are never written in hooks.yaml");
          break;
        }
        const expected = String((error.params as { type: string }).type)
          .split(",")
          .map((t) => TYPE_NAMES[t] ?? t)
          .join(" or ");
        reporter.at(path, `expected ${expected}, got ${describeValue(error.data)}`);
        break;
      }
      case "enum":
        reporter.at(path, `expected one of ${((error.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(error.data)}`);
        break;
      case "const":
        reporter.at(path, `expected ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}, got ${describeValue(error.data)}`);
        break;
      case "pattern": {
        const custom = (error.parentSchema as { patternErrorMessage?: string }).patternErrorMessage;
        reporter.at(path, `expected ${custom ?? `a string matching ${(error.params as { pattern: string }).pattern}`}, got ${describeValue(error.data)}`);
        break;
      }
      case "minItems":
        reporter.at(path, `expected at least ${(error.params as { limit: number }).limit} item(s)`);
        break;
      case "uniqueItems":
        reporter.at(path, "expected no duplicate items");
        break;
      case "minLength":
        reporter.at(path, "expected a non-empty string");
        break;
      default:
        reporter.at(path, String(error.message));
    }
  }
}

function compileAt(reporter: Reporter, path: Segment[], source: string, allowed: readonly string[]): CompiledExpression | undefined {
  try {
    const compiled = compileExpression(source);
    for (const variable of compiled.variables) {
      if (!allowed.includes(variable)) {
        reporter.at(path, `unknown variable "${variable}" in ${JSON.stringify(source)} (available: ${allowed.join(", ")})`);
        return undefined;
      }
    }
    return compiled;
  } catch (err) {
    if (err instanceof ExpressionError) {
      reporter.at(path, `invalid CEL expression ${JSON.stringify(source)}: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

function buildHookSet(doc: HookSetDocument, source: string, reporter: Reporter): HookSet {
  const runnerDoc = doc.spec.runner;
  const runner: RunnerSettings = {
    url: runnerDoc.url.replace(/\/+$/, ""),
    tokenSecret: runnerDoc.tokenSecret ?? { name: "resource-hooks-token", key: "token" },
    image: runnerDoc.image ?? DEFAULT_RUNNER_IMAGE,
    replicas: runnerDoc.replicas ?? 1,
    store: runnerDoc.store ?? "kubernetes",
    retention: {
      ttlMs: runnerDoc.retention?.ttl !== undefined ? parseDuration(runnerDoc.retention.ttl) : DEFAULT_RETENTION_TTL_MS,
      keepPerHook: runnerDoc.retention?.keepPerHook ?? DEFAULT_KEEP_PER_HOOK,
    },
  };
  const urlNamespace = clusterServiceNamespace(runner.url);
  const namespace = doc.metadata.namespace ?? DEFAULT_NAMESPACE;
  if (urlNamespace !== undefined && urlNamespace !== namespace) {
    reporter.at(["spec", "runner", "url"], `the URL names namespace "${urlNamespace}", but the runner is generated in "${namespace}" (metadata.namespace)`);
  }
  if (runner.replicas > 1 && runner.store === "memory") {
    reporter.at(["spec", "runner", "store"], "the memory store cannot be shared by several replicas: use store: kubernetes or replicas: 1");
  }
  const hooks: Hook[] = [];
  const firstHookAt = new Map<string, number>();
  doc.spec.hooks.forEach((hookDoc, index) => {
    const at: Segment[] = ["spec", "hooks", index];
    const earlier = firstHookAt.get(hookDoc.name);
    if (earlier !== undefined) {
      reporter.at([...at, "name"], `duplicate hook name "${hookDoc.name}" (also spec.hooks[${earlier}])`);
    } else {
      firstHookAt.set(hookDoc.name, index);
    }
    const trigger = buildTrigger(hookDoc, at, reporter);
    const deadlineMs = hookDoc.deadline !== undefined ? parseDuration(hookDoc.deadline) : DEFAULT_DEADLINE_MS;
    if (deadlineMs > MAX_DEADLINE_MS) reporter.at([...at, "deadline"], `expected at most 168h (7 days), got ${hookDoc.deadline}`);
    if (deadlineMs <= 0) reporter.at([...at, "deadline"], `expected a positive duration, got ${hookDoc.deadline}`);
    const steps = buildSteps(hookDoc.steps, at, trigger?.kind ?? "resource", reporter);
    if (trigger) {
      hooks.push({
        name: hookDoc.name,
        ...(hookDoc.description !== undefined ? { description: hookDoc.description } : {}),
        trigger,
        steps,
        timeoutMs:
          hookDoc.timeout !== undefined
            ? parseDuration(hookDoc.timeout)
            : steps.reduce((sum, step) => sum + stepBudgetMs(step), 0) + (trigger.kind === "argocd" && trigger.healthy ? DEFAULT_HEALTH_WAIT_MS : 0),
        concurrency: hookDoc.concurrency ?? "queue",
        deadlineMs,
      });
    }
  });
  return {
    name: doc.metadata.name,
    namespace,
    runner,
    eventBusName: doc.spec.eventBusName ?? "default",
    hooks,
    celCostLimit: doc.spec.limits?.celCost ?? DEFAULT_CEL_COST_LIMIT,
    source,
  };
}

/** The namespace in a cluster-local Service URL such as http://svc.ns.svc:8080. */
function clusterServiceNamespace(url: string): string | undefined {
  const labels = new URL(url).hostname.split(".");
  return labels.length >= 3 && labels[2] === "svc" ? labels[1] : undefined;
}

function buildTrigger(hookDoc: HookDocument, hookAt: Segment[], reporter: Reporter): Trigger | undefined {
  const on = hookDoc.on;
  const at = [...hookAt, "on"];
  if (on.resource && on.argocd) {
    reporter.at(at, "give one of resource or argocd, not both");
    return undefined;
  }
  if (!on.resource && !on.argocd) {
    reporter.at(at, "missing the trigger: give resource or argocd");
    return undefined;
  }
  if (on.argocd) {
    for (const field of ["events", "changed"] as const) {
      if (on[field] !== undefined) reporter.at(at, `"${field}" applies to resource triggers, not argocd`, field);
    }
    const argo = on.argocd;
    const argoAt = [...at, "argocd"];
    if (argo.application !== undefined && argo.labels !== undefined) reporter.at(argoAt, "give one of application or labels, not both");
    if (argo.application === undefined && argo.labels === undefined) reporter.at(argoAt, "missing the Application: give application or labels");
    argo.resources.forEach((match, i) => {
      if (match.name !== undefined && match.namePrefix !== undefined) reporter.at([...argoAt, "resources", i], "give one of name or namePrefix, not both");
    });
    const when = on.when !== undefined ? compileAt(reporter, [...at, "when"], on.when, TRIGGER_VARIABLES.argocd) : undefined;
    const trigger: ArgoCDTrigger = {
      kind: "argocd",
      watch: {
        group: "argoproj.io",
        version: "v1alpha1",
        resource: "applications",
        namespace: argo.namespace ?? DEFAULT_ARGOCD_NAMESPACE,
        labels: argo.labels ?? {},
      },
      ...(argo.application !== undefined ? { application: argo.application } : {}),
      resources: argo.resources,
      changedOnly: argo.changedOnly ?? true,
      phases: argo.phases ?? ["Succeeded"],
      healthy: argo.healthy ?? false,
      ...(when ? { when } : {}),
    };
    return trigger;
  }
  const resource = on.resource!;
  const resourceAt = [...at, "resource"];
  const selectors = (["name", "namePrefix", "labels"] as const).filter((k) => resource[k] !== undefined);
  if (selectors.length > 1) {
    reporter.at(resourceAt, `give one of name, namePrefix or labels, not ${selectors.length === 2 ? "two" : "three"}`);
  }
  const events = on.events ?? ["update"];
  const changed: FieldPath[] = [];
  on.changed?.forEach((source, i) => {
    try {
      changed.push(parseFieldPath(source));
    } catch (err) {
      if (err instanceof PathSyntaxError) reporter.at([...at, "changed", i], err.message);
      else throw err;
    }
  });
  if (on.changed && !events.includes("update")) {
    reporter.at([...at, "changed"], 'changed applies to update events, and events has no "update"');
  }
  const when = on.when !== undefined ? compileAt(reporter, [...at, "when"], on.when, TRIGGER_VARIABLES.resource) : undefined;
  const trigger: ResourceTrigger = {
    kind: "resource",
    watch: {
      group: resource.group ?? "",
      version: resource.version,
      resource: resource.resource,
      namespace: resource.namespace ?? "",
      labels: resource.labels ?? {},
    },
    ...(resource.name !== undefined ? { name: resource.name } : {}),
    ...(resource.namePrefix !== undefined ? { namePrefix: resource.namePrefix } : {}),
    events,
    ...(on.changed ? { changed } : {}),
    ...(when ? { when } : {}),
  };
  return trigger;
}

const STEP_FIELDS = new Set(["name", "if", "timeout", "retries"]);

function buildSteps(stepDocs: StepDocument[], hookAt: Segment[], triggerKind: Trigger["kind"], reporter: Reporter): StepSpec[] {
  const steps: StepSpec[] = [];
  const names: string[] = [];
  stepDocs.forEach((stepDoc, index) => {
    const at: Segment[] = [...hookAt, "steps", index];
    if (names.includes(stepDoc.name)) reporter.at([...at, "name"], `duplicate step name "${stepDoc.name}" in this hook`);
    const typeKeys = Object.keys(stepDoc).filter((k) => !STEP_FIELDS.has(k));
    if (typeKeys.length !== 1) {
      reporter.at(at, typeKeys.length === 0 ? `missing the step type: give one of ${stepTypes.map((t) => t.type).join(", ")}` : `give one step type, not ${typeKeys.length} (${typeKeys.join(", ")})`);
      names.push(stepDoc.name);
      return;
    }
    const type = typeKeys[0]!;
    const stepType = stepTypeByName(type);
    const config = stepDoc[type];
    const variables = [...TRIGGER_VARIABLES[triggerKind], "steps"];
    // Templates and conditions may only read outputs of steps that ran before this one.
    const checkReferences = (path: Segment[], expr: CompiledExpression): void => {
      for (const ref of expr.stepReferences) {
        if (!names.includes(ref)) {
          const earlier = names.length ? `earlier steps: ${names.join(", ")}` : "no earlier steps";
          reporter.at(path, `refers to steps.${ref}, which is not an earlier step of this hook (${earlier})`);
        }
      }
    };
    let condition: CompiledExpression | undefined;
    if (stepDoc.if !== undefined) {
      condition = compileAt(reporter, [...at, "if"], stepDoc.if, variables);
      if (condition) checkReferences([...at, "if"], condition);
    }
    for (const { path, source } of templateStrings(config)) {
      const where = [...at, type, ...path];
      try {
        for (const part of parseTemplate(source).parts) {
          if (!("expr" in part)) continue;
          const unknown = [...part.expr.variables].find((v) => !variables.includes(v));
          if (unknown) reporter.at(where, `unknown variable "${unknown}" in template ${JSON.stringify(source)} (available: ${variables.join(", ")})`);
          else checkReferences(where, part.expr);
        }
      } catch (err) {
        if (err instanceof ExpressionError) reporter.at(where, `invalid template ${JSON.stringify(source)}: ${err.message}`);
        else throw err;
      }
    }
    if (stepType?.check) {
      for (const problem of stepType.check(config)) reporter.at([...at, type, ...problem.path], problem.message);
    }
    names.push(stepDoc.name);
    steps.push({
      name: stepDoc.name,
      type,
      config,
      ...(condition ? { if: condition } : {}),
      timeoutMs: stepDoc.timeout !== undefined ? parseDuration(stepDoc.timeout) : DEFAULT_STEP_TIMEOUT_MS,
      retries: stepDoc.retries ?? DEFAULT_RETRIES,
    });
  });
  return steps;
}
