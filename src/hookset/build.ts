// Builds the model the program uses (HookSet, Hook, Trigger, StepSpec) from a schema-valid
// document: defaults applied, expressions compiled, paths parsed, and the checks a schema cannot
// express reported through the Reporter.
import {
  compileExpression,
  ExpressionError,
  inferResultType,
  type CompiledExpression,
  type EvaluationOptions,
  type ResultType,
} from "../expr/cel.js";
import { parseTemplate, templateStrings } from "../expr/template.js";
import { stepTypeByName, stepTypes } from "../steps/registry.js";
import { beforeStepsBudgetMs, triggerKinds, triggerVariables, type TriggerKind } from "../trigger/index.js";
import { DEFAULT_RETRIES, DEFAULT_STEP_TIMEOUT_MS, stepBudgetMs } from "./budget.js";
import { checkInlineHeaders, checkInnerTimeouts } from "./checks.js";
import { parseDuration } from "./duration.js";
import {
  DEFAULT_DEADLINE_MS,
  DEFAULT_KEEP_PER_HOOK,
  DEFAULT_NAMESPACE,
  DEFAULT_RETENTION_TTL_MS,
  DEFAULT_RUNNER_IMAGE,
  DEFAULT_TOKEN_SECRET,
  MAX_DEADLINE_MS,
  RUNNER_PORT,
} from "../model/constants.js";
import type { Reporter, Segment } from "./problems.js";
import { kindKeys } from "./schema.js";
import type {
  Hook,
  HookDocument,
  HookSet,
  HookSetDocument,
  RunnerSettings,
  StepDocument,
  StepSpec,
  Trigger,
} from "./types.js";

/** CEL cost limit per evaluation when the HookSet sets none: the expression engine's own default. */
export { DEFAULT_CEL_COST_LIMIT } from "../expr/cel.js";
import { DEFAULT_CEL_COST_LIMIT } from "../expr/cel.js";

