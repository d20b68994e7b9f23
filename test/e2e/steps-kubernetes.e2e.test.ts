// The kubernetes and waitFor steps against a real kube-apiserver (etcd + kube-apiserver with RBAC
// from test/e2e/stack.ts; no controller-manager, so the test writes Job and Deployment status itself,
// as the controllers would).
//
// Credentials: the stack's kubeconfigs (token + CA) loaded by @kubernetes/client-node's KubeConfig,
// as the runner loads its own.
//
// permissions(): each step runs as a ServiceAccount bound to a Role built from exactly what
// permissions() returned, and then with each verb taken away, to show every verb is needed.
import { KubeConfig } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { deterministicName, kubernetesStep, type KubernetesConfig } from "../../src/steps/kubernetes/index.js";
import type { PermissionNeed, StepType } from "../../src/steps/types.js";
import { waitForStep, type WaitForConfig } from "../../src/steps/waitFor/index.js";
import { failureOf, makeContext } from "../unit/steps/helpers.js";
import { useStack } from "./harness.js";
import { KubeRest, type KubeObject } from "./stack.js";

const NS = "steps-e2e";
const stack = useStack();
let adminKube: KubeConfig;

const hook = { watch: { group: "apps", version: "v1", resource: "deployments", namespace: NS } };

beforeAll(async () => {
  await stack().apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]);
  adminKube = asKubeConfig(stack().adminKubeconfig);
});

/** A kubeconfig file the stack wrote, as the runtime.kubeConfig the steps take. */
function asKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

function ctxFor(
  kubeConfig: KubeConfig,
  opts: { idempotencyKey?: string; scope?: Record<string, unknown>; signal?: AbortSignal } = {},
) {
  return makeContext({ kubeConfig, scope: opts.scope ?? {}, ...opts }).ctx;
}

async function get(path: string): Promise<KubeObject | undefined> {
  const r = await stack().admin.request("GET", path);
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return r.json as KubeObject;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes status through the status subresource, as a controller would. */
async function writeStatus(path: string, status: Record<string, unknown>): Promise<void> {
  await stack().admin.call("PATCH", `${path}/status`, {
    body: { status },
    contentType: "application/merge-patch+json",
  });
}

const jobSpec = {
  backoffLimit: 0,
  template: {
    spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36", command: ["true"] }] },
  },
};

function jobConfig(extra: Partial<KubernetesConfig> = {}): KubernetesConfig {
  return {
    action: "create",
    manifest: {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { generateName: "migrate-{{ object.metadata.name }}-", namespace: NS },
      spec: jobSpec,
    },
    ...extra,
  };
}

const trigger = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: NS } };
const jobsPath = `/apis/batch/v1/namespaces/${NS}/jobs`;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

