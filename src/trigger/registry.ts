// Every trigger kind, by name. Adding a kind: a folder beside resource/ and argocd/ exporting a
// TriggerKind, and one line here (plus its spec document type and schema, see README Layout).
import type { Trigger } from "../hookset/types.js";
import { argocdKind } from "./argocd/index.js";
import type { TriggerKind } from "./kind.js";
import { resourceKind } from "./resource/index.js";

type KindOf<K extends Trigger["kind"]> = TriggerKind<Extract<Trigger, { kind: K }>>;

export const triggerKinds: { [K in Trigger["kind"]]: KindOf<K> } = {
  resource: resourceKind,
  argocd: argocdKind,
};

export function triggerKind<T extends Trigger>(trigger: T): TriggerKind<T> {
  return triggerKinds[trigger.kind] as unknown as TriggerKind<T>;
}
