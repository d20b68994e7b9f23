// Compatibility for callers of the per-kind functions (the runner before it calls evaluate()):
// delete once nothing imports it. The kind itself lives in ./resource/index.ts.
import type { ResourceTrigger } from "../spec/types.js";
import type { Decision, ResourceEvent } from "./event.js";
import { resourceKind } from "./resource/index.js";

export { eventScope } from "./resource/index.js";

/** @deprecated use evaluate() from ./index.js */
export function decideResource(trigger: ResourceTrigger, event: ResourceEvent): Decision {
  return resourceKind.evaluate(trigger, event, {}).decision;
}
