// npm run bench: figures, not assertions. Each measurement runs beside a baseline in the same
// process and prints the ratio, so the numbers mean something on any machine.
import autocannon from "autocannon";
import { stringify } from "yaml";
import { randomUUID } from "node:crypto";
import { generate, render } from "../src/generate/index.js";
import { parseHookSet } from "../src/hookset/load.js";
import { resourceEventRequest, watchPathOf } from "../src/testing/index.js";
import { benchHookSet } from "./endpoint-hookset.js";
import { decide } from "../src/trigger/index.js";
import { deployment, updateEvent, DEPLOYMENTS } from "../test/helpers/objects.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const UID_PLACEHOLDER = "00000000-uid-placeholder-0000000000";

function hookSetText(n: number): string {
  const selectors = [
    { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
    { version: "v1", resource: "configmaps", namespace: "web" },
    { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
  ];
  const hooks = Array.from({ length: n }, (_, i) => ({
    name: `hook-${i}`,
    on: {
      resource: "labels" in selectors[i % 3]! ? selectors[i % 3] : { ...selectors[i % 3], name: `obj-${i}` },
      changed: ["spec.replicas", 'data["app.properties"]'],
    },
    steps: [
      {
        name: "call",
        http: {
          url: "http://hooks.example/{{ object.metadata.name }}",
          body: { replicas: "{{ object.spec.replicas }}" },
        },
      },
      { name: "say", log: { message: "done {{ steps.call.output.status }}" } },
    ],
  }));
  return stringify(
    {
      apiVersion: "resource-hooks.io/v1alpha1",
      kind: "HookSet",
      metadata: { name: "bench" },
      spec: { runner: { url: "http://bench-runner.argo-events.svc:8080" }, hooks },
    },
    { aliasDuplicateObjects: false },
  );
}

function time<T>(fn: () => T, runs = 5): { ms: number; value: T } {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    value = fn();
    best = Math.min(best, performance.now() - start);
  }
  return { ms: best, value };
}

async function benchGeneration(): Promise<void> {
  const text = hookSetText(1000);
  const load = time(() => parseHookSet(text, "bench.yaml"));
  const gen = time(() => render(generate(load.value), "bench.yaml"));
  // Baseline: parsing the same YAML and writing the output's size of YAML, no validation or compilation.
  const baseline = time(() => stringify(JSON.parse(JSON.stringify(generate(load.value).map((f) => f.objects)))));
  const bytes = [...gen.value.values()].reduce((n, t) => n + t.length, 0);
  console.log(`generation, 1,000 hooks over 3 selectors (best of 5):`);
  console.log(`  load + validate hooks.yaml  ${load.ms.toFixed(0)} ms (${text.length} bytes)`);
  console.log(
    `  generate + serialize        ${gen.ms.toFixed(0)} ms (${gen.value.size} files, ${(bytes / 1024).toFixed(0)} KiB)`,
  );
  console.log(
    `  baseline: YAML-serialize the same objects ${baseline.ms.toFixed(0)} ms; generate/baseline ${(gen.ms / baseline.ms).toFixed(2)}`,
  );
}

function benchDecide(): void {
  const hookSet = parseHookSet(hookSetText(3), "bench.yaml");
  const hook = hookSet.hooks[2]!;
  const ev = updateEvent(deployment({ replicas: 2 }), deployment({ replicas: 3, generation: 4 }), DEPLOYMENTS);
  const n = 100_000;
  const run = time(() => {
    for (let i = 0; i < n; i++) decide(hook.trigger, ev);
  }, 3);
  const base = time(() => {
    for (let i = 0; i < n; i++) JSON.stringify(ev.data.body);
  }, 3);
  console.log(
    `trigger check: decide() ${((run.ms * 1000) / n).toFixed(2)} µs per event; JSON.stringify of the object ${((base.ms * 1000) / n).toFixed(2)} µs (ratio ${(run.ms / base.ms).toFixed(2)})`,
  );
}

async function cannon(
  url: string,
  body: string,
  headers: Record<string, string>,
  duration = seconds,
): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: "POST",
    connections,
    duration,
    headers,
    body,
    // A new CloudEvent id per request, as distinct changes would have.
    // A new CloudEvent id and a new object per request, as distinct changes would have: each one
    // is a new HookRun, not a redelivery of the first.
    requests: [
      {
        setupRequest: (req: autocannon.Request) => ({
          ...req,
          headers: { ...req.headers, "ce-id": randomUUID() },
          body: body.replace(UID_PLACEHOLDER, randomUUID()),
        }),
      },
    ],
  });
}

