// The HookMemory custom resource: what each hook last handled per object, a few objects per watch
// (src/runner/memory). A pure function, like hookRunCrd, so the generator, the tests and the
// runner's e2e stack install exactly the same definition.
import { HOOKMEMORY_KIND, HOOKMEMORY_PLURAL } from "../model/constants.js";
import { AGE_COLUMN, customResourceDefinition, type CustomResourceDefinition } from "./crd.js";

export function hookMemoryCrd(labels: Record<string, string> = {}): CustomResourceDefinition {
  return customResourceDefinition(
    {
      kind: HOOKMEMORY_KIND,
      plural: HOOKMEMORY_PLURAL,
      singular: "hookmemory",
      printerColumns: [
        { name: "HookSet", type: "string", jsonPath: ".spec.hookSet.name" },
        { name: "Watch", type: "string", jsonPath: ".spec.watch" },
        { name: "Shard", type: "integer", jsonPath: ".spec.shard" },
        AGE_COLUMN,
      ],
      openAPIV3Schema: {
        type: "object",
        description:
          "What the hooks of one watch of a HookSet last handled, per object: " +
          "one shard of that watch's objects (by uid).",
        required: ["spec"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { type: "object" },
          spec: {
            type: "object",
            required: ["hookSet", "watch", "shard"],
            properties: {
              hookSet: {
                type: "object",
                description: "The HookSet whose hooks remember.",
                properties: { namespace: { type: "string" }, name: { type: "string" } },
              },
              watch: { type: "string", description: "The watch (EventSource event name) the objects come from." },
              shard: {
                type: "integer",
                description: "Which shard of the watch's objects, by a hash of their uid.",
              },
            },
          },
          entries: {
            type: "object",
            description:
              'Per object uid, per hook: "<object resourceVersion> <accept time, base-36 ms> <fingerprint>".',
            // One field for server-side field ownership: managedFields would otherwise list
            // every uid and hook, as large again as the entries.
            "x-kubernetes-map-type": "atomic",
            additionalProperties: { type: "object", additionalProperties: { type: "string" } },
          },
        },
      },
    },
    labels,
  );
}
