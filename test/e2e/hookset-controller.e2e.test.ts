// `resource-hooks controller` on a real kube-apiserver with kube-controller-manager (its garbage
// collector and ServiceAccount controller), run as its own ServiceAccount with exactly the rules
// of controllerRules(): HookSets applied with the real kubectl become an EventSource, a Sensor and
// a token Secret owned by the HookSet (READY True); an edit updates the Sensor and drops what the
// spec no longer has; an invalid spec is refused by kubectl or Accepted=False with the field path;
// a ServiceAccount that may not watch is Forbidden with nothing applied; a missing EventBus is
// said; deleting the HookSet deletes its objects through the real garbage collector; two
// controllers elect one leader on a Lease, and SIGKILL of the leader hands over within the lease.
// No Argo Events controller runs here: the objects carry no status, so Ready means they exist.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { hookSetCrd } from "../../src/generate/hookset-crd.js";
import { CREDENTIAL_KEY_SECRET, hookSetToken } from "../../src/tenancy/credential.js";
import { startClusterControllers, type ClusterControllers } from "./components/cluster-controllers.js";
import { ENTRYPOINT } from "./components/kubelet.js";
import { useStack } from "./harness.js";
import {
  condition,
  configMapHook,
  CONTROLLER_SA,
  controllerEnv,
  eventBus,
  hookSetYaml,
  INSTALL,
  installation,
  PATHS as path_,
  REPO_ROOT,
  rssMiB,
  RUNNER_URL,
  TENANT,
  watchConfigMaps,
  type HookSetObject,
} from "./hookset-controller-env.js";
import { figure } from "./hooks-env.js";
import { pollUntil, type KubeObject, type ManagedProcess } from "./stack.js";

const SCALE = "scale";
const SCALE_HOOKSETS = Number(process.env.E2E_CONTROLLER_HOOKSETS ?? 100);
const stack = useStack();
const dir = mkdtempSync(path.join(tmpdir(), "rh-hookset-controller-"));
const { kubectl, getOrUndefined, waitCondition, startController } = controllerEnv(stack, dir);
let cc: ClusterControllers;
const controllers: ManagedProcess[] = [];

