// `resource-hooks serve`: the runner. Its modules (express, prom-client, @kubernetes/client-node,
// …) load only here, so validate, generate and simulate start without them. serve() returns when
// the runner has stopped after SIGTERM or SIGINT; a configuration that keeps it from starting is
// logged (fatal) and ends the command with exit 2.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Option, type Command } from "commander";
import type { Logger } from "pino";
import { parseDuration } from "../hookset/duration.js";
import type { HookSet } from "../hookset/types.js";
import type { ShardStore } from "../runner/memory/store.js";
import type { RunStore } from "../runner/store/types.js";
import type { StepRuntime } from "../steps/types.js";
import { Failure } from "./exit.js";
import { loadHooks } from "./io.js";
import { loadKubeAccess, type KubeAccess } from "./kubeconfig.js";
import { fileOption } from "./options.js";
import {
  addRunnerOptions,
  endpointOverrides,
  makeLogger,
  namespacesOption,
  refuse,
  resyncTiming,
  type RunnerCliOptions,
} from "./runner-options.js";
import { readToken } from "./token.js";

interface ServeOptions extends RunnerCliOptions {
  file: string;
  tokenFile?: string;
  insecureNoAuth?: boolean;
  secretsDir: string;
  store?: "memory" | "kubernetes";
  namespace?: string;
  kubeconfig?: string;
  logLevel: string;
  hooksetsFromCluster?: boolean;
  namespaces: string[];
}

const env = process.env;

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description(
      "run the runner: accept the events the generated Sensor sends, persist one HookRun per firing hook, " +
        "execute them",
    )
    .addOption(fileOption("hooks.yaml", false))
    .option("--token-file <path>", "file holding the bearer token (or `Bearer <token>`); else $RESOURCE_HOOKS_TOKEN")
    .option("--insecure-no-auth", "accept requests without a token (local experiments only)")
    .option("--secrets-dir <dir>", "where Secrets referenced by steps are mounted", "/etc/resource-hooks/secrets")
    .addOption(
      new Option("--store <store>", "where HookRuns live (default: spec.runner.store)").choices([
        "memory",
        "kubernetes",
      ]),
    )
    .option("--namespace <ns>", "namespace of the HookRuns (default $POD_NAMESPACE, else metadata.namespace)")
    .option("--kubeconfig <path>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)");
  addRunnerOptions(command)
    .option(
      "--hooksets-from-cluster",
      "serve every HookSet resource of the cluster instead of -f: each in its namespace, with its own token " +
        "and as its spec.serviceAccountName (docs/runner.md)",
    )
    .addOption(namespacesOption("with --hooksets-from-cluster: only the HookSets of these namespaces"))
    .option("--log-level <level>", "pino log level", env.LOG_LEVEL ?? "info")
    .action(serve);
}

function requireToken(opts: ServeOptions, logger: Logger): { token: string } | { insecureNoAuth: true } {
  const token = readToken(opts.tokenFile, env.RESOURCE_HOOKS_TOKEN);
  if (token.error) throw refuse(logger, token.error);
  if (token.value) return { token: token.value };
  if (!opts.insecureNoAuth)
    throw refuse(
      logger,
      "no token: give --token-file or RESOURCE_HOOKS_TOKEN, or --insecure-no-auth for local experiments",
    );
  logger.warn("INSECURE: --insecure-no-auth is set; anyone who reaches this port can run hooks");
  return { insecureNoAuth: true };
}

async function kubeAccess(opts: ServeOptions, logger: Logger): Promise<KubeAccess | undefined> {
  try {
    return await loadKubeAccess({ ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}) });
  } catch (e) {
    throw refuse(logger, (e as Error).message);
  }
}

/** The runs and the hooks' memory live in one place: a restart must never find one without the other. */
async function openStore(
  kind: "memory" | "kubernetes",
  access: KubeAccess | undefined,
  where: { namespace: string; hookSet: HookSet },
  logger: Logger,
): Promise<[RunStore, ShardStore]> {
  if (kind === "memory") {
    const [{ MemoryRunStore }, { LocalShardStore }] = await Promise.all([
      import("../runner/store/memory.js"),
      import("../runner/memory/store.js"),
    ]);
    return [new MemoryRunStore(), new LocalShardStore()];
  }
  if (!access)
    throw refuse(
      logger,
      "store kubernetes needs Kubernetes access (in-cluster, --kubeconfig or $KUBECONFIG); " +
        "use --store memory to run without",
    );
  const [{ KubernetesRunStore }, { KubernetesShardStore }] = await Promise.all([
    import("../runner/store/kubernetes.js"),
    import("../runner/memory/kubernetes.js"),
  ]);
  return [
    new KubernetesRunStore(access.config, where.namespace, where.hookSet.name, logger),
    new KubernetesShardStore(access.config, where.namespace, logger),
  ];
}

