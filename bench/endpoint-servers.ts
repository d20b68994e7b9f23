// Child process of bench/run.ts: the runner with a one-log-step hook, and a bare express handler
// taking the same body, on 127.0.0.1. Prints their URLs as one JSON line.
import type { AddressInfo } from "node:net";
import express from "express";
import { pino } from "pino";
import { stringify } from "yaml";
import { createRuntime } from "../src/runner/runtime.js";
import { createRunner, listen } from "../src/runner/server.js";
import { MemoryRunStore } from "../src/runner/store.js";
import { parseHookSet } from "../src/spec/load.js";

const token = "bench-token-0123456789abcdef";
const hookSet = parseHookSet(
  stringify({
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "bench" },
    spec: {
      runner: { url: "http://127.0.0.1:8080", store: "memory" },
      hooks: [{ name: "log", on: { resource: { group: "apps", version: "v1", resource: "deployments" }, changed: ["spec.replicas"] }, steps: [{ name: "say", log: { message: "{{ object.metadata.name }} scaled to {{ object.spec.replicas }}" } }] }],
    },
  }),
  "bench.yaml",
);
// Logs go where a container's would (a file descriptor), not to a terminal: /dev/null here.
const logger = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: false }));
const runner = await listen(createRunner({ hookSet, token, runtime: createRuntime({ secretsDir: "/nonexistent" }), store: new MemoryRunStore(), logger, maxConcurrentRuns: 1000 }), 0, "127.0.0.1");

const bare = express();
bare.post("/hooks/log", express.json({ limit: "4mb" }), (req, res) => {
  res.json({ status: "succeeded", fields: Object.keys(req.body as object).length });
});
const server = bare.listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
process.stdout.write(`${JSON.stringify({ runner: runner.url, bare: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token })}\n`);
process.on("SIGTERM", () => process.exit(0));
