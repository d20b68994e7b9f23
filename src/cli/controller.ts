// `resource-hooks controller`: what the installation (config/, charts/resource-hooks) runs in each
// replica. Every replica serves the runs of every HookSet (the shared runner, serve-cluster.ts);
// with leader election (the default) one replica at a time also reconciles HookSet resources into
// EventSources and Sensors that post to that runner (src/controller), the others waiting on the
// Lease. A replica that loses the Lease stops reconciling and waits to lead again, its runs going
// on. It returns after SIGTERM or SIGINT; a configuration that keeps it from starting ends the
// command with exit 2.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Command } from "commander";
import { parseDuration } from "../hookset/duration.js";
import { loadKubeAccess } from "./kubeconfig.js";
import { addRunnerOptions, makeLogger, namespacesOption, refuse, type RunnerCliOptions } from "./runner-options.js";

interface ControllerCliOptions extends RunnerCliOptions {
  serve: boolean;
  runnerUrl?: string;
  namespaces: string[];
  kubeconfig?: string;
  namespace?: string;
  leaderElection: boolean;
  logLevel: string;
}

const env = process.env;
/** The Lease the replicas of one installation elect their leader on. */
export const LEASE_NAME = "resource-hooks-controller";

export function registerController(program: Command): void {
  const command = program
    .command("controller")
    .description(
      "reconcile HookSet resources: an EventSource, a Sensor and a token Secret per HookSet, owned by it; " +
        "status in kubectl get hooksets",
    )
    .option(
      "--runner-url <url>",
      "the shared runner's Service URL the Sensors post to (required)",
      env.RESOURCE_HOOKS_RUNNER_URL,
    )
    .addOption(namespacesOption("only the HookSets of these namespaces"))
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
    .option(
      "--namespace <namespace>",
      "the installation's own namespace: its Lease and credential key (default: $POD_NAMESPACE)",
    )
    .option("--leader-election", "elect one leader on a Lease in --namespace; every replica may run", true)
    .option("--no-leader-election", "reconcile without electing a leader (one replica only)")
    .option("--log-level <level>", "pino log level", env.LOG_LEVEL ?? "info")
    .option("--no-serve", "only reconcile: run no runner in this process (another Deployment serves the runs)");
  addRunnerOptions(command).action(controller);
}

async function controller(opts: ControllerCliOptions): Promise<void> {
  const logger = await makeLogger(opts.logLevel, "resource-hooks-controller");
  if (!opts.runnerUrl) throw refuse(logger, "--runner-url is required: the shared runner's Service URL");
  if (!/^https?:\/\/[^/]+/.test(opts.runnerUrl))
    throw refuse(logger, `--runner-url ${opts.runnerUrl}: expected an http:// or https:// URL`);
  const runnerUrl = opts.runnerUrl;
  const namespace = opts.namespace ?? env.POD_NAMESPACE;
  if (!namespace) throw refuse(logger, "--namespace (or $POD_NAMESPACE) is required: the installation's namespace");
  const { namespaces } = opts;
  let access;
  try {
    access = await loadKubeAccess(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {});
  } catch (err) {
    throw refuse(logger, (err as Error).message);
  }
  if (!access) throw refuse(logger, "no Kubernetes credentials: give --kubeconfig, or run in a pod");
  const kubeConfig = access.config;
  const [{ RestClient }, { runController }, { LeaderElector, LEASE_DEFAULTS }, { loadOrCreateCredentialKey }] =
    await Promise.all([
      import("../k8s/rest.js"),
      import("../controller/index.js"),
      import("../controller/leader.js"),
      import("../tenancy/key.js"),
    ]);
  // Every replica serves runs, leader or not: a Sensor's request may reach any of them.
  const serving = opts.serve
    ? await (await import("./serve-cluster.js")).serveClusterFromCli(access, { ...opts, namespace, namespaces }, logger)
    : undefined;
  const rest = new RestClient(kubeConfig);
  const identity = `${env.POD_NAME ?? hostname()}_${randomBytes(4).toString("hex")}`;
  const stopping = new AbortController();
  const elector = opts.leaderElection
    ? new LeaderElector(rest, { namespace, name: LEASE_NAME, identity, ...LEASE_DEFAULTS })
    : undefined;
  let stopped: Promise<void> = Promise.resolve();
  const stop = (signal: string): void => {
    if (stopping.signal.aborted) return;
    logger.info({ signal, running: serving?.inFlight() ?? 0 }, "stopping: runs may finish within the grace");
    stopping.abort();
    elector?.stop();
    stopped = serving?.stop(parseDuration(opts.shutdownGrace)) ?? Promise.resolve();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  /** Reconciles until `signal` aborts; a failure is logged and retried, never ends the runs of this replica. */
  const reconcileUntil = async (signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      try {
        const key = await loadOrCreateCredentialKey(kubeConfig, namespace);
        await runController({ rest, runnerUrl, key, namespaces, log: logger, signal });
        return;
      } catch (err) {
        logger.error({ err: (err as Error).message }, "reconciling failed; starting again in 5s");
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      }
    }
  };
  if (!elector) await reconcileUntil(stopping.signal);
  else {
    while (!stopping.signal.aborted) {
      logger.info({ identity, lease: `${namespace}/${LEASE_NAME}` }, "waiting to lead");
      const leading = new AbortController();
      const abortLeading = () => leading.abort();
      stopping.signal.addEventListener("abort", abortLeading, { once: true });
      let reconciling: Promise<void> = Promise.resolve();
      const ended = await elector.run(
        () => {
          logger.info({ identity }, "leading: reconciling HookSets");
          reconciling = reconcileUntil(leading.signal);
        },
        (err) => logger.warn({ err: (err as Error).message }, "lease: could not read or write it"),
      );
      // Lost (renewing failed past its deadline): another replica may lead now, so this one stops
      // reconciling at once; its runs go on, and it stands for the Lease again.
      if (ended === "lost") logger.warn({ identity }, "lost the lease: reconciling stopped; waiting to lead again");
      leading.abort();
      stopping.signal.removeEventListener("abort", abortLeading);
      await reconciling;
    }
  }
  await stopped;
  logger.info("stopped");
  logger.flush();
}
