// Property-based fuzzing of the trigger endpoint over real HTTP (test/helpers/http-fuzz.ts):
// seeded and bounded here; scripts/fuzz.ts runs ≥100,000 cases with a fresh seed.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchPathOf } from "../../src/testing/index.js";
import { fuzzRequests, sendFuzzRequest } from "../helpers/http-fuzz.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";
const SEED = 20261125;
// A few thousand cases in npm test; `npm run fuzz` sets FUZZ_RUNS=100000 (and a fresh FUZZ_SEED).
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const RUN_SEED = Number(process.env.FUZZ_SEED ?? SEED);

describe("trigger endpoint fuzz", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRunner(
      hookSetFrom([
        {
          name: "named",
          on: { resource: { group: "apps", version: "v1", resource: "deployments", namePrefix: "front" } },
          steps: [{ name: "say", log: { message: "{{ object.metadata.labels }} {{ object.metadata.name }}" } }],
        },
        {
          name: "changed",
          on: {
            resource: { group: "apps", version: "v1", resource: "deployments" },
            changed: ["spec.template.spec.containers[0].image"],
            when: "'team' in object.metadata.labels",
          },
          steps: [{ name: "say", log: { message: "{{ object.spec }}" } }],
        },
      ]),
      { maxPendingRequests: 1000 },
    );
  });
  afterAll(async () => {
    await h.runner.stop(1000);
  });

  it(
    "answers every hostile request with a documented status and a reason, and keeps running",
    async () => {
      const url = h.runner.url + watchPathOf(h.hookSet, "named");
      const counts = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(fuzzRequests(TOKEN), async (request) => {
          const status = await sendFuzzRequest(url, request);
          counts.set(status, (counts.get(status) ?? 0) + 1);
        }),
        { seed: RUN_SEED, numRuns: RUNS },
      );
      console.log(`fuzz: status counts ${JSON.stringify(Object.fromEntries([...counts].sort()))}`);
      expect(counts.get(400)).toBeGreaterThan(0);
      expect((counts.get(200) ?? 0) + (counts.get(202) ?? 0)).toBeGreaterThan(0);
      expect((await fetch(`${h.runner.url}/healthz`)).status).toBe(200);
      // Runs of accepted events ended in a final phase, whatever their objects held.
      await new Promise((r) => setTimeout(r, 500));
      const stuck = [...h.store.list()].filter(
        (r) => r.status.phase === "Running" || (r.status.phase === "Pending" && !r.status.nextRetryAt),
      );
      expect(stuck).toEqual([]);
    },
    120_000 + RUNS * 20,
  );
});
