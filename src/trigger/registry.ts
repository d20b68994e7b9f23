// Every trigger kind, in the order hooks.yaml's schema and messages list them. A kind is a folder
// whose index.ts default-exports its TriggerKind (kind.ts) and exports the type of the trigger it
// builds, and one line here: nothing else in the program names a kind, and the Trigger type is
// the union of what the kinds here build.
import type { TriggerKind } from "./kind.js";

// One kind a line, each its folder's default export (a dynamic import keeps the entry one line).
// prettier-ignore
const kinds = [
  (await import("./resource/index.js")).default,
  (await import("./argocd/index.js")).default,
];

/** A registered kind's trigger. */
export type Trigger = NonNullable<ReturnType<(typeof kinds)[number]["build"]>>;

/** The kinds by name, in registry order. */
export const triggerKinds: Readonly<Record<string, TriggerKind>> = Object.fromEntries(kinds.map((k) => [k.kind, k]));

export function triggerKind<T extends Trigger>(trigger: T): TriggerKind<T> {
  const kind = triggerKinds[trigger.kind];
  if (!kind) throw new Error(`internal: no trigger kind ${JSON.stringify(trigger.kind)}`);
  return kind as unknown as TriggerKind<T>;
}
