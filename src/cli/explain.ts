// `resource-hooks explain <hook> --object <namespace>/<name>`: why a hook fired or did not for one
// object, read from the cluster with the user's kubeconfig (src/explain does the work).
import type { Command } from "commander";
import { CliError, formatOption, loadHooks, out, printAs, UsageError, readObject } from "./io.js";

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
      "why a hook fired or not for one object: its selector against the live object, what it last handled, its recent HookRuns, and the decision with its reason (read from the cluster)",
    )
    .argument("<hook>", "hook name")
    .requiredOption("--object <namespace/name>", "the object (<name> alone for a cluster-scoped one)")
    .option("-f, --file <path>", "hooks.yaml (- reads stdin)", "hooks.yaml")
    .option("--old <file>", "decide for this old object … (with --new)")
    .option("--new <file>", "… and this new one, instead of the live object against the last handled state")
    .option("--runner-namespace <ns>", "namespace of the runner's HookRuns (default: the HookSet's namespace)")
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option("--context <name>", "kubeconfig context")
    .addOption(formatOption(["text", "json", "yaml"], "text"))
    .action(async (hookName: string, opts: ExplainFlags) => {
      if (Boolean(opts.old) !== Boolean(opts.new)) throw new UsageError("--old and --new go together");
      const hookSet = loadHooks(opts.file);
      const pair =
        opts.old && opts.new
          ? { oldObject: readObject(opts.old, "--old"), object: readObject(opts.new, "--new") }
          : undefined;
      // Loaded here, not at startup: client-node and the runner's modules are heavy, and every
      // other command would pay for them.
      const [{ KubeConfig }, { RestClient }, { explain, ExplainError, formatExplanation }] = await Promise.all([
        import("@kubernetes/client-node"),
        import("../k8s/rest.js"),
        import("../explain/index.js"),
      ]);
      const kubeConfig = new KubeConfig();
      if (opts.kubeconfig) kubeConfig.loadFromFile(opts.kubeconfig);
      else kubeConfig.loadFromDefault();
      if (opts.context) kubeConfig.setCurrentContext(opts.context);
      let result;
      try {
        result = await explain({
          hookSet,
          hook: hookName,
          object: opts.object,
          api: new RestClient(kubeConfig),
          ...(opts.runnerNamespace ? { runnerNamespace: opts.runnerNamespace } : {}),
          ...(pair ? { pair } : {}),
        });
      } catch (err) {
        if (err instanceof ExplainError) throw new UsageError(err.message);
        throw err;
      }
      if (opts.output === "text") out(formatExplanation(result));
      else printAs(opts.output, result);
    });
}
