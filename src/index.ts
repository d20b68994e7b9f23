// Library entry: load a hooks.yaml, generate manifests, decide triggers, run the runner in-process.
export { loadHookSetFile, parseHookSet, SpecError, formatProblem, type SpecProblem } from "./hookset/load.js";
export type { HookSet, Hook, Trigger, StepSpec } from "./hookset/types.js";
export { generate, render, serialize, type GeneratedFile } from "./generate/index.js";
export { decide, sensorFilterScript, type Decision, type ResourceEvent } from "./trigger/index.js";
export { simulate, type Simulation } from "./simulate.js";
export { createRunner, listen, type Runner, type RunnerOptions, type RunningRunner } from "./runner/server.js";
export { MemoryRunStore } from "./runner/store/memory.js";
export { KubernetesRunStore } from "./runner/store/kubernetes.js";
export type { RunStore } from "./runner/store/types.js";
export { LocalShardStore, type ShardStore } from "./runner/memory/store.js";
export { KubernetesShardStore } from "./runner/memory/kubernetes.js";
export type { HookRun, HookRunStatus, RunPhase } from "./runner/hookrun.js";
export { createRuntime } from "./runner/runtime.js";
