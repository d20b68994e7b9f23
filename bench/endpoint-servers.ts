// Child process of bench/run.ts: the runner with a one-log-step hook, and a bare express handler
// taking the same body, on 127.0.0.1. Prints their URLs as one JSON line.
import type { AddressInfo } from "node:net";
import express from "express";
import { pino } from "pino";
import { createRuntime } from "../src/runner/runtime.js";
import { LocalShardStore } from "../src/runner/memory/store.js";
import { createRunner, listen } from "../src/runner/server.js";
import { MemoryRunStore } from "../src/runner/store/memory.js";
import { benchHookSet } from "./endpoint-hookset.js";

const token = "bench-token-0123456789abcdef";
const hookSet = benchHookSet;
// Logs go where a container's would (a file descriptor), not to a terminal: /dev/null here.
const logger = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: false }));
/** A runner on the bench HookSet; maxConcurrentRuns 0 is the accept path alone (runs stay Pending). */
async function startBenchRunner(maxConcurrentRuns: number) {
  const created = createRunner({
    hookSet,
    token,
    runtime: createRuntime({ secretsDir: "/nonexistent" }),
    store: new MemoryRunStore(),
    memoryShards: new LocalShardStore(),
    namespace: "bench",
    holder: "bench",
    logger,
    maxConcurrentRuns,
    maxPendingRequests: 1000,
  });
  await created.start();
  return listen(created, 0, "127.0.0.1");
}
const runner = await startBenchRunner(32);
const acceptOnlyServer = await startBenchRunner(0);

const bare = express();
bare.post("/hooksets/bench/watches/:watch", express.json({ limit: "4mb" }), (req, res) => {
  res.status(202).json({
    eventId: req.headers["ce-id"],
    runs: [{ name: "x", phase: "Pending", fields: Object.keys(req.body as object).length }],
  });
});
const server = bare.listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
process.stdout.write(
  `${JSON.stringify({ runner: runner.url, acceptOnly: acceptOnlyServer.url, bare: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token })}\n`,
);
process.on("SIGTERM", () => process.exit(0));
