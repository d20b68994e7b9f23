#!/usr/bin/env node
// resource-hooks: validate, generate, schema, serve, send, simulate.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { diffOutput, generate, render, writeOutput } from "../generate/index.js";
import { planWatches } from "../generate/eventsource.js";
import { kindToResource, splitApiVersion } from "../k8s/names.js";
import type { RunStore } from "../runner/store.js";
import { parseDuration } from "../spec/duration.js";
import { loadHookSetFile, SpecError } from "../spec/load.js";
import { hookSetSchema } from "../spec/schema.js";
import type { HookSet } from "../spec/types.js";
import { simulate } from "../simulate.js";
import type { KubeObject } from "../trigger/event.js";
import { readToken } from "./token.js";

const program = new Command();
program.name("resource-hooks").description("Run steps after a specific Kubernetes resource, or field of it, changed — on Argo Events.").version("0.1.0");

function load(file: string): HookSet {
  try {
    return loadHookSetFile(file);
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

function readObject(file: string, what: string): KubeObject {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new InvalidArgumentError(`${what} ${file}: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new InvalidArgumentError(`${what} ${file}: expected one Kubernetes object`);
  return value as KubeObject;
}

const integer = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
  return n;
};
const eventType = new Option("--type <type>", "event type").choices(["add", "update", "delete"]).default("update");

program
  .command("validate")
  .description("check a hooks.yaml; errors name file:line:column, the path and what was expected")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .action((opts: { file: string }) => {
    const hookSet = load(opts.file);
    const watches = planWatches(hookSet).size;
    process.stdout.write(`${opts.file}: valid: ${hookSet.hooks.length} hook(s), ${watches} watch(es)\n`);
  });

program
  .command("generate")
  .description("write eventsources/, sensors/ and manifests/ for a hooks.yaml")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .requiredOption("-o, --out <dir>", "output directory")
  .option("--check", "write nothing; exit 1 naming the files that differ from what would be written")
  .action((opts: { file: string; out: string; check?: boolean }) => {
    const hookSet = load(opts.file);
    const rendered = render(generate(hookSet), opts.file);
    if (opts.check) {
      const diff = diffOutput(opts.out, rendered);
      const problems = [...diff.changed.map((p) => `${p}: differs from what would be generated`), ...diff.stale.map((p) => `${p}: generated file no longer produced`)];
      if (problems.length > 0) {
        process.stderr.write(`${problems.join("\n")}\nrun: resource-hooks generate -f ${opts.file} -o ${opts.out}\n`);
        process.exit(1);
      }
      process.stdout.write(`${opts.out}: up to date (${rendered.size} files)\n`);
      return;
    }
    const diff = writeOutput(opts.out, rendered);
    process.stdout.write(`${opts.out}: ${rendered.size} files, ${diff.changed.length} written, ${diff.stale.length} removed\n`);
  });

program
  .command("schema")
  .description("print the JSON Schema of hooks.yaml")
  .action(() => {
    process.stdout.write(`${JSON.stringify(hookSetSchema(), null, 2)}\n`);
  });

program
  .command("serve")
  .description("run the HTTP trigger target that the generated Sensors call")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .option("--port <port>", "port", integer("--port"), 8080)
  .option("--host <host>", "address to bind", "0.0.0.0")
  .option("--token-file <path>", "file holding the bearer token (or `Bearer <token>`); else $RESOURCE_HOOKS_TOKEN")
  .option("--insecure-no-auth", "accept requests without a token (local experiments only)")
  .option("--secrets-dir <dir>", "where Secrets referenced by steps are mounted", "/etc/resource-hooks/secrets")
  .addOption(new Option("--store <store>", "completed-step records (default: spec.runner.store)").choices(["memory", "kubernetes"]))
  .option("--namespace <ns>", "namespace for run records (default $POD_NAMESPACE, else metadata.namespace)")
  .option("--kubeconfig <path>", "kubeconfig (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
  .option("--max-concurrent-runs <n>", "runs at once before answering 429", integer("--max-concurrent-runs"), 32)
  .option("--max-body-bytes <n>", "request body limit (default 4 MiB)", integer("--max-body-bytes"))
  .option("--shutdown-grace <duration>", "on SIGTERM, how long in-flight runs may finish", "30s")
  .option("--github-url <url>", "GitHub API base URL", process.env.RESOURCE_HOOKS_GITHUB_URL)
  .option("--cloudflare-url <url>", "Cloudflare API base URL", process.env.RESOURCE_HOOKS_CLOUDFLARE_URL)
  .option("--fastly-url <url>", "Fastly API base URL", process.env.RESOURCE_HOOKS_FASTLY_URL)
  .option("--cloudfront-url <url>", "CloudFront endpoint", process.env.RESOURCE_HOOKS_CLOUDFRONT_URL)
  .option("--aws-region <region>", "AWS region for CloudFront", process.env.AWS_REGION)
  .option("--no-kube-events", "do not record Kubernetes Events on triggering objects")
  .option("--log-level <level>", "pino log level", process.env.LOG_LEVEL ?? "info")
  .action(async (opts: ServeOptions) => {
    await serve(opts);
  });

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
  maxBodyBytes?: number;
  shutdownGrace: string;
  githubUrl?: string;
  cloudflareUrl?: string;
  fastlyUrl?: string;
  cloudfrontUrl?: string;
  awsRegion?: string;
  kubeEvents: boolean;
  logLevel: string;
}

async function serve(opts: ServeOptions): Promise<void> {
  // The runner's modules (express, prom-client, @kubernetes/client-node, ...) load only for serve:
  // validate, generate, schema and simulate start without them.
  const [{ KubeEventRecorder }, { createRuntime, loadKubeConfig }, { createRunner, listen, DEFAULT_MAX_BODY_BYTES }, { KubernetesRunStore, MemoryRunStore }] =
    await Promise.all([import("../runner/kube-events.js"), import("../runner/runtime.js"), import("../runner/server.js"), import("../runner/store.js")]);
  const { pino } = await import("pino");
  const logger = pino({ level: opts.logLevel, base: { app: "resource-hooks" }, redact: ["token", "authorization", "*.authorization"] });
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
  const instance = process.env.POD_NAME ?? `resource-hooks-${process.pid}`;
  let store: RunStore;
  if (storeKind === "kubernetes") {
    if (!kubeConfig) {
      logger.fatal("store kubernetes needs Kubernetes access (in-cluster, --kubeconfig or $KUBECONFIG); use --store memory to run without");
      process.exit(2);
    }
    const leases = new KubernetesRunStore(kubeConfig, namespace, instance);
    setInterval(() => leases.collectGarbage().catch((err: unknown) => logger.warn({ err: (err as Error).message }, "run record cleanup failed")), 10 * 60_000).unref();
    store = leases;
  } else {
    store = new MemoryRunStore();
  }
  const runtime = createRuntime({
    secretsDir: opts.secretsDir,
    ...(kubeConfig ? { kubeConfig } : {}),
    endpoints: {
      ...(opts.githubUrl ? { github: opts.githubUrl } : {}),
      ...(opts.cloudflareUrl ? { cloudflare: opts.cloudflareUrl } : {}),
      ...(opts.fastlyUrl ? { fastly: opts.fastlyUrl } : {}),
      ...(opts.cloudfrontUrl ? { cloudfront: opts.cloudfrontUrl } : {}),
      ...(opts.awsRegion ? { awsRegion: opts.awsRegion } : {}),
    },
  });
  const runner = createRunner({
    hookSet,
    ...(token.value ? { token: token.value } : { insecureNoAuth: true }),
    runtime,
    store,
    logger,
    ...(kubeConfig && opts.kubeEvents ? { kubeEvents: new KubeEventRecorder(kubeConfig, instance, logger) } : {}),
    maxConcurrentRuns: opts.maxConcurrentRuns,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  });
  const running = await listen(runner, opts.port, opts.host);
  logger.info({ url: running.url, hooks: hookSet.hooks.map((h) => h.name), store: storeKind, kubernetes: Boolean(kubeConfig) }, "runner listening");
  const grace = parseDuration(opts.shutdownGrace);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: runner.inFlight, graceMs: grace }, "shutting down: no new runs, finishing in-flight runs");
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

program
  .command("send")
  .description("send a runner exactly what a generated Sensor sends for an old/new object pair, and print the run record")
  .requiredOption("--url <url>", "runner base URL")
  .requiredOption("--hook <name>", "hook name")
  .requiredOption("--new <file>", "the object after the change (YAML or JSON)")
  .option("--old <file>", "the object before the change (for update)")
  .addOption(eventType)
  .option("--token-file <path>", "bearer token file (else $RESOURCE_HOOKS_TOKEN)")
  .option("--resource <plural>", "resource name (default: guessed from kind)")
  .option("--id <id>", "CloudEvent id (repeat one to test idempotency)")
  .action(async (opts: { url: string; hook: string; new: string; old?: string; type: string; tokenFile?: string; resource?: string; id?: string }) => {
    const { resourceEventRequest, sendHookEvent } = await import("../testing/index.js");
    const object = readObject(opts.new, "--new");
    const oldObject = opts.old ? readObject(opts.old, "--old") : null;
    const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
    if (type === "UPDATE" && !oldObject) throw new InvalidArgumentError("--type update needs --old");
    const { group, version } = splitApiVersion(object.apiVersion ?? "");
    const token = readToken(opts.tokenFile, process.env.RESOURCE_HOOKS_TOKEN);
    if (token.error) throw new InvalidArgumentError(token.error);
    const request = resourceEventRequest(
      { type, object, oldObject, group, version, resource: opts.resource ?? kindToResource(group, object.kind ?? ""), ...(opts.id ? { id: opts.id } : {}) },
      token.value,
    );
    const { status, body } = await sendHookEvent(opts.url, opts.hook, request);
    process.stdout.write(`${typeof body === "string" ? body : JSON.stringify(body, null, 2)}\n`);
    process.stderr.write(`HTTP ${status}\n`);
    if (status !== 200) process.exitCode = 1;
  });

program
  .command("simulate")
  .description("print which hooks an old/new object pair would fire and why not the others, with steps rendered; runs nothing")
  .requiredOption("-f, --file <path>", "hooks.yaml")
  .requiredOption("--new <file>", "the object after the change")
  .option("--old <file>", "the object before the change (for update)")
  .addOption(eventType)
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
  .action((opts: { file: string; new: string; old?: string; type: string; output: string }) => {
    const hookSet = load(opts.file);
    const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
    const object = readObject(opts.new, "--new");
    const oldObject = opts.old ? readObject(opts.old, "--old") : null;
    if (type === "UPDATE" && !oldObject) throw new InvalidArgumentError("--type update needs --old");
    const results = simulate(hookSet, { type, object, oldObject });
    if (opts.output === "json") {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return;
    }
    for (const r of results) {
      process.stdout.write(`${r.fires ? "FIRES" : "skips"}  ${r.hook}: ${r.reason}\n`);
      if (!r.fires) continue;
      for (const step of r.steps) {
        const runs = step.runs === null ? "if undecided" : step.runs ? "runs" : "skipped (if is false)";
        process.stdout.write(`       - ${step.name} (${step.type}, ${runs})${step.note ? ` — ${step.note}` : ""}\n`);
        process.stdout.write(`${JSON.stringify(step.config, null, 2).replace(/^/gm, "           ")}\n`);
      }
    }
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`resource-hooks: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