describe("kubernetes step against kube-apiserver", () => {
  it("server-side applies (field manager resource-hooks, force) and updates", async () => {
    const cm: KubernetesConfig = {
      action: "apply",
      manifest: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "applied-{{ object.metadata.name }}", namespace: NS },
        data: { image: "app:1" },
      },
    };
    const ctx = ctxFor(adminKube, { scope: { object: trigger } });
    const first = await kubernetesStep.execute(cm, ctx);
    const stored = (await get(`/api/v1/namespaces/${NS}/configmaps/applied-web`))!;
    expect(first.output).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: NS,
      name: "applied-web",
      uid: stored.metadata?.uid,
    });
    expect(stored.data).toEqual({ image: "app:1" });
    expect(
      (stored.metadata?.managedFields as { manager: string; operation: string }[]).map((m) => [m.manager, m.operation]),
    ).toContainEqual(["resource-hooks", "Apply"]);

    // Another manager takes the field; force re-acquires it.
    await stack().admin.call(
      "PATCH",
      `/api/v1/namespaces/${NS}/configmaps/applied-web?fieldManager=someone-else&force=true`,
      {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "applied-web", namespace: NS },
          data: { image: "other" },
        },
        contentType: "application/apply-patch+yaml",
      },
    );
    await kubernetesStep.execute({ ...cm, manifest: { ...cm.manifest, data: { image: "app:2" } } }, ctx);
    expect((await get(`/api/v1/namespaces/${NS}/configmaps/applied-web`))!.data).toEqual({ image: "app:2" });
  });

  it("creates with generateName once per event, however often the event is redelivered", async () => {
    const key = "event-create-once";
    const a = await kubernetesStep.execute(
      jobConfig(),
      ctxFor(adminKube, { idempotencyKey: key, scope: { object: trigger } }),
    );
    const b = await kubernetesStep.execute(
      jobConfig(),
      ctxFor(adminKube, { idempotencyKey: key, scope: { object: trigger } }),
    );
    expect(b.output).toEqual(a.output);
    const name = deterministicName("migrate-web-", key);
    expect(a.output).toMatchObject({
      apiVersion: "batch/v1",
      kind: "Job",
      namespace: NS,
      name,
      uid: expect.any(String),
    });
    const list = await stack().admin.get<{ items: KubeObject[] }>(jobsPath);
    const ours = list.items.filter((j) => j.metadata?.annotations?.["resource-hooks.io/idempotency-key"] === key);
    expect(ours.map((j) => j.metadata?.name)).toEqual([name]);

    // A Job of that name not created for this event is not taken for ours.
    const foreign = jobConfig();
    foreign.manifest.metadata = { name, namespace: NS };
    const failure = await failureOf(kubernetesStep, foreign, ctxFor(adminKube, { idempotencyKey: "another-event" }));
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("already exists and was not created for this event");
  });

  it("patches with merge and JSON patches", async () => {
    const ctx = ctxFor(adminKube);
    const target = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "patched", namespace: NS } };
    await kubernetesStep.execute({ action: "apply", manifest: { ...target, data: { a: "1", b: "2" } } }, ctx);
    await kubernetesStep.execute(
      { action: "patch", manifest: target, patch: { merge: { data: { a: "10", b: null } } } },
      ctx,
    );
    expect((await get(`/api/v1/namespaces/${NS}/configmaps/patched`))!.data).toEqual({ a: "10" });
    await kubernetesStep.execute(
      { action: "patch", manifest: target, patch: { json: [{ op: "add", path: "/data/c", value: "3" }] } },
      ctx,
    );
    expect((await get(`/api/v1/namespaces/${NS}/configmaps/patched`))!.data).toEqual({ a: "10", c: "3" });
    const bad = await failureOf(
      kubernetesStep,
      { action: "patch", manifest: target, patch: { json: [{ op: "test", path: "/data/a", value: "nope" }] } },
      ctx,
    );
    expect(bad.retryable).toBe(false);
    const missing = await failureOf(
      kubernetesStep,
      { action: "patch", manifest: { ...target, metadata: { name: "absent", namespace: NS } }, patch: { merge: {} } },
      ctx,
    );
    expect(missing.message).toContain("404 NotFound");
  });

  it("deletes; an object already gone is success", async () => {
    const ctx = ctxFor(adminKube);
    const target = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "doomed", namespace: NS } };
    const applied = await kubernetesStep.execute({ action: "apply", manifest: { ...target, data: { x: "1" } } }, ctx);
    const deleted = await kubernetesStep.execute(
      { action: "delete", manifest: target, wait: { for: "deleted", timeout: "10s" } },
      ctx,
    );
    expect(deleted.output).toEqual(applied.output);
    expect(await get(`/api/v1/namespaces/${NS}/configmaps/doomed`)).toBeUndefined();
    const again = await kubernetesStep.execute({ action: "delete", manifest: target }, ctx);
    expect(again.output).toEqual({ apiVersion: "v1", kind: "ConfigMap", namespace: NS, name: "doomed" });
  });

  it("keeps capitals in names where the kind allows them (RBAC)", async () => {
    const ctx = ctxFor(adminKube);
    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "Resource-Hooks:E2E" },
    };
    const applied = await kubernetesStep.execute(
      {
        action: "apply",
        manifest: { ...role, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] },
      },
      ctx,
    );
    expect(applied.output).toMatchObject({ kind: "ClusterRole", name: "Resource-Hooks:E2E", uid: expect.any(String) });
    expect(applied.output).not.toHaveProperty("namespace");
    await kubernetesStep.execute(
      { action: "patch", manifest: role, patch: { merge: { metadata: { labels: { patched: "yes" } } } } },
      ctx,
    );
    expect(
      (await get("/apis/rbac.authorization.k8s.io/v1/clusterroles/Resource-Hooks%3AE2E"))?.metadata?.labels,
    ).toEqual({ patched: "yes" });
    await kubernetesStep.execute({ action: "delete", manifest: role, wait: { for: "deleted", timeout: "10s" } }, ctx);
    expect(await get("/apis/rbac.authorization.k8s.io/v1/clusterroles/Resource-Hooks%3AE2E")).toBeUndefined();
  });

  it("waits for a created Job to complete once the test writes its status", async () => {
    const key = "event-job-complete";
    const name = deterministicName("migrate-web-", key);
    const run = kubernetesStep.execute(
      jobConfig({ wait: { for: "complete", timeout: "60s" } }),
      ctxFor(adminKube, { idempotencyKey: key, scope: { object: trigger } }),
    );
    await until("the Job", () => get(`${jobsPath}/${name}`));
    await writeStatus(`${jobsPath}/${name}`, { startTime: now(), active: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const t = now();
    await writeStatus(`${jobsPath}/${name}`, {
      active: 0,
      succeeded: 1,
      completionTime: t,
      conditions: [
        { type: "SuccessCriteriaMet", status: "True", lastProbeTime: t, lastTransitionTime: t },
        { type: "Complete", status: "True", lastProbeTime: t, lastTransitionTime: t },
      ],
    });
    const outcome = await run;
    expect(outcome.output).toMatchObject({ kind: "Job", name, namespace: NS });
  });

  it("fails without retry when the Job fails, with the Job's reason", async () => {
    const key = "event-job-fails";
    const name = deterministicName("migrate-web-", key);
    const run = failureOf(
      kubernetesStep,
      jobConfig({ wait: { for: "complete", timeout: "60s" } }),
      ctxFor(adminKube, { idempotencyKey: key, scope: { object: trigger } }),
    );
    await until("the Job", () => get(`${jobsPath}/${name}`));
    const t = now();
    await writeStatus(`${jobsPath}/${name}`, {
      startTime: t,
      failed: 1,
      conditions: [
        {
          type: "FailureTarget",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
          lastProbeTime: t,
          lastTransitionTime: t,
        },
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
          lastProbeTime: t,
          lastTransitionTime: t,
        },
      ],
    });
    const failure = await run;
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("failed: BackoffLimitExceeded: Job has reached the specified backoff limit");
  });

  it("patches with a strategic merge patch (lists merged by key)", async () => {
    const ctx = ctxFor(adminKube);
    const target = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "two-containers", namespace: NS } };
    const container = (name: string, image: string) => ({ name, image });
    await kubernetesStep.execute(
      {
        action: "apply",
        manifest: {
          ...target,
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: "two" } },
            template: {
              metadata: { labels: { app: "two" } },
              spec: { containers: [container("app", "app:1"), container("sidecar", "proxy:1")] },
            },
          },
        },
      },
      ctx,
    );
    await kubernetesStep.execute(
      {
        action: "patch",
        manifest: target,
        patch: { strategic: { spec: { template: { spec: { containers: [container("app", "app:2")] } } } } },
      },
      ctx,
    );
    const stored = (await get(`/apis/apps/v1/namespaces/${NS}/deployments/two-containers`)) as {
      spec: { template: { spec: { containers: { name: string; image: string }[] } } };
    };
    expect(stored.spec.template.spec.containers.map((c) => [c.name, c.image])).toEqual([
      ["app", "app:2"],
      ["sidecar", "proxy:1"],
    ]);
  });

  it("a create that the API server rejects as invalid is not retried", async () => {
    const failure = await failureOf(
      kubernetesStep,
      {
        action: "create",
        manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "Not_A_Valid_Name", namespace: NS } },
      },
      ctxFor(adminKube, { idempotencyKey: "event-invalid" }),
    );
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("(422 Invalid)");
  });
});

