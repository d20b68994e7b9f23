// A HookSet of 200 hooks over 3 selectors on the real engine: one EventSource, one Sensor with
// three triggers, one runner; every hook fires for its own object and only for it. The
// deployment and the throughput measurements live in scenarios/many-hooks.ts (npm run bench
// prints the same figures).
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";
import {
  deployManyHooks,
  measureAcceptRate,
  measureSustainedLatency,
  waitForBaselines,
  type ManyHooks,
} from "./scenarios/many-hooks.js";

const HOOKS = 200;
const stack = useStack();
let env: ManyHooks;

beforeAll(async () => {
  env = await deployManyHooks(stack(), HOOKS);
});
afterAll(async () => {
  await env?.close();
});

describe("200 hooks over 3 selectors", () => {
  it("run as 1 EventSource + 1 Sensor with 3 watches (6 triggers), and every hook fires for its own object only", async () => {
    const { deployed, sink } = env;
    const sensorFiles = deployed.files.filter((f) => f.path.startsWith("sensors/"));
    const triggers = (deployed.sensor.spec as { triggers: unknown[] }).triggers;
    const watches = Object.keys((deployed.eventSource.spec as { resource: Record<string, unknown> }).resource);
    figure("scenario 8: Sensor size (KiB)", JSON.stringify(deployed.sensor).length / 1024);
    expect(sensorFiles).toHaveLength(1);
    // 3 watches, each with its changes stream
    expect(triggers).toHaveLength(6);
    expect(watches).toHaveLength(6);
    await waitForBaselines(env);
    const t0 = performance.now();
    for (let i = 0; i < HOOKS; i++) await env.write(i, "1");
    await sink.waitFor(HOOKS, 120_000);
    figure("scenario 8: 200 changes -> 200 effects (s)", (performance.now() - t0) / 1000);
    await sink.waitQuiet(3_000, 30_000);
    const paths = sink.requests.map((r) => r.path).sort();
    expect(paths).toEqual(Array.from({ length: HOOKS }, (_, i) => `/hook-${i}/obj-${i}/1`).sort());
  }, 300_000);
});

describe("throughput and latency with HookRuns on the real kube-apiserver", () => {
  it("accepts events as fast as it persists HookRuns (figures)", async () => {
    const { eventsPerSecond, statuses } = await measureAcceptRate(env, 300);
    figure("accept path on the real kube-apiserver: events/s (one HookRun each, 10 senders)", eventsPerSecond);
    expect(statuses.filter((x) => x === 202)).toHaveLength(300);
  }, 120_000);

  it("write -> step latency at a sustained 20 changes/s on the real engine (figures)", async () => {
    const { p50, p95, latencies } = await measureSustainedLatency(env, 20, 200);
    figure("sustained 20 changes/s: write -> step p50 (ms)", p50);
    figure("sustained 20 changes/s: write -> step p95 (ms)", p95);
    expect(latencies).toHaveLength(200);
  }, 180_000);
});