/** What steps get from this process: secrets, Kubernetes access, the endpoints (an unknown one refuses to start). */
async function stepRuntime(opts: ServeOptions, access: KubeAccess | undefined, logger: Logger): Promise<StepRuntime> {
  const { createRuntime } = await import("../runner/runtime.js");
  const endpoints = endpointOverrides(opts, logger);
  try {
    return createRuntime({ secretsDir: opts.secretsDir, ...(access ? { kubeConfig: access.config } : {}), endpoints });
  } catch (e) {
    throw refuse(logger, (e as Error).message);
  }
}

async function serve(opts: ServeOptions, command: Command): Promise<void> {
  const logger = await makeLogger(opts.logLevel, "resource-hooks");
  if (opts.hooksetsFromCluster) return await serveFromCluster(opts, command, logger);
  if (command.getOptionValueSource("namespaces") === "cli")
    throw refuse(logger, "--namespaces needs --hooksets-from-cluster");
  const hookSet = loadHooks(opts.file);
  const auth = requireToken(opts, logger);
  const access = await kubeAccess(opts, logger);
  const storeKind = opts.store ?? hookSet.runner.store;
  const namespace = opts.namespace ?? env.POD_NAMESPACE ?? hookSet.namespace;
  const [store, memoryShards] = await openStore(storeKind, access, { namespace, hookSet }, logger);
  const [{ KubeEventRecorder }, { createRunner, listen, DEFAULT_MAX_BODY_BYTES }] = await Promise.all([
    import("../runner/kube-events.js"),
    import("../runner/server.js"),
  ]);
  const instance = env.POD_NAME ?? hostname();
  // Unique per process; the part before "/" is the pod, so a container restarted in the same pod
  // knows its predecessor's claims are dead and resumes them at once (queue.ts).
  const holder = `${instance}/${randomBytes(4).toString("hex")}`;
  const runtime = await stepRuntime(opts, access, logger);
  const kubeEvents = access && opts.kubeEvents ? new KubeEventRecorder(access.config, instance, logger) : undefined;
  const runner = createRunner({
    hookSet,
    ...auth,
    runtime,
    store,
    memoryShards,
    namespace,
    holder,
    logger,
    ...(kubeEvents ? { kubeEvents } : {}),
    maxConcurrentRuns: opts.maxConcurrentRuns,
    maxPendingRequests: opts.maxPendingRequests,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    retention: hookSet.runner.retention,
    resync: resyncTiming(opts),
  });
  try {
    await runner.start();
  } catch (err) {
    throw refuse(
      logger,
      "could not load the HookRuns or the hooks' memory (are the HookRun and HookMemory CRDs applied, " +
        "and may the runner list hookruns and hookmemories?)",
      {
        err: (err as Error).message,
      },
    );
  }
  const running = await listen(runner, opts.port, opts.host);
  const fields = { url: running.url, hooks: hookSet.hooks.length, store: storeKind, namespace, holder };
  logger.info({ ...fields, kubernetes: Boolean(access) }, "runner listening");
  const stoppable = { stop: (graceMs: number) => running.stop(graceMs), inFlight: () => runner.queue.inFlight };
  await untilStopped(stoppable, parseDuration(opts.shutdownGrace), logger);
}

/** `serve --hooksets-from-cluster`: every HookSet resource, one runner (serve-cluster.ts). */
async function serveFromCluster(opts: ServeOptions, command: Command, logger: Logger): Promise<void> {
  // Options of one hooks.yaml have no meaning here: refused rather than silently ignored.
  for (const name of ["file", "tokenFile", "insecureNoAuth", "store"] as const)
    if (command.getOptionValueSource(name) === "cli")
      throw refuse(
        logger,
        `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} has no use with --hooksets-from-cluster`,
      );
  const access = await kubeAccess(opts, logger);
  if (!access)
    throw refuse(logger, "--hooksets-from-cluster needs Kubernetes access (in-cluster, --kubeconfig or $KUBECONFIG)");
  const namespace = opts.namespace ?? env.POD_NAMESPACE;
  if (!namespace)
    throw refuse(logger, "--hooksets-from-cluster needs the runner's namespace: --namespace or $POD_NAMESPACE");
  const { serveClusterFromCli } = await import("./serve-cluster.js");
  const started = await serveClusterFromCli(access, { ...opts, namespace }, logger);
  await untilStopped(started, parseDuration(opts.shutdownGrace), logger);
}

/** Runs until SIGTERM or SIGINT, then answers 503 while running runs finish within `graceMs`, and stops. */
function untilStopped(
  running: { stop(graceMs: number): Promise<void>; inFlight(): number },
  graceMs: number,
  logger: Logger,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(
        { signal, running: running.inFlight(), graceMs },
        "shutting down: answering 503, letting running runs finish",
      );
      running.stop(graceMs).then(
        () => {
          logger.info("stopped");
          logger.flush();
          resolve();
        },
        (err: unknown) => {
          logger.error({ err }, "shutdown failed");
          reject(new Failure(""));
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
