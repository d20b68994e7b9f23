// Builds a loaded HookSet from just the hooks part of a hooks.yaml, for tests.
import { stringify } from "yaml";
import { parseHookSet } from "../../src/hookset/load.js";
import type { Hook, HookSet } from "../../src/hookset/types.js";

export function hookSetFrom(
  hooks: unknown[],
  extra: { runner?: Record<string, unknown>; metadata?: Record<string, unknown> } = {},
): HookSet {
  const doc = {
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "web", ...extra.metadata },
    spec: { ...(extra.runner ? { runner: extra.runner } : {}), hooks },
  };
  return parseHookSet(stringify(doc, { aliasDuplicateObjects: false }), "test.yaml");
}

/** One hook with the given `on` and a single log step. */
export function hookWith(
  on: Record<string, unknown>,
  steps: unknown[] = [{ name: "say", log: { message: "hi" } }],
): Hook {
  return hookSetFrom([{ name: "h", on, steps }]).hooks[0]!;
}