/** A condition (`when`, `if`): its value must be true or false, so a shape that gives anything else is refused. */
function compileAt(
  reporter: Reporter,
  path: Segment[],
  source: string,
  allowed: readonly string[],
  condition = false,
): CompiledExpression | undefined {
  try {
    const compiled = compileExpression(source);
    for (const variable of compiled.variables) {
      if (!allowed.includes(variable)) {
        reporter.at(
          path,
          `unknown variable "${variable}" in ${JSON.stringify(source)} (available: ${allowed.join(", ")})`,
        );
        return undefined;
      }
    }
    if (condition) {
      const type = inferResultType(source);
      if (type !== "bool" && type !== "dyn") {
        reporter.at(
          path,
          `expected a condition that is true or false, but ${JSON.stringify(source)} gives ${TYPE_WORDS[type]}`,
        );
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

const TYPE_WORDS: Record<ResultType, string> = {
  bool: "a boolean",
  int: "an integer",
  uint: "an unsigned integer",
  double: "a number",
  string: "a string",
  bytes: "bytes",
  null: "null",
  list: "a list",
  map: "a map",
  dyn: "a value known only when it runs",
};

/**
 * The trigger's `when` evaluates inside src/trigger, which knows nothing of the HookSet: the
 * HookSet's cost limit is bound into the expression here, so every caller of evaluate() (runner,
 * simulate, explain) applies limits.celCost. A limit the caller passes still wins.
 */
function withDefaultCostLimit(expr: CompiledExpression, costLimit: number): CompiledExpression {
  if (costLimit === DEFAULT_CEL_COST_LIMIT) return expr;
  return {
    source: expr.source,
    variables: expr.variables,
    stepReferences: expr.stepReferences,
    estimatedCost: expr.estimatedCost,
    evaluate: (vars, options?: EvaluationOptions) => expr.evaluate(vars, { costLimit, ...options }),
  };
}

/** spec.runner with its defaults, and the checks of its URL and store. */
function buildRunnerSettings(doc: HookSetDocument, namespace: string, reporter: Reporter): RunnerSettings {
  const runnerDoc = doc.spec.runner ?? {};
  // The generated Service is always <name>-runner: two HookSets in one namespace never share one.
  const serviceName = `${doc.metadata.name}-runner`;
  const runner: RunnerSettings = {
    url: (runnerDoc.url ?? `http://${serviceName}.${namespace}.svc:${RUNNER_PORT}`).replace(/\/+$/, ""),
    tokenSecret: runnerDoc.tokenSecret ?? { ...DEFAULT_TOKEN_SECRET },
    image: runnerDoc.image ?? DEFAULT_RUNNER_IMAGE,
    replicas: runnerDoc.replicas ?? 1,
    store: runnerDoc.store ?? "kubernetes",
    retention: {
      ttlMs: runnerDoc.retention?.ttl !== undefined ? parseDuration(runnerDoc.retention.ttl) : DEFAULT_RETENTION_TTL_MS,
      keepPerHook: runnerDoc.retention?.keepPerHook ?? DEFAULT_KEEP_PER_HOOK,
    },
  };
  const urlService = clusterService(runner.url);
  if (urlService?.namespace !== undefined && urlService.namespace !== namespace) {
    reporter.at(
      ["spec", "runner", "url"],
      `the URL names namespace "${urlService.namespace}", ` +
        `but the runner is generated in "${namespace}" (metadata.namespace)`,
    );
  } else if (urlService && urlService.name !== serviceName) {
    reporter.at(
      ["spec", "runner", "url"],
      `the URL names Service "${urlService.name}", but the runner's generated Service is "${serviceName}": ` +
        `leave url out (http://${serviceName}.${namespace}.svc:${RUNNER_PORT}) or name that Service`,
    );
  }
  if (runner.replicas > 1 && runner.store === "memory") {
    reporter.at(
      ["spec", "runner", "store"],
      "the memory store cannot be shared by several replicas: use store: kubernetes or replicas: 1",
    );
  }
  return runner;
}

export function buildHookSet(doc: HookSetDocument, source: string, reporter: Reporter): HookSet {
  const namespace = doc.metadata.namespace ?? DEFAULT_NAMESPACE;
  const runner = buildRunnerSettings(doc, namespace, reporter);
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
    const celCostLimit = doc.spec.limits?.celCost ?? DEFAULT_CEL_COST_LIMIT;
    const trigger = buildTrigger(hookDoc, at, reporter, celCostLimit);
    const deadlineMs = hookDoc.deadline !== undefined ? parseDuration(hookDoc.deadline) : DEFAULT_DEADLINE_MS;
    if (deadlineMs > MAX_DEADLINE_MS)
      reporter.at([...at, "deadline"], `expected at most 168h (7 days), got ${hookDoc.deadline}`);
    if (deadlineMs <= 0) reporter.at([...at, "deadline"], `expected a positive duration, got ${hookDoc.deadline}`);
    const steps = buildSteps(hookDoc.steps, at, triggerVariables(trigger), reporter);
    if (trigger) {
      hooks.push({
        name: hookDoc.name,
        ...(hookDoc.description !== undefined ? { description: hookDoc.description } : {}),
        trigger,
        steps,
        timeoutMs:
          hookDoc.timeout !== undefined
            ? parseDuration(hookDoc.timeout)
            : steps.reduce((sum, step) => sum + stepBudgetMs(step), 0) + beforeStepsBudgetMs(trigger),
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
    ...(doc.spec.serviceAccountName !== undefined ? { serviceAccountName: doc.spec.serviceAccountName } : {}),
    hooks,
    celCostLimit: doc.spec.limits?.celCost ?? DEFAULT_CEL_COST_LIMIT,
    source,
  };
}

/**
 * The Service a cluster-internal URL names (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc[.cluster.local]`);
 * undefined for other hosts.
 */
function clusterService(url: string): { name: string; namespace?: string } | undefined {
  const labels = new URL(url).hostname.split(".");
  if (labels.length === 1) return labels[0] === "localhost" ? undefined : { name: labels[0]! };
  if (labels.length >= 3 && labels[2] === "svc") return { name: labels[0]!, namespace: labels[1]! };
  return undefined;
}

function buildTrigger(
  hookDoc: HookDocument,
  hookAt: Segment[],
  reporter: Reporter,
  celCostLimit: number,
): Trigger | undefined {
  const on = hookDoc.on as HookDocument["on"] & Record<string, unknown>;
  const at = [...hookAt, "on"];
  const kinds = Object.values(triggerKinds) as TriggerKind[];
  const keys = kindKeys();
  const given = kinds.filter((_, i) => on[keys[i]!] !== undefined);
  const report = (path: Segment[], message: string, key?: string) => reporter.at(path, message, key);
  // Each kind given checks its own fields, also when the hook gives two.
  for (const kind of given) kind.check?.(hookDoc.on, { at, report });
  if (given.length > 1) {
    reporter.at(at, `give one of ${given.map((k) => Object.keys(k.schema)[0]).join(" or ")}, not both`);
    return undefined;
  }
  if (given.length === 0) {
    reporter.at(at, `missing the trigger: give ${keys.join(" or ")}`);
    return undefined;
  }
  const kind = given[0]!;
  // Fields another kind owns do not apply to this one.
  for (const other of kinds) {
    if (other === kind) continue;
    for (const field of Object.keys(other.schema).slice(1)) {
      if (on[field] !== undefined && !(field in kind.schema))
        reporter.at(at, `"${field}" applies to ${other.kind} triggers, not ${kind.kind}`, field);
    }
  }
  return kind.build(hookDoc.on, {
    at,
    report,
    when: () => {
      if (on.when === undefined) return undefined;
      const compiled = compileAt(reporter, [...at, "when"], on.when as string, kind.variables, true);
      return compiled && withDefaultCostLimit(compiled, celCostLimit);
    },
  });
}

const STEP_FIELDS = new Set(["name", "if", "timeout", "retries"]);

function buildSteps(
  stepDocs: StepDocument[],
  hookAt: Segment[],
  scopeVariables: readonly string[],
  reporter: Reporter,
): StepSpec[] {
  const steps: StepSpec[] = [];
  const names: string[] = [];
  stepDocs.forEach((stepDoc, index) => {
    const at: Segment[] = [...hookAt, "steps", index];
    if (names.includes(stepDoc.name))
      reporter.at([...at, "name"], `duplicate step name "${stepDoc.name}" in this hook`);
    const typeKeys = Object.keys(stepDoc).filter((k) => !STEP_FIELDS.has(k));
    if (typeKeys.length !== 1) {
      reporter.at(
        at,
        typeKeys.length === 0
          ? `missing the step type: give one of ${stepTypes.map((t) => t.type).join(", ")}`
          : `give one step type, not ${typeKeys.length} (${typeKeys.join(", ")})`,
      );
      names.push(stepDoc.name);
      return;
    }
    const type = typeKeys[0]!;
    const stepType = stepTypeByName(type);
    const config = stepDoc[type];
    const variables = [...scopeVariables, "steps"];
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
      condition = compileAt(reporter, [...at, "if"], stepDoc.if, variables, true);
      if (condition) checkReferences([...at, "if"], condition);
    }
    for (const { path, source } of templateStrings(config)) {
      const where = [...at, type, ...path];
      try {
        for (const part of parseTemplate(source).parts) {
          if (!("expr" in part)) continue;
          const unknown = [...part.expr.variables].find((v) => !variables.includes(v));
          if (unknown)
            reporter.at(
              where,
              `unknown variable "${unknown}" in template ${JSON.stringify(source)} ` +
                `(available: ${variables.join(", ")})`,
            );
          else checkReferences(where, part.expr);
        }
      } catch (err) {
        if (err instanceof ExpressionError)
          reporter.at(where, `invalid template ${JSON.stringify(source)}: ${err.message}`);
        else throw err;
      }
    }
    const timeoutMs = stepDoc.timeout !== undefined ? parseDuration(stepDoc.timeout) : DEFAULT_STEP_TIMEOUT_MS;
    checkInlineHeaders(config, [...at, type], reporter);
    checkInnerTimeouts(config, [...at, type], timeoutMs, stepDoc.timeout !== undefined, reporter);
    if (stepType?.check) {
      for (const problem of stepType.check(config)) reporter.at([...at, type, ...problem.path], problem.message);
    }
    names.push(stepDoc.name);
    steps.push({
      name: stepDoc.name,
      type,
      config,
      ...(condition ? { if: condition } : {}),
      timeoutMs,
      retries: stepDoc.retries ?? DEFAULT_RETRIES,
    });
  });
  return steps;
}
