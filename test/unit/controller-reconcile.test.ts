// One reconcile against a fake of the controller's API calls (api.ts): what it applies, in which
// order, what status it writes, and that a second look at an unchanged HookSet writes nothing.
// The e2e test runs the same against kube-apiserver.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { ControllerApi } from "../../src/controller/api.js";
import type { WatchPermission } from "../../src/controller/desired.js";
import { FORBIDDEN_RECHECK_MS, reconcile } from "../../src/controller/reconcile.js";
import type { KubeObject } from "../../src/k8s/types.js";

function fakeApi(hookSet: KubeObject, options: { denied?: string[]; bus?: boolean } = {}) {
  const calls: string[] = [];
  const applied: KubeObject[] = [];
  const api = {
    async getHookSet() {
      return structuredClone(hookSet);
    },
    async patchHookSetStatus(_ns: string, _name: string, status: Record<string, unknown>) {
      calls.push("status");
      hookSet.status = { ...(hookSet.status as object), ...status };
    },
    async createUnlessExists(object: KubeObject) {
      calls.push(`create ${object.kind}`);
    },
    async apply(object: KubeObject) {
      calls.push(`apply ${object.kind}`);
      applied.push(object);
      return object;
    },
    async list() {
      return [];
    },
    async deleteObject() {
      calls.push("delete");
    },
    async eventBusExists() {
      return options.bus ?? true;
    },
    async serviceAccountMay(_sa: unknown, p: WatchPermission) {
      return !(options.denied ?? []).includes(`${p.verb} ${p.resource}`);
    },
  };
  return { api: api as unknown as ControllerApi, calls, applied };
}

const hookSet = (hookOn: Record<string, unknown>): KubeObject => ({
  apiVersion: "resource-hooks.io/v1alpha1",
  kind: "HookSet",
  metadata: { name: "web", namespace: "team-a", uid: "uid-1", generation: 4 },
  spec: { hooks: [{ name: "h", on: hookOn, steps: [{ name: "s", log: { message: "x" } }] }] },
});
const watchConfigMaps = { resource: { version: "v1", resource: "configmaps", namespace: "team-a" } };
const context = (api: ControllerApi) => ({
  api,
  runnerUrl: "http://runner.rh:8080",
  key: new Uint8Array(32).fill(3),
  log: pino({ level: "silent" }),
  now: () => new Date("2026-01-01T00:00:00Z"),
});
const conditions = (o: KubeObject) =>
  Object.fromEntries(
    ((o.status as { conditions: Array<{ type: string; status: string; reason: string }> }).conditions ?? []).map(
      (c) => [c.type, `${c.status} ${c.reason}`],
    ),
  );

describe("one reconcile", () => {
  it("creates the token Secret, applies the EventSource and Sensor, then says Accepted and Ready", async () => {
    const object = hookSet(watchConfigMaps);
    const fake = fakeApi(object);
    expect(await reconcile(context(fake.api), "team-a", "web")).toEqual({});
    expect(fake.calls).toEqual(["create Secret", "apply EventSource", "apply Sensor", "status"]);
    expect(object.status).toMatchObject({ observedGeneration: 4, hooks: 1, watches: 1 });
    expect(conditions(object)).toEqual({ Accepted: "True Valid", Ready: "True Applied" });
  });

  it("writes no status on a second look at the same HookSet (level-based, idempotent)", async () => {
    const object = hookSet(watchConfigMaps);
    const fake = fakeApi(object);
    await reconcile(context(fake.api), "team-a", "web");
    fake.calls.length = 0;
    await reconcile(context(fake.api), "team-a", "web");
    expect(fake.calls).toEqual(["create Secret", "apply EventSource", "apply Sensor"]);
  });

  it("applies nothing for a spec that is not accepted, and says where it is wrong", async () => {
    const object = hookSet({ ...watchConfigMaps, when: "nope" });
    const fake = fakeApi(object);
    await reconcile(context(fake.api), "team-a", "web");
    expect(fake.calls).toEqual(["status"]);
    expect(conditions(object)).toEqual({ Accepted: "False InvalidSpec", Ready: "False InvalidSpec" });
    const accepted = (object.status as { conditions: Array<{ message: string }> }).conditions[0]!;
    expect(accepted.message).toMatch(/^spec\.hooks\[0\]\.on\.when: unknown variable "nope"/);
  });

  it("applies nothing when the ServiceAccount may not watch, and looks again later", async () => {
    const object = hookSet(watchConfigMaps);
    const fake = fakeApi(object, { denied: ["watch configmaps"] });
    expect(await reconcile(context(fake.api), "team-a", "web")).toEqual({ requeueAfterMs: FORBIDDEN_RECHECK_MS });
    expect(fake.calls).toEqual(["status"]);
    expect(conditions(object)).toEqual({ Accepted: "True Valid", Ready: "False Forbidden" });
  });

  it("applies, but is not Ready, without an EventBus", async () => {
    const object = hookSet(watchConfigMaps);
    const fake = fakeApi(object, { bus: false });
    await reconcile(context(fake.api), "team-a", "web");
    expect(fake.calls).toEqual(["create Secret", "apply EventSource", "apply Sensor", "status"]);
    expect(conditions(object)).toEqual({ Accepted: "True Valid", Ready: "False EventBusMissing" });
  });

  it("does nothing for a HookSet that is gone or being deleted", async () => {
    const object = hookSet(watchConfigMaps);
    object.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
    const fake = fakeApi(object);
    await reconcile(context(fake.api), "team-a", "web");
    expect(fake.calls).toEqual([]);
  });
});
