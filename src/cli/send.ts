// `resource-hooks send`: exactly what the generated Sensor sends a runner for an old/new object
// pair; with --wait, every run the event fired followed to its end.
import type { Command } from "commander";
import { kindToResource, splitApiVersion } from "../k8s/kinds.js";
import { resourceEventRequest, watchPathOf } from "../testing/index.js";
import { CliError, UsageError } from "./exit.js";
import { loadHooks, printAs, readObject } from "./io.js";
import { eventTypeOption, fileOption, formatOption, seconds } from "./options.js";
import { authHeaders, refused, RunnerClient } from "./runner-client.js";

interface SendOptions {
  output: string;
  url: string;
  file: string;
  hook: string;
  new: string;
  old?: string;
  type: string;
  tokenFile?: string;
  resource?: string;
  id?: string;
  wait?: boolean;
  waitTimeout: number;
}

/** What the runner answers an accepted event (src/runner/accept.ts). */
interface AcceptAnswer {
  runs?: Array<{ name: string; hook: string; phase: string }>;
  [field: string]: unknown;
}

interface RunRecord {
  spec?: { hook?: string };
  status?: { phase?: string };
}

const TERMINAL = new Set(["Succeeded", "Failed", "Skipped", "Superseded"]);
const POLL_MS = 250;

export function registerSend(program: Command): void {
  program
    .command("send")
    .description(
      "send a runner exactly what the generated Sensor sends for an old/new object pair; " +
        "print the runs it accepted",
    )
    .requiredOption("--url <url>", "runner base URL")
    .addOption(fileOption("hooks.yaml (to find the hook's watch)", false))
    .requiredOption("--hook <name>", "hook name (the event goes to its watch, as the Sensor sends it)")
    .requiredOption("--new <file>", "the object after the change (YAML or JSON)")
    .option("--old <file>", "the object before the change (for update)")
    .addOption(eventTypeOption())
    .option("--token-file <path>", "bearer token file (else $RESOURCE_HOOKS_TOKEN)")
    .option("--resource <plural>", "resource name (default: guessed from kind)")
    .option("--id <id>", "CloudEvent id (repeat one to test idempotency)")
    .option(
      "--wait",
      "follow every run the event fired (also of other hooks of the watch) to its end and print the final " +
        "records; exit 1 unless all succeeded",
    )
    .option("--wait-timeout <seconds>", "give up waiting after this long", seconds, 600)
    .addOption(formatOption(["json", "yaml"], "json"))
    .action(send);
}

async function send(opts: SendOptions): Promise<void> {
  const hookSet = loadHooks(opts.file);
  const object = readObject(opts.new, "--new");
  const oldObject = opts.old ? readObject(opts.old, "--old") : null;
  const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
  if (type === "UPDATE" && !oldObject) throw new UsageError("--type update needs --old");
  const path = watchPathOf(hookSet, opts.hook);
  const client = new RunnerClient(opts.url, authHeaders(opts.tokenFile));
  const { group, version } = splitApiVersion(object.apiVersion ?? "");
  const request = resourceEventRequest({
    type,
    object,
    oldObject,
    group,
    version,
    resource: opts.resource ?? kindToResource(group, object.kind ?? ""),
    ...(opts.id ? { id: opts.id } : {}),
  });
  const answer = await client.post(path, request.body, request.headers);
  if (answer.status >= 300) throw refused(answer);
  const accepted = answer.body as AcceptAnswer;
  const runs = accepted.runs ?? [];
  const others = [...new Set(runs.filter((r) => r.hook !== opts.hook).map((r) => r.hook))];
  if (others.length > 0)
    process.stderr.write(
      `note: the event also fired ${others.length === 1 ? "hook" : "hooks"} ${others.join(", ")} ` +
        `(same watch as ${opts.hook})${opts.wait ? "; following their runs too" : ""}\n`,
    );
  if (!opts.wait) {
    printAs(opts.output, answer.body);
    return;
  }
  const finals = await follow(client, runs, Date.now() + opts.waitTimeout * 1000, opts.waitTimeout);
  printAs(opts.output, { ...accepted, runs: finals });
  // A run the runner recorded as Skipped when it accepted the event did not fire.
  const failed = runs.flatMap((run, i) => {
    const phase = finals[i]!.status?.phase;
    return run.phase !== "Skipped" && phase !== "Succeeded" ? [`${run.name} (hook ${run.hook}) ${phase}`] : [];
  });
  if (failed.length > 0)
    throw new CliError(`${failed.length} of ${runs.length} run(s) did not succeed: ${failed.join(", ")}`);
}

/** Each run's final record, in the order the runner accepted them. */
async function follow(
  client: RunnerClient,
  runs: NonNullable<AcceptAnswer["runs"]>,
  deadline: number,
  timeout: number,
): Promise<RunRecord[]> {
  const finals = new Map<string, RunRecord>();
  for (;;) {
    for (const run of runs) {
      if (finals.has(run.name)) continue;
      const answer = await client.get(RunnerClient.runPath(run.name));
      const record = answer.body as RunRecord;
      const phase = record?.status?.phase;
      if (answer.status === 200 && phase && TERMINAL.has(phase)) finals.set(run.name, record);
      else if (Date.now() > deadline)
        throw new CliError(`run ${run.name} is still ${phase ?? "unknown"} after ${timeout}s`);
    }
    if (finals.size === runs.length) return runs.map((r) => finals.get(r.name)!);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
