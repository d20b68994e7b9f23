// `resource-hooks controller`: reconciles HookSet resources into EventSources and Sensors that post
// to the installation's shared runner (src/controller). Every replica runs it; with leader election
// (the default) one reconciles at a time and the others wait on the Lease. It returns after SIGTERM
// or SIGINT; a configuration that keeps it from starting ends the command with exit 2.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Command } from "commander";
import type { Logger } from "pino";
import { EXIT, Failure } from "./exit.js";
import { loadKubeAccess } from "./kubeconfig.js";

interface ControllerCliOptions {
  runnerUrl?: string;
  namespaces?: string;
  kubeconfig?: string;
  namespace?: string;
  leaderElection: boolean;
  logLevel: string;
}

const env = process.env;
/** The Lease the replicas of one installation elect their leader on. */
export const LEASE_NAME = "resource-hooks-controller";

export function registerController(program: Command): void {
  program
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
    .option(
      "--namespaces <list>",
      "comma-separated namespaces whose HookSets to serve (default: all)",
      env.RESOURCE_HOOKS_NAMESPACES,
    )
    .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
    .option(
      "--namespace <namespace>",
      "the installation's own namespace: its Lease and credential key (default: $POD_NAMESPACE)",
    )
    .option("--leader-election", "elect one leader on a Lease in --namespace; every replica may run", true)
    .option("--no-leader-election", "reconcile without electing a leader (one replica only)")
    .option("--log-level <level>", "pino log level", env.LOG_LEVEL ?? "info")
    .action(controller);
}

function refuse(logger: Logger, message: string): Failure {
  logger.fatal(message);
  return new Failure("", EXIT.USAGE);
}

async function controller(opts: ControllerCliOptions): Promise<void> {
  const { pino } = await import("pino");
  const logger = pino({ level: opts.logLevel, base: { app: "resource-hooks-controller" }, redact: ["key", "token"] });
  if (!opts.runnerUrl) throw refuse(logger, "--runner-url is required: the shared runner's Service URL");
  if (!/^https?:\/\/[^/]+/.test(opts.runnerUrl))
    throw refuse(logger, `--runner-url ${opts.runnerUrl}: expected an http:// or https:// URL`);
  const namespace = opts.namespace ?? env.POD_NAMESPACE;
  if (!namespace) throw refuse(logger, "--namespace (or $POD_NAMESPACE) is required: the installation's namespace");
  const namespaces = (opts.namespaces ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  let access;
  try {
    access = await loadKubeAccess(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {});
  } catch (err) {
    throw refuse(logger, (err as Error).message);
  }
  if (!access) throw refuse(logger, "no Kubernetes credentials: give --kubeconfig, or run in a pod");
  const [{ RestClient }, { runController }, { LeaderElector, LEASE_DEFAULTS }, { loadOrCreateCredentialKey }] =
    await Promise.all([
      import("../k8s/rest.js"),
      import("../controller/index.js"),
      import("../controller/leader.js"),
      import("../tenancy/key.js"),
    ]);
  const rest = new RestClient(access.config);
  const identity = `${env.POD_NAME ?? hostname()}_${randomBytes(4).toString("hex")}`;
  const stopping = new AbortController();
  const elector = opts.leaderElection
    ? new LeaderElector(rest, { namespace, name: LEASE_NAME, identity, ...LEASE_DEFAULTS })
    : undefined;
  const stop = (signal: string): void => {
    logger.info({ signal }, "stopping");
    stopping.abort();
    elector?.stop();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  const start = async (): Promise<void> => {
    const key = await loadOrCreateCredentialKey(access.config, namespace);
    await runController({ rest, runnerUrl: opts.runnerUrl!, key, namespaces, log: logger, signal: stopping.signal });
  };
  if (!elector) {
    await start();
    return;
  }
  logger.info({ identity, lease: `${namespace}/${LEASE_NAME}` }, "waiting to lead");
  let running: Promise<void> | undefined;
  const ended = await elector.run(
    () => {
      logger.info({ identity }, "leading: reconciling HookSets");
      running = start().catch((err: unknown) => {
        logger.fatal({ err: (err as Error).message }, "controller failed");
        process.exit(1);
      });
    },
    (err) => logger.warn({ err: (err as Error).message }, "lease: could not read or write it"),
  );
  if (ended === "lost") {
    // Another replica may lead now: stop at once, as controller-runtime does, and let the pod restart.
    logger.fatal("lost the lease: exiting");
    process.exit(1);
  }
  await running;
  logger.info("stopped");
}
