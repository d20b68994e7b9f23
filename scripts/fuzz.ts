// The trigger properties of test/unit/trigger-properties.test.ts at scale: `npm run fuzz`
// (default 100,000 cases per property, a fresh seed each run; FUZZ_RUNS and FUZZ_SEED override).
// A failure prints the seed and the shrunk counterexample, so it can be replayed in the unit test.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import {
  filterProperty,
  onceProperty,
  totalProperty,
  watchFilterProperty,
} from "../test/helpers/trigger-properties.js";

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const properties: Array<[string, fc.IPropertyWithHooks<unknown[]>, number]> = [
  ["evaluate() is total", totalProperty as never, runs],
  ["a remembered change fires once", onceProperty as never, runs],
  // The filter runs Lua in fengari: a tenth of the cases keeps it within minutes.
  ["the Sensor's filter passes what fires", filterProperty as never, Math.ceil(runs / 10)],
  ["a watch's filter passes what any of its hooks needs", watchFilterProperty as never, Math.ceil(runs / 10)],
];
let failed = false;
for (const [name, property, numRuns] of properties) {
  const started = Date.now();
  const details = fc.check(property, { seed, numRuns });
  const took = ((Date.now() - started) / 1000).toFixed(1);
  if (details.failed) {
    failed = true;
    process.stdout.write(`FAIL ${name}: ${fc.defaultReportMessage(details) ?? ""}\n`);
  } else {
    process.stdout.write(`ok   ${name}: ${details.numRuns} cases in ${took}s (seed ${seed})\n`);
  }
}
// The HTTP endpoint and the expressions/templates run as their vitest suites, scaled up.
for (const file of ["test/unit/runner-fuzz.test.ts", "test/unit/expr-fuzz.test.ts"]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", file], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed) },
    encoding: "utf8",
  });
  const counts = /fuzz: status counts (\{.*\})/.exec(r.stdout ?? "")?.[1];
  process.stdout.write(
    `${r.status === 0 ? "ok  " : "FAIL"} ${file}: ${runs} cases in ${((Date.now() - started) / 1000).toFixed(1)}s (seed ${seed})${counts ? `, statuses ${counts}` : ""}\n`,
  );
  if (r.status !== 0) {
    failed = true;
    process.stdout.write(r.stdout ?? "");
  }
}
process.exit(failed ? 1 : 0);
