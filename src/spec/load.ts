// Loads hooks.yaml: YAML with source positions, the JSON Schema, then the checks a schema cannot
// express (build.ts). Every problem names file:line:column, the path and what was expected.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { LineCounter, parseDocument } from "yaml";
import { buildHookSet } from "./build.js";
import { Reporter, SpecError, sortProblems } from "./problems.js";
import { hookSetSchema } from "./schema.js";
import { reportSchemaErrors } from "./schema-errors.js";
import type { HookSet, HookSetDocument } from "./types.js";

export {
  DEFAULT_ARGOCD_NAMESPACE,
  DEFAULT_CEL_COST_LIMIT,
  DEFAULT_DEADLINE_MS,
  DEFAULT_HEALTH_WAIT_MS,
  DEFAULT_KEEP_PER_HOOK,
  DEFAULT_NAMESPACE,
  DEFAULT_RETENTION_TTL_MS,
  DEFAULT_RUNNER_IMAGE,
  MAX_DEADLINE_MS,
  TRIGGER_VARIABLES,
} from "./build.js";
export { formatInstancePath, formatProblem, SpecError, type SpecProblem } from "./problems.js";

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
