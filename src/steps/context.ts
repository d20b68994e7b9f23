// The parts of a StepContext that belong to this layer, for the executor to put into each
// attempt's context: template rendering bounded by the attempt's deadline and cost limit, and
// secret reading that registers every value with the run's scrubber.
import type { EvaluationOptions } from "../expr/cel.js";
import { renderUrl, renderValue } from "../expr/template.js";
import type { SecretScrubber } from "../secrets/scrubber.js";
import { describeSecretSource, pickSecretSource } from "./common/secrets.js";
import { StepFailure, type SecretSource, type StepContext, type StepRuntime } from "./types.js";

/** ctx.render and ctx.renderUrl over `scope`; every call is bounded by `options` (costLimit, deadline). */
export function stepTemplating(
  scope: Readonly<Record<string, unknown>>,
  options: EvaluationOptions = {},
): Pick<StepContext, "render" | "renderUrl"> {
  return {
    render: <T>(value: T): T => renderValue(value, scope, options),
    renderUrl: (template: string): string => renderUrl(template, scope, options),
  };
}

/** ctx.secret: reads through the runtime, trims, refuses empty values, registers the value with `scrubber`. */
export function stepSecretReader(
  runtime: Pick<StepRuntime, "readSecret">,
  scrubber: SecretScrubber,
): (source: SecretSource) => Promise<string> {
  return async (source) => {
    let value: string;
    try {
      value = await runtime.readSecret(pickSecretSource(source));
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new StepFailure(`cannot read ${describeSecretSource(source)}: ${reason}`, { retryable: false });
    }
    value = typeof value === "string" ? value.trim() : "";
    if (!value) throw new StepFailure(`${describeSecretSource(source)} is empty`, { retryable: false });
    scrubber.add(value);
    return value;
  };
}
