// Every step type, in the order the schema and the docs list them. Adding a type: one folder under
// src/steps/<type>/ and one line here.
import { cdnPurgeStep } from "./cdnPurge/index.js";
import { githubWorkflowStep } from "./githubWorkflow/index.js";
import { httpStep } from "./http/index.js";
import { kubernetesStep } from "./kubernetes/index.js";
import { logStep } from "./log/index.js";
import { slackStep } from "./slack/index.js";
import type { StepType } from "./types.js";
import { waitForStep } from "./waitFor/index.js";

export const stepTypes: readonly StepType[] = [
  httpStep,
  kubernetesStep,
  waitForStep,
  githubWorkflowStep,
  slackStep,
  cdnPurgeStep,
  logStep,
];

const byName = new Map(stepTypes.map((t) => [t.type, t]));

export function stepTypeByName(name: string): StepType | undefined {
  return byName.get(name);
}
