// `resource-hooks serve`: the runner. Its modules (express, prom-client, @kubernetes/client-node,
// …) load only here, so validate, generate and simulate start without them.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { InvalidArgumentError, Option, type Command } from "commander";
import { parseDuration } from "../hookset/duration.js";
import type { HookSet } from "../hookset/types.js";
import type { ShardStore } from "../runner/memory/store.js";
import type { RunStore } from "../runner/store/types.js";
import { readToken } from "./token.js";

interface ServeOptions {
  file: string;
  port: number;
  host: string;
  tokenFile?: string;
  insecureNoAuth?: boolean;
  secretsDir: string;
  store?: "memory" | "kubernetes";
  namespace?: string;
  kubeconfig?: string;
  maxConcurrentRuns: number;
  maxPendingRequests: number;
  maxBodyBytes?: number;
  shutdownGrace: string;
  endpoint: string[];
  githubUrl?: string;
  cloudflareUrl?: string;
  fastlyUrl?: string;
  cloudfrontUrl?: string;
  awsRegion?: string;
  kubeEvents: boolean;
  logLevel: string;
}

export const integer = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerServe(program: Command, load: (file: string) => HookSet): void {
  program
    .command("serve")
    .description(
      "run the runner: accept the events the generated Sensor sends, persist one HookRun per firing hook, execute them",
    )
    .requiredOption("-f, --file <path>", "hooks.yaml")
    .option("--port <port>", "port", integer("--port"), 8080)
    .option("--host <host>", "address to bind", "0.0.0.0")
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
    .option("--kubeconfig <path>", "kubeconfig (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
    .option("--max-concurrent-runs <n>", "runs this replica executes at once", integer("--max-concurrent-runs"), 32)
    .option(
      "--max-pending-requests <n>",
      "requests read or accepted at once before answering 429",
      integer("--max-pending-requests"),
      64,
    )
    .option("--max-body-bytes <n>", "request body limit (default 4 MiB)", integer("--max-body-bytes"))
    .option(
      "--shutdown-grace <duration>",
      "on SIGTERM, how long running runs may finish before they are released",
      "30s",
    )
    .option(
      "--endpoint <name=url>",
      "base URL of a step's service, e.g. github=https://ghe.example/api/v3 (repeatable)",
      collect,
      [],
    )
    .option("--github-url <url>", "same as --endpoint github=<url>", process.env.RESOURCE_HOOKS_GITHUB_URL)
    .option("--cloudflare-url <url>", "same as --endpoint cloudflare=<url>", process.env.RESOURCE_HOOKS_CLOUDFLARE_URL)
    .option("--fastly-url <url>", "same as --endpoint fastly=<url>", process.env.RESOURCE_HOOKS_FASTLY_URL)
    .option("--cloudfront-url <url>", "same as --endpoint cloudfront=<url>", process.env.RESOURCE_HOOKS_CLOUDFRONT_URL)
    .option("--aws-region <region>", "AWS region for CloudFront", process.env.AWS_REGION)
    .option("--no-kube-events", "do not record Kubernetes Events")
    .option("--log-level <level>", "pino log level", process.env.LOG_LEVEL ?? "info")
    .action(async (opts: ServeOptions) => {
      await serve(opts, load);
    });
}

function endpointOverrides(opts: ServeOptions): Record<string, string> {
  const out: Record<string, string> = {};
  if (opts.githubUrl) out.github = opts.githubUrl;
  if (opts.cloudflareUrl) out.cloudflare = opts.cloudflareUrl;
  if (opts.fastlyUrl) out.fastly = opts.fastlyUrl;
  if (opts.cloudfrontUrl) out.cloudfront = opts.cloudfrontUrl;
  for (const pair of opts.endpoint) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InvalidArgumentError(`--endpoint ${pair}: expected <name>=<url>`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

async function serve(opts: ServeOptions, load: (file: string) => HookSet): Promise<void> {
  const [
    { KubeEventRecorder },
    { createRuntime, loadKubeConfig },
    { createRunner, listen, DEFAULT_MAX_BODY_BYTES },
    { KubernetesRunStore },
    { MemoryRunStore },
    { KubernetesShardStore },
    { LocalShardStore },
  ] = await Promise.all([
    import("../runner/kube-events.js"),
    import("../runner/runtime.js"),
    import("../runner/server.js"),
    import("../runner/store/kubernetes.js"),
    import("../runner/store/memory.js"),
    import("../runner/memory/kubernetes.js"),
    import("../runner/memory/store.js"),
  ]);
  const { pino } = await import("pino");
  const logger = pino({
    level: opts.logLevel,
    base: { app: "resource-hooks" },
    redact: ["token", "authorization", "*.authorization"],
  });
  // A failure inside one request or run must never end the process: log it and go on.
  process.on("unhandledRejection", (reason) =>
    logger.error(
      { err: reason instanceof Error ? reason.message : String(reason) },
      "unhandled rejection (a bug): logged, the runner goes on",
    ),
  );
  const hookSet = load(opts.file);
  const token = readToken(opts.tokenFile, process.env.RESOURCE_HOOKS_TOKEN);
  if (token.error) {
    logger.fatal(token.error);
    process.exit(2);
  }
  if (!token.value && !opts.insecureNoAuth) {
    logger.fatal("no token: give --token-file or RESOURCE_HOOKS_TOKEN, or --insecure-no-auth for local experiments");
    process.exit(2);
  }
  if (!token.value) logger.warn("INSECURE: --insecure-no-auth is set; anyone who reaches this port can run hooks");
  const kubeConfig = loadKubeConfig(opts.kubeconfig);
  const storeKind = opts.store ?? hookSet.runner.store;
  const namespace = opts.namespace ?? process.env.POD_NAMESPACE ?? hookSet.namespace;
  const instance = process.env.POD_NAME ?? hostname();
  // Unique per process; the part before "/" is the pod, so a container restarted in the same pod
  // knows its predecessor's claims are dead and resumes them at once (queue.ts).
  const holder = `${instance}/${randomBytes(4).toString("hex")}`;
  if (storeKind === "kubernetes" && !kubeConfig) {
    logger.fatal(
      "store kubernetes needs Kubernetes access (in-cluster, --kubeconfig or $KUBECONFIG); use --store memory to run without",
    );
    process.exit(2);
  }
  // The hooks' memory lives where the runs do: a restart must never find one without the other.
  const [store, memoryShards]: [RunStore, ShardStore] =
    storeKind === "kubernetes" && kubeConfig
      ? [
          new KubernetesRunStore(kubeConfig, namespace, hookSet.name, logger),
          new KubernetesShardStore(kubeConfig, namespace, logger),
        ]
      : [new MemoryRunStore(), new LocalShardStore()];
  const runtime = createRuntime({
    secretsDir: opts.secretsDir,
    ...(kubeConfig ? { kubeConfig } : {}),
    endpoints: { ...endpointOverrides(opts), ...(opts.awsRegion ? { awsRegion: opts.awsRegion } : {}) },
  });
  const runner = createRunner({
    hookSet,
    ...(token.value ? { token: token.value } : { insecureNoAuth: true }),
    runtime,
    store,
    memoryShards,
    namespace,
    holder,
    logger,
    ...(kubeConfig && opts.kubeEvents ? { kubeEvents: new KubeEventRecorder(kubeConfig, instance, logger) } : {}),
    maxConcurrentRuns: opts.maxConcurrentRuns,
    maxPendingRequests: opts.maxPendingRequests,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    retention: hookSet.runner.retention,
  });
  try {
    await runner.start();
  } catch (err) {
    logger.fatal(
      { err: (err as Error).message },
      "could not load the HookRuns or the hooks' memory (are the HookRun and HookMemory CRDs applied, " +
        "and may the runner list hookruns and hookmemories?)",
    );
    process.exit(2);
  }
  const running = await listen(runner, opts.port, opts.host);
  logger.info(
    {
      url: running.url,
      hooks: hookSet.hooks.length,
      store: storeKind,
      namespace,
      holder,
      kubernetes: Boolean(kubeConfig),
    },
    "runner listening",
  );
  const grace = parseDuration(opts.shutdownGrace);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { signal, running: runner.queue.inFlight, graceMs: grace },
      "shutting down: answering 503, letting running runs finish",
    );
    running.stop(grace).then(
      () => {
        logger.info("stopped");
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
