// /metrics of a runner serving HookSet resources: the process's own registry (default metrics,
// requests refused before a HookSet was found) and every HookSet's registry, each of whose series
// carries hookset_namespace and hookset (tenant.ts), merged into one exposition: one HELP and TYPE
// per metric, one series per HookSet and label set.
import { AggregatorRegistry, type Registry } from "prom-client";

export class MergedMetrics {
  readonly contentType: Registry["contentType"];

  constructor(
    private readonly own: Registry,
    private readonly others: () => readonly Registry[],
  ) {
    this.contentType = own.contentType;
  }

  async metrics(): Promise<string> {
    const all = [this.own, ...this.others()];
    const json = await Promise.all(all.map((r) => r.getMetricsAsJSON()));
    // Series of different HookSets differ in their labels, so aggregating (summing equal series) keeps each apart.
    return await AggregatorRegistry.aggregate(json).metrics();
  }
}
