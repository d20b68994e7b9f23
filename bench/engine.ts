// The real-engine part of `npm run bench`: the 200-hook HookSet of the e2e suite on a real
// kube-apiserver, NATS JetStream and Argo Events (test/e2e/scenarios/many-hooks.ts), measured as
// the e2e test measures it. Builds (or finds cached) the e2e binaries first, as the e2e suite does.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { startStack } from "../test/e2e/stack.js";
import {
  deployManyHooks,
  measureAcceptRate,
  measureSustainedLatency,
  waitForBaselines,
} from "../test/e2e/scenarios/many-hooks.js";

export async function benchEngine(): Promise<void> {
  const t0 = performance.now();
  const build = spawnSync("bash", [fileURLToPath(new URL("../scripts/e2e/build.sh", import.meta.url))], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  if (build.status !== 0)
    throw new Error(
      `scripts/e2e/build.sh failed; the real-engine figures need its binaries:\n${build.stderr.slice(-3000)}`,
    );
  console.log(
    `\nreal engine (kube-apiserver, NATS JetStream, Argo Events; e2e binaries ready in ${((performance.now() - t0) / 1000).toFixed(0)} s):`,
  );
  const stack = await startStack();
  try {
    const env = await deployManyHooks(stack, 200);
    try {
      await waitForBaselines(env);
      const accept = await measureAcceptRate(env, 300);
      const refused = accept.statuses.filter((s) => s !== 202).length;
      console.log(
        `  accepted events per second with HookRuns on the real kube-apiserver (10 senders, 300 events): ${accept.eventsPerSecond.toFixed(0)}${refused ? ` (${refused} not accepted)` : ""}`,
      );
      const latency = await measureSustainedLatency(env, 20, 200);
      console.log(
        `  write -> step latency at a sustained 20 changes/s, 200 changes: p50 ${latency.p50.toFixed(0)} ms, p95 ${latency.p95.toFixed(0)} ms`,
      );
    } finally {
      await env.close();
    }
  } finally {
    await stack.stop();
  }
}
