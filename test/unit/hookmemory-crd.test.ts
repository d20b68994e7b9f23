// The HookMemory CRD: generated into manifests/ beside the HookRun CRD, and the shards the runner
// writes are what its schema accepts.
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { generate } from "../../src/generate/index.js";
import { hookMemoryCrd } from "../../src/generate/hookmemory-crd.js";
import { loadHookSetFile } from "../../src/hookset/load.js";
import { HookSetMemory } from "../../src/runner/memory/memory.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { silent } from "../helpers/memory.js";

const example = loadHookSetFile("examples/hooks.yaml");
const files = generate(example);
const crd = files.find((f) => f.path === "manifests/hookmemory-crd.yaml")!.objects[0] as ReturnType<
  typeof hookMemoryCrd
>;
const version = (crd.spec.versions as Array<Record<string, unknown>>)[0]!;
const schema = (version.schema as { openAPIV3Schema: Record<string, unknown> }).openAPIV3Schema;

describe("HookMemory CRD", () => {
  it("is generated into manifests/, shared by every HookSet, and listed in the kustomization", () => {
    expect(crd).toEqual(hookMemoryCrd(crd.metadata.labels));
    expect(crd.metadata.name).toBe("hookmemories.resource-hooks.io");
    expect(crd.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "resource-hooks" });
    expect(crd.spec).toMatchObject({
      group: "resource-hooks.io",
      scope: "Namespaced",
      names: { kind: "HookMemory", plural: "hookmemories" },
    });
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true });
    const kustomization = files.find((f) => f.path === "manifests/kustomization.yaml")!.objects[0] as {
      resources: string[];
    };
    expect(kustomization.resources).toContain("hookmemory-crd.yaml");
  });

  it("keeps entries as one field for field ownership, so managedFields never lists every uid", () => {
    const entries = (schema.properties as Record<string, Record<string, unknown>>).entries!;
    expect(entries["x-kubernetes-map-type"]).toBe("atomic");
  });

  it("accepts the shards the runner writes", async () => {
    const shards = new LocalShardStore();
    const memory = new HookSetMemory({ hookSet: example, shards, namespace: "argo-events", logger: silent });
    for (const hook of example.hooks)
      memory.remember(hook.name, "6c1f2a38-0b7e-4f0e-9d5c-1a2b3c4d5e6f", {
        fingerprint: "p:0123456789abcdef",
        resourceVersion: "4242",
        acceptedAt: "2026-12-01T10:00:00.000Z",
      });
    await memory.flush();
    const written = await shards.list({ namespace: example.namespace, name: example.name });
    expect(written.length).toBeGreaterThan(0);
    // The API server's structural schema, minus its own extensions, as JSON Schema.
    const validate = new Ajv({ strict: false }).compile(schema);
    for (const shard of written) expect(validate(shard), JSON.stringify(validate.errors)).toBe(true);
  });
});
