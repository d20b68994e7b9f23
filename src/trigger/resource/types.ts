// The resource kind as hooks.yaml writes it (`on.resource`, `on.events`, `on.changed`) and as the
// program uses it after loading.
import type { CompiledExpression } from "../../expr/cel.js";
import type { FieldPath } from "../../hookset/paths.js";
import type { WatchSelector } from "../../hookset/types.js";

export type ResourceEventKind = "add" | "update" | "delete";

export interface ResourceSelectorDocument {
  group?: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  namePrefix?: string;
  labels?: Record<string, string>;
}

/** A hook's `on` with a resource trigger. */
export type ResourceDocument = {
  resource: ResourceSelectorDocument;
  events?: ResourceEventKind[];
  changed?: string[];
  when?: string;
};

export interface ResourceTrigger {
  kind: "resource";
  watch: WatchSelector;
  name?: string;
  namePrefix?: string;
  events: ResourceEventKind[];
  changed?: FieldPath[];
  when?: CompiledExpression;
}