describe("waitFor step against kube-apiserver", () => {
  const deploymentPath = `/apis/apps/v1/namespaces/${NS}/deployments/web`;

  it("waits until the triggering Deployment finished rolling out", async () => {
    await stack().apply([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: NS },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
          },
        },
      },
    ]);
    const deployment = (await get(deploymentPath))!;
    const generation = deployment.metadata?.generation;
    const config: WaitForConfig = { for: "rollout", timeout: "60s" };
    const run = waitForStep.execute(config, ctxFor(adminKube, { scope: { object: deployment } }));
    await new Promise((r) => setTimeout(r, 300));
    await writeStatus(deploymentPath, {
      observedGeneration: generation,
      replicas: 3,
      updatedReplicas: 1,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    await new Promise((r) => setTimeout(r, 300));
    await writeStatus(deploymentPath, {
      observedGeneration: generation,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    const outcome = await run;
    expect(outcome.output).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name: "web",
      uid: deployment.metadata?.uid,
    });
  });

  it("times out (retryably) naming what it last saw", async () => {
    const deployment = (await get(deploymentPath))!;
    await stack().admin.call("PATCH", `${deploymentPath}?fieldManager=e2e`, {
      body: { spec: { replicas: 5 } },
      contentType: "application/merge-patch+json",
    });
    const failure = await failureOf(
      waitForStep,
      { for: "rollout", timeout: "1s" },
      ctxFor(adminKube, { scope: { object: deployment } }),
    );
    expect(failure.retryable).toBe(true);
    expect(failure.message).toContain(`timed out after 1s waiting for Deployment ${NS}/web to roll out`);
  });

  it("waits for a condition on another object by name", async () => {
    await stack().apply([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "flag", namespace: NS }, data: { ready: "no" } },
    ]);
    const run = waitForStep.execute(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "flag",
        for: { expression: "object.data.ready == 'yes'" },
        timeout: "30s",
      },
      ctxFor(adminKube, { scope: { object: trigger } }),
    );
    await new Promise((r) => setTimeout(r, 300));
    await stack().apply([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "flag", namespace: NS }, data: { ready: "yes" } },
    ]);
    expect((await run).output).toMatchObject({ kind: "ConfigMap", name: "flag", namespace: NS });
  });

  it("evaluates expressions over the object as the API server sends it (timestamps are RFC 3339 strings)", async () => {
    const outcome = await waitForStep.execute(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "flag",
        for: {
          expression: "object.metadata.creationTimestamp.endsWith('Z') && object.metadata.managedFields.size() > 0",
        },
        timeout: "10s",
      },
      ctxFor(adminKube, { scope: { object: trigger } }),
    );
    expect(outcome.output).toMatchObject({ kind: "ConfigMap", name: "flag" });
  });
});

