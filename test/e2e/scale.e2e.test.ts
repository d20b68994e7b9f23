// Cluster scale (issue "Cluster scale"): N ConfigMaps exist before a HookSet with three hooks on
// two selectors (one watch) starts. Prints what the start costs and how changes fare at each size, and checks
// exactly once: the change made during the start and every change of a burst take effect once
// per hook that watches the changed field, and nothing else fires. 1,000 and 5,000 objects run by
// default; E2E_SCALE_LARGE=1 adds 20,000 (about half an hour on 2 cores); E2E_SCALE_SIZES=1000,3000
// picks sizes.
import { describe, expect, it } from "vitest";

import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";
import { runScale, type ScaleEnv } from "./scenarios/scale.js";

const SIZES = process.env.E2E_SCALE_SIZES
  ? process.env.E2E_SCALE_SIZES.split(",").map(Number)
  : [1_000, 5_000, ...(process.env.E2E_SCALE_LARGE === "1" ? [20_000] : [])];
const BURST = 500;

for (const n of SIZES) {
  describe(`${n} existing objects, 3 hooks on 2 selectors (one watch)`, () => {
    const stack = useStack();

    it("settles, takes a change made during the start and a burst exactly once (figures)", async () => {
      let env: ScaleEnv | undefined;
      try {
        env = await runScale(stack(), n, BURST);
        const f = env.figures;
        figure(`scale ${n}: start settles (s)`, f.settleSeconds.toFixed(1));
        figure(`scale ${n}: the hooks' memory written (s)`, f.memoryWrittenSeconds.toFixed(1));
        figure(`scale ${n}: objects stored by resource-hooks`, f.storedObjects);
        figure(`scale ${n}: bytes stored by resource-hooks (KiB)`, f.storedBytes / 1024);
        figure(`scale ${n}: etcd growth (MiB)`, (f.etcdGrowthBytes / 2 ** 20).toFixed(1));
        figure(`scale ${n}: change during the start -> effect (ms)`, f.changeDuringStartMs);
        figure(`scale ${n}: burst of ${BURST} changes -> effects/s`, f.burstEffectsPerSecond);
        figure(`scale ${n}: burst's last effect after the last write (ms)`, f.burstLastEffectAfterWritesMs);
        figure(`scale ${n}: burst's last run accepted after the last write (ms)`, f.burstLastAcceptAfterWritesMs);
        figure(
          `scale ${n}: burst: runner request -> answer, mean ms (requests) persisting runs / not`,
          `${f.burstAccept.persistedMs.toFixed(1)} (${f.burstAccept.persisted}) / ` +
            `${f.burstAccept.noneMs.toFixed(1)} (${f.burstAccept.none})`,
        );
        figure(
          `scale ${n}: burst: Sensor trigger action, mean ms (actions)`,
          `${f.burstSensorActionMs.toFixed(1)} (${f.burstSensorActions})`,
        );
        figure(
          `scale ${n}: burst: API writes per effect, by resource`,
          Object.entries(f.burstWritesPerEffect)
            .map(([resource, perEffect]) => `${resource} ${perEffect.toFixed(2)}`)
            .join(", "),
        );
        figure(
          `scale ${n}: burst: CPU ms per effect, by process`,
          Object.entries(f.burstCpuMsPerEffect)
            .sort(([, a], [, b]) => b - a)
            .map(([name, ms]) => `${name} ${ms.toFixed(2)}`)
            .join(", "),
        );
        figure(`scale ${n}: runner memory limit`, env.runner.memoryLimit ?? "none (no writable memory cgroup)");
        const { burstPeakRss, ...memory } = f.runnerMemoryMiB;
        figure(`scale ${n}: runner RSS during the burst, most (MiB)`, burstPeakRss);
        for (const [when, m] of Object.entries(memory))
          figure(
            `scale ${n}: runner memory ${when} (MiB)`,
            `RSS ${m.rss.toFixed(0)}, V8 heap used ${m.heapUsed.toFixed(0)} of ${m.heapTotal.toFixed(0)}`,
          );
        figure(`scale ${n}: burst: the runner's open file descriptors, most`, f.burstRunnerMaxFds);

        await env.sink.waitQuiet(3_000, 120_000);
        const paths = env.sink.requests.map((r) => r.path);
        const count = (p: string) => paths.filter((x) => x === p).length;
        // The change during the start: once per hook on data.v, never for data.w.
        expect(count("/labelled-v/cm-0/during-start/0")).toBe(1);
        expect(count("/namespace-v/cm-0/during-start/0")).toBe(1);
        // The burst: each object once per hook on data.v.
        const burstPaths = paths.filter((p) => p.includes("/b"));
        expect(burstPaths).toHaveLength(2 * BURST);
        expect(new Set(burstPaths).size).toBe(2 * BURST);
        // Nothing else: no baseline, no data.w hook.
        expect(paths).toHaveLength(2 + 2 * BURST);
        // The Sensor's triggers keep their connections: not one per event (2 * BURST requests).
        expect(f.burstRunnerMaxFds).toBeLessThan(BURST / 2);
      } finally {
        await env?.close();
      }
    }, 3_600_000);
  });
}