// The servers run in a child process, so the load generator does not share their event loop.
async function benchEndpoint(): Promise<void> {
  const { spawn } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL("./endpoint-servers.ts", import.meta.url).pathname],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const ports = await new Promise<{ runner: string; acceptOnly: string; bare: string; token: string }>(
    (resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const line = out.split("\n").find((l) => l.startsWith("{"));
        if (line) resolve(JSON.parse(line) as { runner: string; acceptOnly: string; bare: string; token: string });
      });
      child.on("exit", (code) => reject(new Error(`bench servers exited ${code}`)));
    },
  );
  const object = deployment({ replicas: 3, generation: 4 });
  const oldObject = deployment({ replicas: 2 });
  object.metadata!.uid = UID_PLACEHOLDER;
  oldObject.metadata!.uid = UID_PLACEHOLDER;
  const request = resourceEventRequest(
    { object, oldObject, group: "apps", version: "v1", resource: "deployments" },
    ports.token,
  );
  const path = watchPathOf(benchHookSet, "log");
  // CPU time of the server process (user + system, clock ticks of 10 ms) over one measurement.
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const servers = {
    bare: `${ports.bare}${path}`,
    accept: `${ports.acceptOnly}${path}`,
    runner: `${ports.runner}${path}`,
  } as const;
  type Name = keyof typeof servers;
  const trials = Number(process.env.BENCH_TRIALS ?? 3);
  const measure = async (name: Name, duration: number) => {
    const before = cpuMs();
    const result = await cannon(servers[name], request.body, request.headers, duration);
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      cpuUsPerRequest: ((cpuMs() - before) * 1000) / Math.max(1, result.requests.total),
      failed: result.non2xx + result.errors,
    };
  };
  console.log(
    `\nendpoint: one hook with one log step, memory store, ${connections} connections, body ${request.body.length} bytes; ${trials} interleaved trials of ${seconds}s per server after a 2s warm-up, medians:`,
  );
  for (const name of Object.keys(servers) as Name[]) await measure(name, 2);
  const results: Record<Name, Array<Awaited<ReturnType<typeof measure>>>> = { bare: [], accept: [], runner: [] };
  for (let trial = 0; trial < trials; trial++)
    for (const name of Object.keys(servers) as Name[]) results[name].push(await measure(name, seconds));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const row = (name: Name) => {
    const r = results[name];
    return {
      rps: median(r.map((x) => x.rps)),
      p99: median(r.map((x) => x.p99)),
      cpu: median(r.map((x) => x.cpuUsPerRequest)),
      failed: r.reduce((n, x) => n + x.failed, 0),
      all: r.map((x) => x.rps.toFixed(0)).join(", "),
    };
  };
  const base = row("bare");
  const line = (label: string, name: Name) => {
    const r = row(name);
    const ratio = name === "bare" ? "" : `; ratio ${(r.rps / base.rps).toFixed(2)}`;
    console.log(
      `  ${label.padEnd(34)} ${r.rps.toFixed(0).padStart(5)} req/s (trials ${r.all})  p99 ${r.p99} ms  server CPU ${r.cpu.toFixed(0)} µs/request  non-2xx/errors ${r.failed}${ratio}`,
    );
  };
  line("bare express (parses the same body)", "bare");
  line("accept path only (queue paused)", "accept");
  line("accept + execution (log step)", "runner");
  const peak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  console.log(`  peak RSS of the server process under this overload: ${peak.toFixed(0)} MiB`);
  child.kill("SIGTERM");
}

/**
 * Finding 5 of the hostile-input issue: 100 connections each send 3.94 MiB of a 4 MiB body and
 * stall. Prints the runner process's peak RSS (VmHWM), and how many were refused at once (429)
 * or dropped at the request timeout.
 */
async function benchStalledUploads(): Promise<void> {
  const { spawn } = await import("node:child_process");
  const { readFileSync } = await import("node:fs");
  const { request: httpRequest } = await import("node:http");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL("./endpoint-servers.ts", import.meta.url).pathname],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const ports = await new Promise<{ runner: string; token: string }>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as { runner: string; token: string });
    });
    child.on("exit", (code) => reject(new Error(`bench servers exited ${code}`)));
  });
  const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  const before = hwm();
  const url = new URL(ports.runner + watchPathOf(benchHookSet, "log"));
  const total = 4 * 1024 * 1024 - 1024;
  const sent = Math.floor(3.94 * 1024 * 1024);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const outcomes: string[] = [];
  await Promise.all(
    Array.from(
      { length: 100 },
      () =>
        new Promise<void>((resolve) => {
          const req = httpRequest(
            {
              host: url.hostname,
              port: url.port,
              path: url.pathname,
              method: "POST",
              headers: {
                "content-type": "application/json",
                "content-length": total,
                authorization: `Bearer ${ports.token}`,
                "ce-id": randomUUID(),
                "ce-source": "s",
                "ce-type": "resource",
                "ce-specversion": "1.0",
              },
            },
            (res) => {
              outcomes.push(String(res.statusCode));
              res.resume();
              res.on("end", resolve);
            },
          );
          req.on("error", () => {
            outcomes.push("dropped");
            resolve();
          });
          let written = 0;
          const pump = () => {
            while (written < sent) {
              written += chunk.length;
              if (!req.write(chunk)) return req.once("drain", pump);
            }
          };
          pump();
        }),
    ),
  );
  const counts = outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
  console.log(
    `\nstalled uploads: 100 connections × 3.94 MiB of a 4 MiB body, then silence: runner peak RSS ${before.toFixed(0)} → ${hwm().toFixed(0)} MiB; outcomes ${JSON.stringify(counts)}`,
  );
  child.kill("SIGTERM");
}

const only = process.argv[2];
if (only === "stalled") await benchStalledUploads();
if (!only || only === "generate") await benchGeneration();
if (!only || only === "decide") benchDecide();
if (!only || only === "endpoint") await benchEndpoint();
if (!only || only === "engine") await (await import("./engine.js")).benchEngine();