// ------------------------------------------------------------------------------ permissions()

let saCount = 0;

/** A ServiceAccount bound to a Role with exactly `needs` (minus one verb, if asked); returns its KubeConfig and REST client. */
async function accountWith(
  needs: PermissionNeed[],
  drop?: string,
): Promise<{ kube: KubeConfig; rest: KubeRest; name: string }> {
  const name = `runner-${++saCount}`;
  for (const need of needs) expect(need.namespace, "the configs here name their namespace").toBe(NS);
  const rules = needs
    .map((n) => ({ apiGroups: [n.group], resources: [n.resource], verbs: n.verbs.filter((v) => v !== drop) }))
    .filter((r) => r.verbs.length > 0);
  await stack().apply([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: NS } },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: NS }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: NS }],
    },
  ]);
  const file = await stack().kubeconfigForServiceAccount(NS, name);
  const rest = KubeRest.fromKubeconfig(file);
  // RBAC is cached by the authorizer: wait until the grants are in effect.
  for (const rule of rules) {
    for (const verb of rule.verbs) {
      await until(`${name} may ${verb} ${rule.resources[0]}`, async () => {
        const review = await rest.call<{ status?: { allowed?: boolean } }>(
          "POST",
          "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
          {
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: {
                resourceAttributes: { namespace: NS, verb, group: rule.apiGroups[0], resource: rule.resources[0] },
              },
            },
          },
        );
        return review.status?.allowed ? true : undefined;
      });
    }
  }
  return { kube: asKubeConfig(file), rest, name };
}

async function expectForbidden<C>(
  step: StepType<C>,
  config: C,
  kube: KubeConfig,
  idempotencyKey: string,
): Promise<void> {
  const failure = await failureOf(step, config, ctxFor(kube, { idempotencyKey, scope: { object: trigger } }));
  expect(failure.message).toMatch(/403 Forbidden/);
  expect(failure.retryable).toBe(false);
}

