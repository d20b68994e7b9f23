// `resource-hooks explain <hook> --object <namespace>/<name>`: why a hook fired or did not for one
// object, read from the cluster with the user's kubeconfig (src/explain does the work). What it
// could not read (no kubeconfig, a cluster it cannot reach, a refusal) fails the command (exit 1)
// with what to do, after the part of the explanation it could make.
import type { Command } from "commander";
import type { ApiReader } from "../explain/index.js";
import { CliError, UsageError } from "./exit.js";
import { loadHooks, out, printAs, readObject } from "./io.js";
import { loadKubeAccess, type KubeAccess } from "./kubeconfig.js";
import { fileOption, formatOption } from "./options.js";

interface ExplainFlags {
  object: string;
  file: string;
  old?: string;
  new?: string;
  runnerNamespace?: string;
  kubeconfig?: string;
  context?: string;
  output: string;
}

export function registerExplain(program: Command): void {
  program
    .command("explain")
    .description(
      "why a hook fired or not for one object: its selector against the live object, what it last handled, " +
        "its recent HookRuns, and the decision with its reason (read from the cluster)",
    )
    .argument("<hook>", "hook name")
    .requiredOption("--object <namespace/name>", "the object (<name> alone for a cluster-scoped one)")
    .addOption(fileOption("hooks.yaml", true))
    .option("--old <file>", "decide for this old object … (with --new)")
    .option("--new <file>", "… and this new one, instead of the live object against the last handled state")
    .option("--runner-namespace <ns>", "namespace of the runner's HookRuns (default: the HookSet's namespace)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--context <name>", "kubeconfig context")
    .addOption(formatOption(["text", "json", "yaml"], "text"))
    .action(explainCommand);
}

/** What to do about an API call that failed, by how it failed (KubeApiError's status; 0: not reached). */
function advice(error: unknown, access: KubeAccess): string {
  const status = (error as { status?: unknown }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 0 || typeof status !== "number")
    return (
      `cannot reach the cluster at ${access.server} (from ${access.source}): ${message}; ` +
      "check that it is up and reachable, or choose another with --kubeconfig or --context"
    );
  if (status === 401)
    return `the cluster at ${access.server} refused the credentials of ${access.source}: log in again (${message})`;
  if (status === 403)
    return (
      `forbidden: ${message}; explain needs get on the hook's resource and list on hookruns ` +
      "in the runner's namespace (--runner-namespace)"
    );
  return message;
}

async function explainCommand(hookName: string, opts: ExplainFlags): Promise<void> {
  if (Boolean(opts.old) !== Boolean(opts.new)) throw new UsageError("--old and --new go together");
  const hookSet = loadHooks(opts.file);
  const pair =
    opts.old && opts.new
      ? { oldObject: readObject(opts.old, "--old"), object: readObject(opts.new, "--new") }
      : undefined;
  const access = await loadKubeAccess({
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context ? { context: opts.context } : {}),
  });
  if (!access)
    throw new CliError(
      "no kubeconfig found (no --kubeconfig, $KUBECONFIG is not set, no ~/.kube/config, not in a pod): " +
        "explain reads the cluster; give one with --kubeconfig <file> or KUBECONFIG=<file>",
    );
  // Loaded here, not at startup: the REST client and the runner's modules are heavy, and every
  // other command would pay for them.
  const [{ RestClient }, { explain, ExplainError, formatExplanation }] = await Promise.all([
    import("../k8s/rest.js"),
    import("../explain/index.js"),
  ]);
  const rest = new RestClient(access.config);
  // Every call that failed to get an answer, with its status: the explanation keeps only their
  // text. A 404 is an answer (no such object, no memory entry yet), not a failure to read.
  const failures: unknown[] = [];
  const api: ApiReader = {
    async request<T>(method: string, path: string, options?: Parameters<ApiReader["request"]>[2]): Promise<T> {
      try {
        return await rest.request<T>(method, path, options);
      } catch (e) {
        if ((e as { status?: unknown }).status !== 404) failures.push(e);
        throw e;
      }
    },
  };
  let result;
  try {
    result = await explain({
      hookSet,
      hook: hookName,
      object: opts.object,
      api,
      ...(opts.runnerNamespace ? { runnerNamespace: opts.runnerNamespace } : {}),
      ...(pair ? { pair } : {}),
    });
  } catch (err) {
    if (err instanceof ExplainError) throw new UsageError(err.message);
    throw err;
  }
  if (opts.output === "text") out(formatExplanation(result));
  else printAs(opts.output, result);
  if (failures.length > 0) throw new CliError(advice(failures[0], access));
}
