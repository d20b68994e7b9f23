// A HookSet resource (the JSON the API server stores) as the HookSet model, with exactly the
// checks `validate` makes on hooks.yaml: the resource is written back as the YAML document it
// stands for and loaded by parseHookSet, so there is one copy of the checks. A resource has no
// file, line or column: its problems are reported by field path ("spec.hooks[0].on: ...").
import { stringify } from "yaml";
import type { KubeObject } from "../k8s/types.js";
import { formatProblems, SpecError, type SpecProblem } from "./problems.js";
import { parseHookSet } from "./load.js";
import type { HookSet } from "./types.js";

/** One problem of a HookSet resource: its field path ("" for the whole object) and what was expected. */
export interface ResourceProblem {
  path: string;
  message: string;
}

export class HookSetResourceError extends Error {
  override name = "HookSetResourceError";
  constructor(readonly problems: ResourceProblem[]) {
    super(formatResourceProblems(problems));
  }
}

/** One problem a line, "path: message", at most MAX_PROBLEMS of them (problems.ts). */
export function formatResourceProblems(problems: readonly ResourceProblem[]): string {
  // Reuse the file format's cut-off and counting; the position columns are dropped below.
  const asSpec: SpecProblem[] = problems.map((p) => ({ file: "", line: 0, column: 0, ...p }));
  return formatProblems(asSpec)
    .split("\n")
    .map((line) => line.replace(/^:0:0: /, ""))
    .join("\n");
}

/**
 * spec.runner describes the runner `generate` renders for one HookSet. A HookSet resource is served
 * by the installation's shared runner (its URL and token are the controller's), so only the
 * retention of its runs is the HookSet's to choose.
 */
const RUNNER_FIELDS_OF_THE_INSTALLATION = ["url", "tokenSecret", "image", "replicas", "store"];

function installationOwned(spec: Record<string, unknown>): ResourceProblem[] {
  const runner = spec.runner;
  if (!runner || typeof runner !== "object") return [];
  return Object.keys(runner)
    .filter((field) => RUNNER_FIELDS_OF_THE_INSTALLATION.includes(field))
    .map((field) => ({
      path: `spec.runner.${field}`,
      message:
        "set by the installation for a HookSet resource (the shared runner the controller configures): " +
        "leave it out; it applies only to `resource-hooks generate`",
    }));
}

/** The HookSet model of a resource, or a HookSetResourceError listing every problem by field path. */
export function parseHookSetResource(object: KubeObject): HookSet {
  const metadata = object.metadata ?? {};
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  const document = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      ...(metadata.labels && Object.keys(metadata.labels).length > 0 ? { labels: metadata.labels } : {}),
    },
    spec,
  };
  const owned = installationOwned(spec);
  if (owned.length > 0) {
    // Said once, by the rule above, not again by the checks of a runner generate would render.
    const { runner, ...rest } = spec as { runner: Record<string, unknown> };
    const kept = Object.fromEntries(
      Object.entries(runner).filter(([field]) => !RUNNER_FIELDS_OF_THE_INSTALLATION.includes(field)),
    );
    document.spec = Object.keys(kept).length > 0 ? { ...rest, runner: kept } : rest;
  }
  let hookSet: HookSet | undefined;
  let problems: ResourceProblem[] = [];
  try {
    hookSet = parseHookSet(stringify(document, { lineWidth: 0, aliasDuplicateObjects: false }), "resource");
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    problems = err.problems.map((p) => ({ path: p.path, message: p.message }));
  }
  const all = [...owned, ...problems];
  if (all.length > 0 || !hookSet) throw new HookSetResourceError(all);
  return hookSet;
}