describe("permissions() are sufficient and every verb is needed", () => {
  it("apply: create + patch", async () => {
    const config = (name: string): KubernetesConfig => ({
      action: "apply",
      manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NS }, data: { a: "1" } },
    });
    const needs = kubernetesStep.permissions!(config("x"), hook);
    expect(needs).toEqual([{ group: "", resource: "configmaps", namespace: NS, verbs: ["create", "patch"] }]);
    const full = await accountWith(needs);
    await kubernetesStep.execute(config("perm-apply"), ctxFor(full.kube));
    await kubernetesStep.execute(config("perm-apply"), ctxFor(full.kube)); // update of an existing object
    await expectForbidden(kubernetesStep, config("perm-apply-2"), (await accountWith(needs, "create")).kube, "k1"); // apply that creates needs create
    await expectForbidden(kubernetesStep, config("perm-apply"), (await accountWith(needs, "patch")).kube, "k2");
  });

  it("create + wait complete: create + get (+ watch, without which it polls)", async () => {
    const needs = kubernetesStep.permissions!(jobConfig({ wait: { for: "complete", timeout: "60s" } }), hook);
    expect(needs).toEqual([{ group: "batch", resource: "jobs", namespace: NS, verbs: ["create", "get", "watch"] }]);

    const runAs = async (kube: KubeConfig, key: string): Promise<void> => {
      const name = deterministicName("migrate-web-", key);
      const path = `${jobsPath}/${name}`;
      const run = kubernetesStep.execute(
        jobConfig({ wait: { for: "complete", timeout: "60s" } }),
        ctxFor(kube, { idempotencyKey: key, scope: { object: trigger } }),
      );
      let settled = false;
      run.finally(() => (settled = true)).catch(() => undefined);
      await until("the Job or the end of the step", async () => (settled || (await get(path)) ? true : undefined));
      if (!settled) {
        const t = now();
        await writeStatus(path, {
          startTime: t,
          succeeded: 1,
          completionTime: t,
          conditions: [
            { type: "SuccessCriteriaMet", status: "True", lastProbeTime: t, lastTransitionTime: t },
            { type: "Complete", status: "True", lastProbeTime: t, lastTransitionTime: t },
          ],
        });
      }
      await run;
    };

    await runAs((await accountWith(needs)).kube, "perm-create-full");
    // Without watch the wait falls back to polling with get: still works (watch only makes it prompt).
    await runAs((await accountWith(needs, "watch")).kube, "perm-create-nowatch");
    await expect(runAs((await accountWith(needs, "create")).kube, "perm-create-nocreate")).rejects.toThrow(
      /403 Forbidden/,
    );
    await expect(runAs((await accountWith(needs, "get")).kube, "perm-create-noget")).rejects.toThrow(/403 Forbidden/);
  });

  it("patch: patch; delete: delete", async () => {
    const target = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "perm-target", namespace: NS } };
    await stack().apply([{ ...target, data: { a: "1" } }]);
    const patch: KubernetesConfig = { action: "patch", manifest: target, patch: { merge: { data: { a: "2" } } } };
    const patchNeeds = kubernetesStep.permissions!(patch, hook);
    expect(patchNeeds).toEqual([{ group: "", resource: "configmaps", namespace: NS, verbs: ["patch"] }]);
    await kubernetesStep.execute(patch, ctxFor((await accountWith(patchNeeds)).kube));
    await expectForbidden(kubernetesStep, patch, (await accountWith(patchNeeds, "patch")).kube, "k3");

    const del: KubernetesConfig = { action: "delete", manifest: target };
    const deleteNeeds = kubernetesStep.permissions!(del, hook);
    expect(deleteNeeds).toEqual([{ group: "", resource: "configmaps", namespace: NS, verbs: ["delete"] }]);
    await expectForbidden(kubernetesStep, del, (await accountWith(deleteNeeds, "delete")).kube, "k4");
    await kubernetesStep.execute(del, ctxFor((await accountWith(deleteNeeds)).kube));
    expect(await get(`/api/v1/namespaces/${NS}/configmaps/perm-target`)).toBeUndefined();
  });

  it("waitFor on the trigger: get (+ watch)", async () => {
    const needs = waitForStep.permissions!({ for: "rollout" }, hook);
    expect(needs).toEqual([{ group: "apps", resource: "deployments", namespace: NS, verbs: ["get", "watch"] }]);
    const deployment = (await get(`/apis/apps/v1/namespaces/${NS}/deployments/web`))!;
    const generation = deployment.metadata?.generation;
    const replicas = (deployment.spec as { replicas: number }).replicas;
    await writeStatus(`/apis/apps/v1/namespaces/${NS}/deployments/web`, {
      observedGeneration: generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    });
    await waitForStep.execute(
      { for: "rollout", timeout: "20s" },
      ctxFor((await accountWith(needs)).kube, { scope: { object: deployment } }),
    );
    await expectForbidden(
      waitForStep,
      { for: "rollout", timeout: "20s" },
      (await accountWith(needs, "get")).kube,
      "k5",
    );
  });
});
