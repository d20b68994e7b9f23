// Trigger semantics for every trigger kind, behind two functions: decide() for the runner and
// simulate, sensorFilterScript() for the generator.
import type { Trigger } from "../spec/types.js";
import { decideArgoCD, argocdSensorScript } from "./argocd.js";
import type { Decision, ResourceEvent } from "./event.js";
import { decideResource, sensorScript } from "./resource.js";

export type { Decision, ResourceEvent } from "./event.js";

export function decide(trigger: Trigger, event: ResourceEvent): Decision {
  return trigger.kind === "resource" ? decideResource(trigger, event) : decideArgoCD(trigger, event).decision;
}

export function sensorFilterScript(trigger: Trigger): string {
  return trigger.kind === "resource" ? sensorScript(trigger) : argocdSensorScript(trigger);
}
