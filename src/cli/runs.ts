// `resource-hooks runs list|get|retry`: HookRuns through a runner's HTTP API (kubectl get hookruns
// shows the same records).
import { Option, type Command } from "commander";
import { out, printAs } from "./io.js";
import { formatOption } from "./options.js";
import { isDnsLabel, isDnsSubdomain } from "../model/kube-names.js";
import { hookSetPath } from "../model/names.js";
import { UsageError } from "./exit.js";
import { authHeaders, refused, RunnerClient, type Answer } from "./runner-client.js";

interface RunsOptions {
  url: string;
  tokenFile?: string;
  hookset?: string;
  output?: string;
}

/**
 * Where the runs API is: /runs on a runner of one hooks.yaml; with --hookset <namespace>/<name>,
 * that HookSet's on the installation's runner (its token, its runs only).
 */
export function runsApiPath(hookset: string | undefined): string {
  if (hookset === undefined) return "/runs";
  const [namespace, name, ...rest] = hookset.split("/");
  if (!namespace || !name || rest.length > 0 || !isDnsLabel(namespace) || !isDnsSubdomain(name))
    throw new UsageError(`--hookset ${hookset}: expected <namespace>/<name> of a HookSet, e.g. team-a/web`);
  return `${hookSetPath({ namespace, name })}/runs`;
}

/** The columns `kubectl get hookruns` shows (the CRD's printer columns), from what /runs answers. */
interface ListedRun {
  metadata?: { name?: string };
  spec?: { hook?: string; subject?: string; acceptedAt?: string };
  status?: { phase?: string };
}

/** An age as kubectl prints it: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, now: number = Date.now()): string {
  const at = since ? Date.parse(since) : NaN;
  if (Number.isNaN(at)) return "<unknown>";
  const s = Math.max(0, Math.floor((now - at) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function runsTable(runs: ListedRun[], now: number = Date.now()): string {
  const rows = [
    ["NAME", "HOOK", "OBJECT", "PHASE", "AGE"],
    ...runs.map((r) => [
      r.metadata?.name ?? "",
      r.spec?.hook ?? "",
      r.spec?.subject ?? "",
      r.status?.phase ?? "",
      age(r.spec?.acceptedAt, now),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, i) => cell.padEnd(i === row.length - 1 ? 0 : widths[i]! + 3)).join(""))
    .join("\n");
}

function print(format: string, answer: Answer): void {
  if (answer.status !== 200) throw refused(answer);
  if (typeof answer.body === "string") out(answer.body);
  else printAs(format, answer.body);
}

export function registerRuns(program: Command): void {
  const runs = program
    .command("runs")
    .description("list, show and retry HookRuns through a runner's HTTP API (kubectl get hookruns shows the same)");
  const common = (cmd: Command) =>
    cmd
      .requiredOption("--url <url>", "runner base URL")
      .option("--token-file <path>", "bearer token file (else $RESOURCE_HOOKS_TOKEN)")
      .option("--hookset <namespace/name>", "a HookSet resource's runs on the installation's runner (its token)");
  const client = (opts: RunsOptions) => new RunnerClient(opts.url, authHeaders(opts.tokenFile));

  common(runs.command("list").description("recent runs, newest first").option("--hook <name>", "only this hook"))
    .addOption(
      new Option("-o, --output <format>", "output format (default: table on a terminal, else json)").choices([
        "table",
        "json",
        "yaml",
      ]),
    )
    .action(async (opts: RunsOptions & { hook?: string }) => {
      const query = opts.hook ? `?hook=${encodeURIComponent(opts.hook)}` : "";
      const answer = await client(opts).get(`${runsApiPath(opts.hookset)}${query}`);
      const format = opts.output ?? (process.stdout.isTTY ? "table" : "json");
      if (format !== "table" || answer.status !== 200) return print(format, answer);
      out(runsTable((answer.body as { runs?: ListedRun[] }).runs ?? []));
    });
  common(runs.command("get <name>").description("one run"))
    .addOption(formatOption(["json", "yaml"], "json"))
    .action(async (name: string, opts: RunsOptions & { output: string }) =>
      print(opts.output, await client(opts).get(`${runsApiPath(opts.hookset)}/${encodeURIComponent(name)}`)),
    );
  common(runs.command("retry <name>").description("run a Failed run again from its first step that did not complete"))
    .addOption(formatOption(["json", "yaml"], "json"))
    .action(async (name: string, opts: RunsOptions & { output: string }) =>
      print(opts.output, await client(opts).post(`${runsApiPath(opts.hookset)}/${encodeURIComponent(name)}/retry`)),
    );
}
