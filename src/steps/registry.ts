// Every step type, in the order the schema and the docs list them. Adding a type: one folder under
// src/steps/<type>/ exporting a StepType, and one line here. Each line loads its own module, so
// that line is the whole registration: no import to add beside it.
import type { StepType } from "./types.js";

export const stepTypes: readonly StepType[] = [
  (await import("./http/index.js")).httpStep,
  (await import("./kubernetes/index.js")).kubernetesStep,
  (await import("./waitFor/index.js")).waitForStep,
  (await import("./githubWorkflow/index.js")).githubWorkflowStep,
  (await import("./slack/index.js")).slackStep,
  (await import("./cdnPurge/index.js")).cdnPurgeStep,
  (await import("./log/index.js")).logStep,
];

const byName = new Map(stepTypes.map((t) => [t.type, t]));

export function stepTypeByName(name: string): StepType | undefined {
  return byName.get(name);
}
