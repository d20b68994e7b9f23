// The hook set of the endpoint benchmark: one hook with one log step, shared by the server
// process (endpoint-servers.ts) and the load generator (run.ts), which posts to its watch.
import { stringify } from "yaml";
import { parseHookSet } from "../src/hookset/load.js";

export const benchHookSet = parseHookSet(
  stringify({
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "bench" },
    spec: {
      runner: { url: "http://127.0.0.1:8080", store: "memory" },
      hooks: [
        {
          name: "log",
          on: { resource: { group: "apps", version: "v1", resource: "deployments" }, changed: ["spec.replicas"] },
          steps: [{ name: "say", log: { message: "{{ object.metadata.name }} scaled to {{ object.spec.replicas }}" } }],
        },
      ],
    },
  }),
  "bench.yaml",
);