beforeAll(async () => {
  cc = await startClusterControllers(stack());
  const crd = kubectl(["apply"], JSON.stringify(hookSetCrd()));
  expect(crd, crd.stderr).toMatchObject({ status: 0 });
  await stack().apply([
    ...[INSTALL, TENANT, "team-b", "team-c", SCALE].map((name) => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    })),
    ...installation(),
    // The tenants: an EventBus, and a ServiceAccount that may watch its own ConfigMaps only.
    ...[TENANT, "team-b", SCALE].map(eventBus),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "hooks", namespace: TENANT } },
    ...watchConfigMaps(TENANT, "hooks"),
    ...watchConfigMaps("team-c", "default"),
    ...watchConfigMaps(SCALE, "default"),
  ]);
  const kubeconfig = await stack().kubeconfigForServiceAccount(INSTALL, CONTROLLER_SA.name);
  controllers.push(startController("controller-a", kubeconfig));
  await controllers[0]!.waitForLog(/leading: reconciling HookSets/, 60_000);
  controllers.push(startController("controller-b", kubeconfig));
  await controllers[1]!.waitForLog(/waiting to lead/, 60_000);
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop(5_000)));
  await cc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("resource-hooks controller", () => {
  it("makes a HookSet applied with kubectl an EventSource, Sensor and token Secret it owns: READY True", async () => {
    const t = performance.now();
    const applied = kubectl(
      ["apply"],
      hookSetYaml("web", { serviceAccountName: "hooks", hooks: [configMapHook("one")] }),
    );
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    const hookSet = await waitCondition(TENANT, "web", "Ready", "True");
    figure("HookSet kubectl apply -> READY True (ms)", performance.now() - t);
    expect(condition(hookSet, "Accepted")).toMatchObject({ status: "True", reason: "Valid" });
    expect(hookSet.status).toMatchObject({ hooks: 1, watches: 1 });
    const uid = hookSet.metadata!.uid!;
    const ref = { apiVersion: "resource-hooks.io/v1alpha1", kind: "HookSet", name: "web", uid };
    const owned = [
      await stack().admin.get<KubeObject>(path_.eventSource(TENANT, "web")),
      await stack().admin.get<KubeObject>(path_.sensor(TENANT, "web")),
      await stack().admin.get<KubeObject>(path_.secret(TENANT, "web-hookset-token")),
    ];
    for (const o of owned)
      expect(o.metadata?.ownerReferences).toEqual([{ ...ref, controller: true, blockOwnerDeletion: true }]);
    expect((owned[0]!.spec as { template: unknown }).template).toEqual({ serviceAccountName: "hooks" });
    // The token is the HMAC of this HookSet under the installation's key, sent as a bearer token.
    const keySecret = await stack().admin.get<{ data: Record<string, string> }>(
      path_.secret(INSTALL, CREDENTIAL_KEY_SECRET.name),
    );
    const key = Buffer.from(keySecret.data[CREDENTIAL_KEY_SECRET.key]!, "base64");
    const token = Buffer.from((owned[2] as { data: Record<string, string> }).data.token!, "base64").toString();
    expect(token).toBe(`Bearer ${hookSetToken(key, { namespace: TENANT, name: "web", uid })}`);
    const table = kubectl(["get", "hooksets", "-n", TENANT]).stdout;
    console.log(`[e2e] kubectl get hooksets:\n${table}`);
    expect(table).toMatch(/^web\s+True\s+1\s+1\s+/m);
  });

  it("applies the EventSource and Sensor `resource-hooks generate` renders for the same HookSet", async () => {
    const file = path.join(dir, "hooks.yaml");
    const spec = {
      serviceAccountName: "hooks",
      runner: { url: RUNNER_URL, tokenSecret: { name: "web-hookset-token", key: "token" } },
      hooks: [configMapHook("one")],
    };
    writeFileSync(file, hookSetYaml("web", spec));
    const out = path.join(dir, "generated");
    const r = spawnSync(process.execPath, [ENTRYPOINT[1], "generate", "-f", file, "--output-dir", out], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    for (const [kind, rel, p] of [
      ["EventSource", "eventsources/web.yaml", path_.eventSource(TENANT, "web")],
      ["Sensor", "sensors/web.yaml", path_.sensor(TENANT, "web")],
    ] as const) {
      const generated = parse(readFileSync(path.join(out, rel), "utf8")) as KubeObject;
      const live = await stack().admin.get<KubeObject>(p);
      expect(live.spec, kind).toEqual(generated.spec);
      const { name, namespace, labels } = live.metadata!;
      expect({ name, namespace, labels }, kind).toEqual(generated.metadata);
    }
  });

  it("updates the Sensor on an edit and drops what the spec no longer has", async () => {
    const t = performance.now();
    const edited = hookSetYaml("web", { serviceAccountName: "hooks", hooks: [configMapHook("two", { app: "web" })] });
    expect(kubectl(["apply"], edited)).toMatchObject({ status: 0 });
    const hookSet = await waitCondition(TENANT, "web", "Ready", "True");
    const sensor = await pollUntil("the Sensor's new trigger", 30_000, async () => {
      const s = await stack().admin.get<{ spec: { triggers: Array<{ template: { name: string } }> } }>(
        path_.sensor(TENANT, "web"),
      );
      return s.spec.triggers.some((tr) => tr.template.name.startsWith("configmaps-team-a-")) ? s : undefined;
    });
    figure("HookSet edit -> Sensor updated (ms)", performance.now() - t);
    expect(hookSet.metadata?.generation).toBe(2);
    // The first hook's watch (configmaps-team-a, no labels) is gone from the Sensor and the EventSource.
    expect(sensor.spec.triggers.map((tr) => tr.template.name)).not.toContain("configmaps-team-a");
    const es = await stack().admin.get<{ spec: { resource: Record<string, unknown> } }>(
      path_.eventSource(TENANT, "web"),
    );
    const entries = Object.keys(es.spec.resource);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry).toMatch(/^configmaps-team-a-[0-9a-f]{8}(_changes)?$/);
  });

  it("refuses an invalid HookSet: kubectl with the field path, or Accepted=False with it", async () => {
    const bare = kubectl(["apply"], hookSetYaml("bare", { hooks: [configMapHook("h")] }).replace('"on":', "on:"));
    console.log(`[e2e] kubectl apply with a bare on: (exit ${bare.status}):\n${bare.stderr.trim()}`);
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toContain('spec.hooks[0].true: Invalid value: "object": write the key "on" quoted');
    const hook = { ...configMapHook("h"), on: { ...configMapHook("h").on, when: "nope.x == 1" } };
    expect(kubectl(["apply"], hookSetYaml("bad-when", { serviceAccountName: "hooks", hooks: [hook] }))).toMatchObject({
      status: 0,
    });
    const refused = await waitCondition(TENANT, "bad-when", "Accepted", "False");
    const accepted = condition(refused, "Accepted")!;
    console.log(`[e2e] Accepted=False: ${accepted.message}`);
    expect(accepted).toMatchObject({ reason: "InvalidSpec" });
    expect(accepted.message).toBe(
      'spec.hooks[0].on.when: unknown variable "nope" in "nope.x == 1" (available: object, oldObject, event)',
    );
    expect(condition(refused, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(await getOrUndefined(path_.sensor(TENANT, "bad-when"))).toBeUndefined();
  });

  it("keeps the objects of the last accepted spec while an edit is not accepted", async () => {
    const before = await stack().admin.get<KubeObject>(path_.sensor(TENANT, "web"));
    const good = { serviceAccountName: "hooks", hooks: [configMapHook("two", { app: "web" })] };
    const hook = { ...configMapHook("two", { app: "web" }), on: { ...configMapHook("two").on, when: "nope" } };
    expect(kubectl(["apply"], hookSetYaml("web", { ...good, hooks: [hook] }))).toMatchObject({ status: 0 });
    const refused = await waitCondition(TENANT, "web", "Accepted", "False");
    expect(condition(refused, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    const after = await stack().admin.get<KubeObject>(path_.sensor(TENANT, "web"));
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(kubectl(["apply"], hookSetYaml("web", good))).toMatchObject({ status: 0 });
    await waitCondition(TENANT, "web", "Ready", "True");
  });

  it("says Forbidden, applying nothing, when the ServiceAccount may not watch what the HookSet watches", async () => {
    const hook = configMapHook("other-team", undefined, "team-b");
    expect(kubectl(["apply"], hookSetYaml("peek", { serviceAccountName: "hooks", hooks: [hook] }))).toMatchObject({
      status: 0,
    });
    const forbidden = await waitCondition(TENANT, "peek", "Ready", "False");
    const ready = condition(forbidden, "Ready")!;
    console.log(`[e2e] Ready=False: ${ready.message}`);
    expect(ready.reason).toBe("Forbidden");
    expect(ready.message).toMatch(/^serviceaccount team-a\/hooks cannot get, list, watch configmaps in team-b: /);
    expect(await getOrUndefined(path_.eventSource(TENANT, "peek"))).toBeUndefined();
    expect(await getOrUndefined(path_.sensor(TENANT, "peek"))).toBeUndefined();
  });

  it("says what to create when the namespace has no EventBus", async () => {
    const hook = configMapHook("h", undefined, "team-c");
    expect(kubectl(["apply"], hookSetYaml("no-bus", { hooks: [hook] }, "team-c"))).toMatchObject({ status: 0 });
    const o = await waitCondition("team-c", "no-bus", "Ready", "False");
    const ready = condition(o, "Ready")!;
    console.log(`[e2e] Ready=False: ${ready.message}`);
    expect(ready.reason).toBe("EventBusMissing");
    expect(ready.message).toContain('no EventBus "default" in namespace team-c');
    // The namespace's default ServiceAccount, when the HookSet names none.
    const es = await stack().admin.get<{ spec: { template: unknown } }>(path_.eventSource("team-c", "no-bus"));
    expect(es.spec.template).toEqual({ serviceAccountName: "default" });
    // The controller watches EventBuses: creating the one it asked for readies the HookSet.
    const t = performance.now();
    await stack().apply([eventBus("team-c")]);
    await waitCondition("team-c", "no-bus", "Ready", "True");
    figure("EventBus created -> HookSet READY True (ms)", performance.now() - t);
  });

  it("hands over to the other replica within the lease duration when the leader is SIGKILLed", async () => {
    const [leader, follower] = controllers;
    await leader!.kill();
    const t = performance.now();
    expect(
      kubectl(["apply"], hookSetYaml("after-failover", { serviceAccountName: "hooks", hooks: [configMapHook("h")] })),
    ).toMatchObject({ status: 0 });
    await follower!.waitForLog(/leading: reconciling HookSets/, 30_000);
    figure("leader SIGKILL -> other replica leads (ms)", performance.now() - t);
    await waitCondition(TENANT, "after-failover", "Ready", "True", 30_000);
    const ms = performance.now() - t;
    figure("leader SIGKILL -> new HookSet READY True by the other replica (ms)", ms);
    expect(ms).toBeLessThan(15_000 + 2_000 + 10_000);
  });

  it(`reconciles ${SCALE_HOOKSETS} HookSets applied at once`, async () => {
    const leader = controllers[1]!;
    const rssBefore = rssMiB(leader.pid);
    const docs = Array.from({ length: SCALE_HOOKSETS }, (_, i) => {
      const hooks = [configMapHook("h", undefined, SCALE), configMapHook("g", { n: String(i) }, SCALE)];
      return hookSetYaml(`hs-${i}`, { hooks }, SCALE);
    });
    const t = performance.now();
    const applied = kubectl(["apply"], docs.join("---\n"));
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    await pollUntil(
      `${SCALE_HOOKSETS} HookSets READY True`,
      120_000,
      async () => {
        const list = await stack().admin.get<{ items: HookSetObject[] }>(
          `/apis/resource-hooks.io/v1alpha1/namespaces/${SCALE}/hooksets`,
        );
        const ready = list.items.filter((o) => condition(o, "Ready")?.status === "True").length;
        return ready === SCALE_HOOKSETS ? true : undefined;
      },
      250,
    );
    const ms = performance.now() - t;
    figure(`${SCALE_HOOKSETS} HookSets kubectl apply -> all READY True (ms)`, ms);
    figure(
      `controller RSS before / after ${SCALE_HOOKSETS} HookSets (MiB)`,
      `${rssBefore.toFixed(0)} / ${rssMiB(leader.pid).toFixed(0)}`,
    );
  });

  it("has the garbage collector delete the EventSource, Sensor and token Secret with the HookSet", async () => {
    const t = performance.now();
    expect(kubectl(["delete", "hookset", "web", "-n", TENANT, "--wait=false"])).toMatchObject({ status: 0 });
    await pollUntil("the garbage collector", 60_000, async () => {
      const left = await Promise.all([
        getOrUndefined(path_.eventSource(TENANT, "web")),
        getOrUndefined(path_.sensor(TENANT, "web")),
        getOrUndefined(path_.secret(TENANT, "web-hookset-token")),
      ]);
      return left.every((o) => o === undefined) ? true : undefined;
    });
    figure("HookSet delete -> its objects gone (ms)", performance.now() - t);
  });
});
