// `send` (exactly what the generated Sensor sends, then optionally follow the runs) and `runs`
// (list, show, retry HookRuns through a runner's HTTP API).
import type { Command, Option } from "commander";
import { kindToResource, splitApiVersion } from "../k8s/kinds.js";
import type { HookSet } from "../hookset/types.js";
import type { KubeObject } from "../trigger/event.js";
import { CliError, formatOption, printAs, UsageError } from "./io.js";
import { readToken } from "./token.js";

const TERMINAL = new Set(["Succeeded", "Failed", "Skipped", "Superseded"]);

interface Helpers {
  readObject(file: string, what: string): KubeObject;
  eventType: Option;
  load(file: string): HookSet;
}

function authHeaders(tokenFile: string | undefined): Record<string, string> {
  const token = readToken(tokenFile, process.env.RESOURCE_HOOKS_TOKEN);
  if (token.error) throw new UsageError(token.error);
  return token.value ? { authorization: `Bearer ${token.value}` } : {};
}

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the runner at ${url}: ${cause?.message ?? cause?.code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/** A result: stdout, in the chosen format (a body that is not JSON as it came). */
function print(format: string, value: unknown): void {
  if (typeof value === "string") process.stdout.write(value.endsWith("\n") ? value : `${value}\n`);
  else printAs(format, value);
}

/** The runner refused: its answer goes to stderr with the status, and the command fails. */
function refused(status: number, body: unknown): void {
  process.stderr.write(`HTTP ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}\n`);
  process.exitCode = 1;
}

export function registerRunCommands(program: Command, helpers: Helpers): void {
  program
    .command("send")
    .description(
      "send a runner exactly what the generated Sensor sends for an old/new object pair; print the runs it accepted",
    )
    .requiredOption("--url <url>", "runner base URL")
    .requiredOption("-f, --file <path>", "hooks.yaml (to find the hook's watch)")
    .requiredOption("--hook <name>", "hook name (the event goes to its watch, as the Sensor sends it)")
    .requiredOption("--new <file>", "the object after the change (YAML or JSON)")
    .option("--old <file>", "the object before the change (for update)")
    .addOption(helpers.eventType)
    .option("--token-file <path>", "bearer token file (else $RESOURCE_HOOKS_TOKEN)")
    .option("--resource <plural>", "resource name (default: guessed from kind)")
    .option("--id <id>", "CloudEvent id (repeat one to test idempotency)")
    .option(
      "--wait",
      "follow the accepted runs to their end and print their final records; exit 1 unless all succeeded",
    )
    .option("--wait-timeout <seconds>", "give up waiting after this long", "600")
    .addOption(formatOption(["json", "yaml"], "json"))
    .action(
      async (opts: {
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
        waitTimeout: string;
      }) => {
        const { resourceEventRequest, sendEvent, watchPathOf } = await import("../testing/index.js");
        const hookSet = helpers.load(opts.file);
        const object = helpers.readObject(opts.new, "--new");
        const oldObject = opts.old ? helpers.readObject(opts.old, "--old") : null;
        const type = opts.type.toUpperCase() as "ADD" | "UPDATE" | "DELETE";
        if (type === "UPDATE" && !oldObject) throw new UsageError("--type update needs --old");
        const { group, version } = splitApiVersion(object.apiVersion ?? "");
        const headers = authHeaders(opts.tokenFile);
        const request = resourceEventRequest({
          type,
          object,
          oldObject,
          group,
          version,
          resource: opts.resource ?? kindToResource(group, object.kind ?? ""),
          ...(opts.id ? { id: opts.id } : {}),
        });
        Object.assign(request.headers, headers);
        const { status, body } = await sendEvent(opts.url, watchPathOf(hookSet, opts.hook), request);
        if (status >= 300) {
          refused(status, body);
          return;
        }
        const answer = body as { runs?: Array<{ name: string; hook: string; phase: string }> };
        const mine = (answer.runs ?? []).filter((r) => r.hook === opts.hook);
        if (!opts.wait) {
          print(opts.output, body);
          return;
        }
        const deadline = Date.now() + Number(opts.waitTimeout) * 1000;
        const finals: unknown[] = [];
        let allSucceeded = true;
        for (const run of mine) {
          for (;;) {
            const { status: s, body: record } = await getJson(
              `${opts.url.replace(/\/+$/, "")}/runs/${encodeURIComponent(run.name)}`,
              { headers },
            );
            const phase = (record as { status?: { phase?: string } }).status?.phase;
            if (s === 200 && phase && TERMINAL.has(phase)) {
              finals.push(record);
              if (phase !== "Succeeded") allSucceeded = false;
              break;
            }
            if (Date.now() > deadline)
              throw new Error(`run ${run.name} is still ${phase ?? "unknown"} after ${opts.waitTimeout}s`);
            await new Promise((r) => setTimeout(r, 250));
          }
        }
        print(opts.output, { ...answer, runs: finals });
        if (!allSucceeded) process.exitCode = 1;
      },
    );

  const runs = program
    .command("runs")
    .description("list, show and retry HookRuns through a runner's HTTP API (kubectl get hookruns shows the same)");
  const common = (cmd: Command) =>
    cmd
      .requiredOption("--url <url>", "runner base URL")
      .option("--token-file <path>", "bearer token file (else $RESOURCE_HOOKS_TOKEN)")
      .addOption(formatOption(["json", "yaml"], "json"));
  common(
    runs.command("list").description("recent runs, newest first").option("--hook <name>", "only this hook"),
  ).action(async (opts: { url: string; tokenFile?: string; hook?: string; output: string }) => {
    const query = opts.hook ? `?hook=${encodeURIComponent(opts.hook)}` : "";
    const { status, body } = await getJson(`${opts.url.replace(/\/+$/, "")}/runs${query}`, {
      headers: authHeaders(opts.tokenFile),
    });
    if (status === 200) print(opts.output, body);
    else refused(status, body);
  });
  common(runs.command("get <name>").description("one run")).action(
    async (name: string, opts: { url: string; tokenFile?: string; output: string }) => {
      const { status, body } = await getJson(`${opts.url.replace(/\/+$/, "")}/runs/${encodeURIComponent(name)}`, {
        headers: authHeaders(opts.tokenFile),
      });
      if (status === 200) print(opts.output, body);
      else refused(status, body);
    },
  );
  common(
    runs.command("retry <name>").description("run a Failed run again from its first step that did not complete"),
  ).action(async (name: string, opts: { url: string; tokenFile?: string; output: string }) => {
    const { status, body } = await getJson(`${opts.url.replace(/\/+$/, "")}/runs/${encodeURIComponent(name)}/retry`, {
      method: "POST",
      headers: authHeaders(opts.tokenFile),
    });
    if (status === 200) print(opts.output, body);
    else refused(status, body);
  });
}
