// The memory store's contract: what is written is copied in, so a caller changing its objects
// afterwards never changes a stored run; a status write must carry the current resourceVersion.
import { describe, expect, it } from "vitest";
import type { HookRun } from "../../src/runner/hookrun.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import { ACCEPTED_AS_ANNOTATION, ConflictError, withStatusDefaults } from "../../src/runner/store/types.js";

function newRun(): HookRun {
  return {
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookRun",
    metadata: { name: "purge-1", namespace: "ns", labels: { "resource-hooks.io/hook": "purge" } },
    spec: {
      hookSet: "web",
      hook: "purge",
      eventId: "e",
      identity: "u@1",
      acceptedAt: "2026-11-25T10:00:00.000Z",
      subject: "Deployment web/frontend",
      concurrency: "queue",
      deadline: "2026-11-25T11:00:00.000Z",
      context: { encoding: "json", data: "{}" },
    },
    status: { phase: "Pending", attempts: 0, steps: [], conditions: [] },
  };
}

describe("MemoryRunStore", () => {
  it("keeps what was created, whatever the caller changes afterwards", async () => {
    const store = new MemoryRunStore();
    const run = newRun();
    const { run: stored, created } = await store.create(run);
    expect(created).toBe(true);
    run.metadata.labels["resource-hooks.io/hook"] = "changed";
    run.status.steps.push({ name: "x", phase: "Running", attempts: 1, durationMs: 0 });
    run.status.phase = "Failed";
    expect(store.get("purge-1")).toBe(stored);
    expect(stored.metadata.labels["resource-hooks.io/hook"]).toBe("purge");
    expect(stored.status).toEqual({ phase: "Pending", attempts: 0, steps: [], conditions: [] });
    expect((await store.create(newRun())).created).toBe(false);
  });

  it("copies a written status, step outputs included, and refuses a stale resourceVersion", async () => {
    const store = new MemoryRunStore();
    const { run } = await store.create(newRun());
    const output = { status: 200, headers: { etag: "a" } };
    const status = {
      ...run.status,
      phase: "Running" as const,
      claim: { holder: "pod/1", expiresAt: "2026-11-25T10:00:15.000Z" },
      steps: [{ name: "call", phase: "Succeeded" as const, attempts: 1, durationMs: 5, output }],
      conditions: [
        {
          type: "Ready",
          status: "False" as const,
          reason: "Running",
          message: "",
          lastTransitionTime: "2026-11-25T10:00:00.000Z",
        },
      ],
    };
    const updated = await store.updateStatus({ ...run, status });
    output.headers.etag = "changed";
    status.steps[0]!.phase = "Succeeded";
    status.steps.push({
      name: "later",
      phase: "Succeeded",
      attempts: 1,
      durationMs: 1,
      output: { status: 500, headers: { etag: "b" } },
    });
    status.claim.holder = "someone else";
    status.conditions[0]!.reason = "changed";
    expect(store.get(run.metadata.name)).toBe(updated);
    expect(updated.status.steps).toEqual([
      { name: "call", phase: "Succeeded", attempts: 1, durationMs: 5, output: { status: 200, headers: { etag: "a" } } },
    ]);
    expect(updated.status.claim).toEqual({ holder: "pod/1", expiresAt: "2026-11-25T10:00:15.000Z" });
    expect(updated.status.conditions[0]!.reason).toBe("Running");
    await expect(store.updateStatus({ ...run, status: { ...run.status, phase: "Failed" } })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });
});

describe("withStatusDefaults: a HookRun as the API server serves it before its first status write", () => {
  const served = (status: unknown, annotations?: Record<string, string>): HookRun => ({
    ...newRun(),
    metadata: { ...newRun().metadata, ...(annotations ? { annotations } : {}) },
    status: status as HookRun["status"],
  });

  it("is Pending, with or without the CRD's defaults", () => {
    expect(withStatusDefaults(served(undefined)).status).toEqual({
      phase: "Pending",
      attempts: 0,
      steps: [],
      conditions: [],
    });
    expect(withStatusDefaults(served({ phase: "Pending", attempts: 0, steps: [], conditions: [] })).status.phase).toBe(
      "Pending",
    );
  });

  it("is Skipped when it was accepted as a baseline, even if served defaulted to Pending", () => {
    const baseline = { [ACCEPTED_AS_ANNOTATION]: "Skipped" };
    expect(withStatusDefaults(served(undefined, baseline)).status.phase).toBe("Skipped");
    expect(
      withStatusDefaults(served({ phase: "Pending", attempts: 0, steps: [], conditions: [] }, baseline)).status.phase,
    ).toBe("Skipped");
    const written = { phase: "Skipped", reason: "NotFired", attempts: 0, steps: [], conditions: [] };
    expect(withStatusDefaults(served(written, baseline)).status).toEqual(written);
  });
});
