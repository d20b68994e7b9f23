// The options of the runner that `serve` and `controller` share (the controller's replicas are
// also the runner of every HookSet), spelt, defaulted and read one way.
import { Option, type Command } from "commander";
import type { Logger } from "pino";
import { EXIT, Failure } from "./exit.js";
import { parseDuration } from "../hookset/duration.js";
import { collect, duration, integer } from "./options.js";

export interface RunnerCliOptions {
  port: number;
  host: string;
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
  resyncInterval: string;
  resyncDelay: string;
}

const env = process.env;

export function addRunnerOptions(command: Command): Command {
  return command
    .option("--port <port>", "port", integer("--port"), 8080)
    .option("--host <host>", "address to bind", "0.0.0.0")
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
      duration,
      "30s",
    )
    .option(
      "--endpoint <name=url>",
      "base URL of a step's service, e.g. github=https://ghe.example/api/v3 (repeatable)",
      collect,
      [],
    )
    .option("--github-url <url>", "same as --endpoint github=<url>", env.RESOURCE_HOOKS_GITHUB_URL)
    .option("--cloudflare-url <url>", "same as --endpoint cloudflare=<url>", env.RESOURCE_HOOKS_CLOUDFLARE_URL)
    .option("--fastly-url <url>", "same as --endpoint fastly=<url>", env.RESOURCE_HOOKS_FASTLY_URL)
    .option("--cloudfront-url <url>", "same as --endpoint cloudfront=<url>", env.RESOURCE_HOOKS_CLOUDFRONT_URL)
    .option("--aws-region <region>", "AWS region for CloudFront", env.AWS_REGION)
    .option("--no-kube-events", "do not record Kubernetes Events")
    .option(
      "--resync-interval <duration>",
      "how often each watch is listed to find a change no event carried; 0s: only after event source starts",
      duration,
      "10m",
    )
    .option(
      "--resync-delay <duration>",
      "how long a change a resync found waits for its own event before the runner handles it",
      duration,
      "10s",
    );
}

/** The resync's timing (runner/resync.ts) as the options give it. */
export function resyncTiming(opts: Pick<RunnerCliOptions, "resyncInterval" | "resyncDelay">): {
  intervalMs: number;
  deferMs: number;
} {
  return { intervalMs: parseDuration(opts.resyncInterval), deferMs: parseDuration(opts.resyncDelay) };
}

/** Log lines are written to stdout once this many bytes wait, ... */
const LOG_BATCH_BYTES = 4096;
/** ... and at the latest this long after they were logged. */
const LOG_FLUSH_MS = 200;

/**
 * The JSON logger of a process that runs hooks, secrets redacted; `app` names the command.
 *
 * Lines are written in batches, as klog and zap's buffered writer do: a busy runner logs a few
 * lines per run, and one write to the pipe per line cost it about 6% of its CPU in a burst, besides
 * waking the container runtime's reader for each line. A line waits at most LOG_FLUSH_MS; pino
 * writes a fatal line at once; what waits is written when the process exits, short of SIGKILL.
 */
export async function makeLogger(level: string, app: string): Promise<Logger> {
  const { pino } = await import("pino");
  const destination = pino.destination({
    dest: 1,
    sync: true,
    minLength: LOG_BATCH_BYTES,
    periodicFlush: LOG_FLUSH_MS,
  });
  process.on("exit", () => {
    try {
      destination.flushSync();
    } catch {
      // stdout is gone (a closed pipe): nothing more can be written
    }
  });
  const logger = pino(
    {
      level,
      base: { app },
      redact: ["token", "key", "authorization", "*.authorization"],
    },
    destination,
  );
  // A failure inside one request or run must never end the process: log it and go on.
  process.on("unhandledRejection", (reason) =>
    logger.error(
      { err: reason instanceof Error ? reason.message : String(reason) },
      "unhandled rejection (a bug): logged, the runner goes on",
    ),
  );
  return logger;
}

/**
 * `--namespaces a,b`: the namespaces whose HookSet resources to serve (repeatable, comma-separated;
 * default $RESOURCE_HOOKS_NAMESPACES, else all), read the same by `controller` and `serve`.
 */
export function namespacesOption(description: string): Option {
  const list = (value: string, previous: string[] = []) => [
    ...previous,
    ...value
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean),
  ];
  return new Option("--namespaces <ns,...>", description)
    .argParser(list)
    .default(list(process.env.RESOURCE_HOOKS_NAMESPACES ?? "", []), "all");
}

/** The refusal to start: logged where the runner's logs go, then exit 2. */
export function refuse(logger: Logger, message: string, fields: object = {}): Failure {
  logger.fatal(fields, message);
  return new Failure("", EXIT.USAGE);
}

/** --endpoint pairs and the per-service URL options, with awsRegion, as the runtime reads them. */
export function endpointOverrides(opts: RunnerCliOptions, logger: Logger): Record<string, string> {
  const out: Record<string, string> = {};
  if (opts.githubUrl) out.github = opts.githubUrl;
  if (opts.cloudflareUrl) out.cloudflare = opts.cloudflareUrl;
  if (opts.fastlyUrl) out.fastly = opts.fastlyUrl;
  if (opts.cloudfrontUrl) out.cloudfront = opts.cloudfrontUrl;
  for (const pair of opts.endpoint) {
    const at = pair.indexOf("=");
    if (at <= 0) throw refuse(logger, `--endpoint ${pair}: expected <name>=<url>`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (opts.awsRegion) out.awsRegion = opts.awsRegion;
  return out;
}
