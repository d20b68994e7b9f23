// The argocd kind as hooks.yaml writes it (`on.argocd`) and as the program uses it after loading.
import type { CompiledExpression } from "../../expr/cel.js";
import type { WatchSelector } from "../../hookset/types.js";

export type SyncPhase = "Succeeded" | "Failed" | "Error";

export interface ArgoCDResourceMatch {
  group?: string;
  kind: string;
  namespace?: string;
  name?: string;
  namePrefix?: string;
}

export interface ArgoCDTriggerDocument {
  application?: string;
  labels?: Record<string, string>;
  namespace?: string;
  resources: ArgoCDResourceMatch[];
  changedOnly?: boolean;
  phases?: SyncPhase[];
  healthy?: boolean;
}

/** A hook's `on` with an argocd trigger. */
export type ArgoCDDocument = { argocd: ArgoCDTriggerDocument; when?: string };

export interface ArgoCDTrigger {
  kind: "argocd";
  watch: WatchSelector;
  application?: string;
  resources: ArgoCDResourceMatch[];
  changedOnly: boolean;
  phases: SyncPhase[];
  healthy: boolean;
  when?: CompiledExpression;
}
