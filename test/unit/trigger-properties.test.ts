// Property-based checks of evaluate() over both trigger kinds: seeded and bounded, so every
// run checks the same few thousand cases (scripts/fuzz.ts runs ≥100,000 with a fresh seed).
import fc from "fast-check";
import { describe, it } from "vitest";
import { filterProperty, onceProperty, totalProperty, watchFilterProperty } from "../helpers/trigger-properties.js";

const SEED = 20261125;

describe("evaluate() properties", () => {
  it("is total: never throws, always a well-formed evaluation with a reason", () => {
    fc.assert(totalProperty, { seed: SEED, numRuns: 3000 });
  });
  it("fires once: a remembered change never fires again", () => {
    fc.assert(onceProperty, { seed: SEED + 1, numRuns: 2000 });
  });
  it("the Sensor's filter passes everything that fires or must be remembered", () => {
    fc.assert(filterProperty, { seed: SEED + 2, numRuns: 1000 });
  }, 60_000);
  it("a watch's one filter, a row per hook, passes everything any of its hooks needs", () => {
    fc.assert(watchFilterProperty, { seed: SEED + 3, numRuns: 1000 });
  }, 60_000);
});
