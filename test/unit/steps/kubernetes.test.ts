// kubernetes and waitFor steps against a small fake Kubernetes API server over real HTTP on
// 127.0.0.1, through src/k8s (KubeConfig from @kubernetes/client-node, our REST transport): discovery,
// create/apply/patch/delete, and streamed watches. It checks what the steps send (paths, content
// types, fieldManager/force, annotations, bodies as written) and the wait loop (watch, poll
// fallback, abort, timeouts). It is not a kube-apiserver: test/e2e/steps-kubernetes.e2e.test.ts
// runs the same steps against a real one.
import type { ServerResponse } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { KubeObject } from "../../../src/k8s/types.js";
import { deterministicName, kubernetesStep, type KubernetesConfig } from "../../../src/steps/kubernetes/index.js";
import { waitForStep } from "../../../src/steps/waitFor/index.js";
import { closedPort, failureOf, makeContext } from "./helpers.js";
import { startRecordingServer, type RecordingServer, type RecordedRequest } from "../../helpers/recording-server.js";

const DISCOVERY: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  "/api/v1": [
    { name: "configmaps", kind: "ConfigMap", namespaced: true },
    { name: "namespaces", kind: "Namespace", namespaced: false },
    { name: "pods", kind: "Pod", namespaced: true },
    { name: "pods/status", kind: "Pod", namespaced: true },
  ],
  "/apis/apps/v1": [{ name: "deployments", kind: "Deployment", namespaced: true }],
  "/apis/batch/v1": [{ name: "jobs", kind: "Job", namespaced: true }],
};

/** In-memory API server: objects by path, watchers by collection path. */
class FakeApiServer {
  objects = new Map<string, KubeObject>();
  watchers: { collection: string; name: string; res: ServerResponse }[] = [];
  forbidWatch = false;
  /** GETs of these paths are never answered; their connections are kept here while open. */
  hang = new Set<string>();
  hanging: ServerResponse[] = [];
  private rv = 100;
  private uid = 0;

  handle = (req: RecordedRequest, res: ServerResponse) => {
    const url = new URL(req.path, "http://fake");
    const path = url.pathname;
    if (req.method === "GET" && this.hang.has(path)) {
      this.hanging.push(res);
      res.on("close", () => (this.hanging = this.hanging.filter((r) => r !== res)));
      return undefined;
    }
    if (DISCOVERY[path]) return { status: 200, body: { kind: "APIResourceList", resources: DISCOVERY[path] } };
    if (path.startsWith("/apis/") && path.split("/").length === 4)
      return status(404, "NotFound", "the server could not find the requested resource");
    const parts = path.split("/").filter(Boolean);
    const resourceIndex = parts[0] === "api" ? (parts[2] === "namespaces" ? 4 : 2) : parts[3] === "namespaces" ? 5 : 3;
    const isCollection = parts.length === resourceIndex + 1;
    if (req.method === "GET" && isCollection && url.searchParams.get("watch") === "true") {
      if (this.forbidWatch) return status(403, "Forbidden", "watch is forbidden");
      const name = (url.searchParams.get("fieldSelector") ?? "").replace("metadata.name=", "");
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders(); // as kube-apiserver does: client-node's Watch can be stopped once the headers are in
      const current = this.objects.get(`${path}/${name}`);
      if (current && !url.searchParams.get("resourceVersion"))
        res.write(`${JSON.stringify({ type: "ADDED", object: current })}\n`);
      const watcher = { collection: path, name, res };
      this.watchers.push(watcher);
      res.on("close", () => (this.watchers = this.watchers.filter((w) => w !== watcher)));
      return undefined;
    }
    if (req.method === "POST" && isCollection) {
      const body = req.json as KubeObject;
      const key = `${path}/${body.metadata!.name!}`;
      if (this.objects.has(key))
        return status(409, "AlreadyExists", `${body.kind} "${body.metadata!.name}" already exists`);
      return { status: 201, body: this.store(key, body, "ADDED") };
    }
    const existing = this.objects.get(path);
    if (req.method === "GET") return existing ? { status: 200, body: existing } : status(404, "NotFound", "not found");
    if (req.method === "DELETE") {
      if (!existing) return status(404, "NotFound", "not found");
      this.objects.delete(path);
      this.notify(path, "DELETED", existing);
      return {
        status: 200,
        body: {
          kind: "Status",
          status: "Success",
          details: { name: existing.metadata?.name, uid: existing.metadata?.uid },
        },
      };
    }
    if (req.method === "PATCH") {
      const type = String(req.headers["content-type"]);
      const patch = req.json as unknown;
      if (type === "application/apply-patch+yaml")
        return {
          status: 200,
          body: this.store(path, { ...existing, ...(patch as KubeObject) }, existing ? "MODIFIED" : "ADDED"),
        };
      if (!existing) return status(404, "NotFound", "not found");
      if (type === "application/merge-patch+json")
        return { status: 200, body: this.store(path, merge(existing, patch) as KubeObject, "MODIFIED") };
      if (type === "application/json-patch+json") {
        const copy = structuredClone(existing) as Record<string, unknown>;
        for (const op of patch as { op: string; path: string; value: unknown }[]) {
          const keys = op.path.split("/").slice(1);
          let target = copy;
          for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
          target[keys.at(-1)!] = op.value;
        }
        return { status: 200, body: this.store(path, copy as KubeObject, "MODIFIED") };
      }
      return status(415, "UnsupportedMediaType", type);
    }
    return status(405, "MethodNotAllowed", req.method);
  };

  store(path: string, object: KubeObject, type: "ADDED" | "MODIFIED"): KubeObject {
    const previous = this.objects.get(path);
    const stored: KubeObject = {
      ...object,
      metadata: {
        ...object.metadata,
        uid: previous?.metadata?.uid ?? `uid-${++this.uid}`,
        resourceVersion: String(++this.rv),
        generation: (previous?.metadata?.generation ?? 0) + 1,
      },
    };
    this.objects.set(path, stored);
    this.notify(path, type, stored);
    return stored;
  }

  /** Test-side status update (no generation bump), as a controller would write it. */
  setStatus(path: string, statusValue: Record<string, unknown>): void {
    const object = this.objects.get(path)!;
    const updated = {
      ...object,
      status: statusValue,
      metadata: { ...object.metadata, resourceVersion: String(++this.rv) },
    };
    this.objects.set(path, updated);
    this.notify(path, "MODIFIED", updated);
  }

  private notify(path: string, type: string, object: KubeObject): void {
    for (const w of this.watchers) {
      if (`${w.collection}/${w.name}` === path) w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }
}

function status(code: number, reason: string, message: string) {
  return { status: code, body: { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message } };
}

function merge(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = {
    ...(target && typeof target === "object" ? (target as Record<string, unknown>) : {}),
  };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

let peer: RecordingServer;
let api: FakeApiServer;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  peer = await startRecordingServer();
  // Plain HTTP: client-node allows it only with skipTLSVerify.
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "fake", server: peer.url, skipTLSVerify: true }],
    users: [{ name: "tester", token: "kube-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "tester", namespace: "team-a" }],
    currentContext: "fake",
  });
});
beforeEach(() => {
  api = new FakeApiServer();
  peer.respondWith(api.handle);
  peer.requests.length = 0;
});
afterAll(async () => {
  await peer.close();
});

const scope = { object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "prod" } } };
const context = (signal?: AbortSignal, idempotencyKey?: string) =>
  makeContext({ scope, kubeConfig, ...(signal ? { signal } : {}), ...(idempotencyKey ? { idempotencyKey } : {}) });

const job = (extra: Record<string, unknown> = {}): KubernetesConfig => ({
  action: "create",
  manifest: {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { generateName: "migrate-{{ object.metadata.name }}-", namespace: "{{ object.metadata.namespace }}" },
    spec: { template: { spec: { containers: [{ name: "m", image: "app" }] } } },
  },
  ...extra,
});

describe("kubernetes step (fake API server)", () => {
  it("server-side applies with field manager resource-hooks and force", async () => {
    const { ctx } = context();
    const outcome = await kubernetesStep.execute(
      {
        action: "apply",
        manifest: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "cfg-{{ object.metadata.name }}" },
          data: { a: "1" },
        },
      },
      ctx,
    );
    const req = peer.requests.find((r) => r.method === "PATCH")!;
    expect(req.path).toBe("/api/v1/namespaces/team-a/configmaps/cfg-web?fieldManager=resource-hooks&force=true");
    expect(req.headers["content-type"]).toBe("application/apply-patch+yaml");
    expect(req.headers.authorization).toBe("Bearer kube-token");
    expect(req.headers["user-agent"]).toBe("resource-hooks");
    expect(req.json).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg-web", namespace: "team-a" },
      data: { a: "1" },
    });
    expect(outcome.output).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "team-a",
      name: "cfg-web",
      uid: "uid-1",
    });
  });

  it("creates once per event: generateName gets a hash of the idempotency key, a redelivery finds its object", async () => {
    const first = await kubernetesStep.execute(job(), context().ctx);
    const name = deterministicName("migrate-web-", "idem-0123456789abcdef");
    expect(name).toMatch(/^migrate-web-[0-9a-f]{10}$/);
    expect(first.output).toEqual({ apiVersion: "batch/v1", kind: "Job", namespace: "prod", name, uid: "uid-1" });
    const created = api.objects.get(`/apis/batch/v1/namespaces/prod/jobs/${name}`)!;
    expect(created.metadata?.annotations).toEqual({ "resource-hooks.io/idempotency-key": "idem-0123456789abcdef" });
    expect(created.metadata?.generateName).toBeUndefined();

    const again = await kubernetesStep.execute(job(), context().ctx);
    expect(again.output).toEqual(first.output);
    expect(api.objects.size).toBe(1);

    // Another event gets another object.
    const other = await kubernetesStep.execute(job(), context(undefined, "another-event").ctx);
    expect((other.output as { name: string }).name).not.toBe(name);
    expect(api.objects.size).toBe(2);
  });

  it("fails (not retryable) when a same-named object was not created for this event", async () => {
    const fixed = job();
    fixed.manifest.metadata = { name: "migrate", namespace: "prod" };
    await kubernetesStep.execute(fixed, context(undefined, "event-1").ctx);
    const failure = await failureOf(kubernetesStep, fixed, context(undefined, "event-2").ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe("create Job prod/migrate: it already exists and was not created for this event");
  });

  it("patches with an explicit patch type", async () => {
    const { ctx } = context();
    const target = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "prod" } };
    await kubernetesStep.execute(
      { action: "apply", manifest: { ...target, spec: { replicas: 1, paused: false } } },
      ctx,
    );
    await kubernetesStep.execute(
      { action: "patch", manifest: target, patch: { merge: { spec: { replicas: 2, paused: null } } } },
      ctx,
    );
    const merged = peer.requests.filter((r) => r.method === "PATCH").at(-1)!;
    expect(merged.headers["content-type"]).toBe("application/merge-patch+json");
    expect(merged.path).toBe("/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=resource-hooks");
    expect(api.objects.get("/apis/apps/v1/namespaces/prod/deployments/web")!.spec).toEqual({ replicas: 2 });
    await kubernetesStep.execute(
      {
        action: "patch",
        manifest: target,
        patch: { json: [{ op: "replace", path: "/spec/replicas", value: "{{ 1 + 2 }}" }] },
      },
      ctx,
    );
    expect(peer.requests.filter((r) => r.method === "PATCH").at(-1)!.headers["content-type"]).toBe(
      "application/json-patch+json",
    );
    expect(api.objects.get("/apis/apps/v1/namespaces/prod/deployments/web")!.spec).toEqual({ replicas: 3 });
    const missing = await failureOf(
      kubernetesStep,
      { action: "patch", manifest: { ...target, metadata: { name: "nope", namespace: "prod" } }, patch: { merge: {} } },
      ctx,
    );
    expect(missing.retryable).toBe(false);
    expect(missing.message).toContain("(404 NotFound)");
  });

  it("deletes with Background propagation; an object already gone is success", async () => {
    const { ctx } = context();
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "gone", namespace: "prod" } };
    await kubernetesStep.execute({ action: "apply", manifest: cm }, ctx);
    const deleted = await kubernetesStep.execute({ action: "delete", manifest: cm }, ctx);
    expect(deleted.output).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "prod",
      name: "gone",
      uid: "uid-1",
    });
    expect(peer.requests.find((r) => r.method === "DELETE")!.path).toBe(
      "/api/v1/namespaces/prod/configmaps/gone?propagationPolicy=Background",
    );
    const again = await kubernetesStep.execute({ action: "delete", manifest: cm, wait: { for: "deleted" } }, ctx);
    expect(again.output).toEqual({ apiVersion: "v1", kind: "ConfigMap", namespace: "prod", name: "gone" });
  });

  it("treats cluster-scoped kinds without a namespace, and unknown kinds as final failures", async () => {
    const { ctx } = context();
    const outcome = await kubernetesStep.execute(
      {
        action: "apply",
        manifest: { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-b", namespace: "ignored" } },
      },
      ctx,
    );
    expect(peer.requests.find((r) => r.method === "PATCH")!.path).toBe(
      "/api/v1/namespaces/team-b?fieldManager=resource-hooks&force=true",
    );
    expect(outcome.output).toEqual({ apiVersion: "v1", kind: "Namespace", name: "team-b", uid: "uid-1" });
    const unknown = await failureOf(
      kubernetesStep,
      { action: "apply", manifest: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } } },
      ctx,
    );
    expect(unknown.retryable).toBe(false);
    expect(unknown.message).toContain("apiVersion example.com/v1 is not served");
  });

  it("asks discovery again for a kind its cached answer lacks (a CRD created since)", async () => {
    const { ctx } = context();
    await kubernetesStep.execute(
      {
        action: "apply",
        manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "first", namespace: "prod" } },
      },
      ctx,
    );
    DISCOVERY["/api/v1"]!.push({ name: "secrets", kind: "Secret", namespaced: true });
    try {
      const outcome = await kubernetesStep.execute(
        {
          action: "apply",
          manifest: { apiVersion: "v1", kind: "Secret", metadata: { name: "new", namespace: "prod" } },
        },
        ctx,
      );
      expect(outcome.output).toMatchObject({ kind: "Secret", name: "new" });
      expect(peer.requests.filter((r) => r.method === "PATCH").at(-1)!.path).toBe(
        "/api/v1/namespaces/prod/secrets/new?fieldManager=resource-hooks&force=true",
      );
    } finally {
      DISCOVERY["/api/v1"]!.pop();
    }
  });

  it("waits for a created Job to complete, watching it", async () => {
    const { ctx } = context();
    const name = deterministicName("migrate-web-", ctx.idempotencyKey);
    const path = `/apis/batch/v1/namespaces/prod/jobs/${name}`;
    setTimeout(() => api.setStatus(path, { active: 1 }), 100);
    setTimeout(() => api.setStatus(path, { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] }), 300);
    const outcome = await kubernetesStep.execute(job({ wait: { for: "complete", timeout: "10s" } }), ctx);
    expect((outcome.output as { name: string }).name).toBe(name);
    const watch = peer.requests.find((r) => r.path.includes("watch=true"))!;
    expect(watch.path).toContain(
      `/apis/batch/v1/namespaces/prod/jobs?watch=true&fieldSelector=metadata.name%3D${name}`,
    );
  });

  it("fails without retry when the Job fails, naming the Job's reason", async () => {
    const { ctx } = context();
    const path = `/apis/batch/v1/namespaces/prod/jobs/${deterministicName("migrate-web-", ctx.idempotencyKey)}`;
    setTimeout(
      () =>
        api.setStatus(path, {
          failed: 1,
          conditions: [
            {
              type: "Failed",
              status: "True",
              reason: "BackoffLimitExceeded",
              message: "Job has reached the specified backoff limit",
            },
          ],
        }),
      100,
    );
    const failure = await failureOf(kubernetesStep, job({ wait: { for: "complete" } }), ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("failed: BackoffLimitExceeded: Job has reached the specified backoff limit");
  });

  it("times out retryably with the last seen state, and honours ctx.signal", async () => {
    const { ctx } = context();
    const timedOut = await failureOf(kubernetesStep, job({ wait: { for: "complete", timeout: "300ms" } }), ctx);
    expect(timedOut.retryable).toBe(true);
    expect(timedOut.message).toMatch(
      /^timed out after 300ms waiting for Job prod\/migrate-web-[0-9a-f]+ to complete; last seen: not complete yet$/,
    );

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("step timeout")), 200);
    const aborted = await failureOf(kubernetesStep, job({ wait: { for: "complete" } }), context(controller.signal).ctx);
    expect(aborted.retryable).toBe(false);
    expect(aborted.message).toContain("aborted while waiting for Job prod/");
    expect(aborted.message).toContain("step timeout");
    // The watch connection is closed, not left open.
    await vi.waitFor(() => expect(api.watchers).toHaveLength(0), { timeout: 2000 });
  });

  it("classifies API errors: 5xx, 429 (with Retry-After) and network errors retry; 401, 403, 409 AlreadyExists, 422 do not", async () => {
    const cm: KubernetesConfig = {
      action: "apply",
      manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "prod" } },
    };
    const answer = async (
      code: number,
      reason: string,
      headers: Record<string, string> = {},
      details?: Record<string, unknown>,
    ) => {
      peer.respondWith((req, res) =>
        req.method === "PATCH"
          ? {
              status: code,
              headers,
              body: {
                kind: "Status",
                apiVersion: "v1",
                status: "Failure",
                code,
                reason,
                message: `said ${reason}`,
                ...(details ? { details } : {}),
              },
            }
          : api.handle(req, res),
      );
      return await failureOf(kubernetesStep, cm, context().ctx);
    };
    const busy = await answer(429, "TooManyRequests", { "retry-after": "3" });
    expect(busy).toMatchObject({
      retryable: true,
      retryAfterMs: 3000,
      message: "apply ConfigMap prod/c: said TooManyRequests (429 TooManyRequests)",
    });
    expect(await answer(500, "InternalError", {}, { retryAfterSeconds: 2 })).toMatchObject({
      retryable: true,
      retryAfterMs: 2000,
    });
    expect((await answer(503, "ServiceUnavailable")).retryable).toBe(true);
    expect((await answer(409, "Conflict")).retryable).toBe(true);
    for (const [code, reason] of [
      [401, "Unauthorized"],
      [403, "Forbidden"],
      [409, "AlreadyExists"],
      [422, "Invalid"],
    ] as const) {
      const failure = await answer(code, reason);
      expect(failure.retryable, `${code}`).toBe(false);
      expect(failure.message).toContain(`(${code} ${reason})`);
    }

    const down = new KubeConfig();
    down.loadFromOptions({
      clusters: [{ name: "down", server: `http://127.0.0.1:${await closedPort()}`, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "down", cluster: "down", user: "u" }],
      currentContext: "down",
    });
    const unreachable = await failureOf(kubernetesStep, cm, makeContext({ scope, kubeConfig: down }).ctx);
    expect(unreachable.retryable).toBe(true);
    expect(unreachable.message).toContain("ECONNREFUSED");
  });

  it("computes minimal permissions", () => {
    expect(
      kubernetesStep.permissions!(job({ wait: { for: "complete" } }), {
        watch: { group: "apps", version: "v1", resource: "deployments", namespace: "" },
      }),
    ).toEqual([{ group: "batch", resource: "jobs", verbs: ["create", "get", "watch"] }]);
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "prod" } };
    const hook = { watch: { group: "", version: "v1", resource: "configmaps", namespace: "" } };
    expect(kubernetesStep.permissions!({ action: "apply", manifest: cm }, hook)).toEqual([
      { group: "", resource: "configmaps", namespace: "prod", verbs: ["create", "patch"] },
    ]);
    expect(kubernetesStep.permissions!({ action: "patch", manifest: cm, patch: { merge: {} } }, hook)).toEqual([
      { group: "", resource: "configmaps", namespace: "prod", verbs: ["patch"] },
    ]);
    expect(kubernetesStep.permissions!({ action: "delete", manifest: cm }, hook)).toEqual([
      { group: "", resource: "configmaps", namespace: "prod", verbs: ["delete"] },
    ]);
    expect(
      kubernetesStep.permissions!(
        {
          action: "apply",
          manifest: { apiVersion: "v1", kind: "Namespace", metadata: { name: "x", namespace: "prod" } },
        },
        hook,
      ),
    ).toEqual([{ group: "", resource: "namespaces", verbs: ["create", "patch"] }]);
  });

  it("checks what the schema cannot", () => {
    expect(
      kubernetesStep.check!({
        action: "apply",
        manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "a-" } },
      })[0]?.message,
    ).toBe("generateName only works with action create; apply needs metadata.name");
    expect(
      kubernetesStep.check!({
        action: "delete",
        manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } },
        wait: { for: "complete" },
      })[0]?.path,
    ).toEqual(["wait", "for"]);
    expect(
      kubernetesStep.check!({
        action: "apply",
        manifest: { apiVersion: "batch/v1", kind: "Job", metadata: { name: "a" } },
        wait: { for: "rollout" },
      })[0]?.message,
    ).toContain("rollout is defined for");
    expect(
      kubernetesStep.check!({
        action: "patch",
        manifest: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } },
      })[0]?.path,
    ).toEqual(["patch"]);
    expect(kubernetesStep.check!(job())).toEqual([]);
  });

  it("fails clearly when the runner has no Kubernetes access", async () => {
    const failure = await failureOf(kubernetesStep, job(), makeContext({ scope }).ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("no Kubernetes access");
  });
});

describe("waitFor step (fake API server)", () => {
  const deploymentPath = "/apis/apps/v1/namespaces/prod/deployments/web";
  const rolledOut = { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 };

  beforeEach(() => {
    api.store(
      deploymentPath,
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "prod" },
        spec: { replicas: 2 },
      },
      "ADDED",
    );
  });

  it("waits for the triggering Deployment to roll out", async () => {
    setTimeout(() => api.setStatus(deploymentPath, { ...rolledOut, updatedReplicas: 1, availableReplicas: 1 }), 100);
    setTimeout(() => api.setStatus(deploymentPath, rolledOut), 250);
    const outcome = await waitForStep.execute({ for: "rollout", timeout: "10s" }, context().ctx);
    expect(outcome.output).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "prod",
      name: "web",
      uid: "uid-1",
    });
  });

  it("polls when watching is forbidden", async () => {
    api.forbidWatch = true;
    setTimeout(() => api.setStatus(deploymentPath, rolledOut), 300);
    await waitForStep.execute({ for: "rollout", timeout: "10s" }, context().ctx);
    expect(peer.requests.filter((r) => r.method === "GET" && r.path === deploymentPath).length).toBeGreaterThanOrEqual(
      2,
    );
  });

  it("waits for another object by condition or CEL expression, defaulting to the trigger's namespace", async () => {
    api.store(
      "/api/v1/namespaces/prod/pods/smoke",
      { apiVersion: "v1", kind: "Pod", metadata: { name: "smoke", namespace: "prod" } },
      "ADDED",
    );
    setTimeout(
      () =>
        api.setStatus("/api/v1/namespaces/prod/pods/smoke", {
          phase: "Running",
          conditions: [{ type: "Ready", status: "True" }],
        }),
      100,
    );
    await waitForStep.execute(
      { apiVersion: "v1", kind: "Pod", name: "smoke", for: { condition: { type: "Ready" } }, timeout: "5s" },
      context().ctx,
    );
    setTimeout(() => api.setStatus("/api/v1/namespaces/prod/pods/smoke", { phase: "Succeeded" }), 100);
    await waitForStep.execute(
      {
        apiVersion: "v1",
        kind: "Pod",
        name: "smoke",
        for: { expression: "object.status.phase == 'Succeeded'" },
        timeout: "5s",
      },
      context().ctx,
    );
  });

  it("fails when the rollout exceeded its progress deadline", async () => {
    api.setStatus(deploymentPath, {
      ...rolledOut,
      conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
    });
    const failure = await failureOf(waitForStep, { for: "rollout" }, context().ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("exceeded its progress deadline");
  });

  it("aborts a request in flight when ctx.signal aborts", async () => {
    api.hang.add(deploymentPath);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("runner shutting down")), 200);
    const started = Date.now();
    const failure = await failureOf(waitForStep, { for: "rollout" }, context(controller.signal).ctx);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("runner shutting down");
    expect(peer.requests.filter((r) => r.path === deploymentPath)).toHaveLength(1);
    await vi.waitFor(() => expect(api.hanging).toHaveLength(0), { timeout: 2000 });
  });

  it("computes permissions from the config or the trigger", () => {
    const hook = { watch: { group: "apps", version: "v1", resource: "deployments", namespace: "prod" } };
    expect(waitForStep.permissions!({ for: "rollout" }, hook)).toEqual([
      { group: "apps", resource: "deployments", namespace: "prod", verbs: ["get", "watch"] },
    ]);
    expect(waitForStep.permissions!({ for: "rollout" }, { watch: { ...hook.watch, namespace: "" } })).toEqual([
      { group: "apps", resource: "deployments", verbs: ["get", "watch"] },
    ]);
    expect(
      waitForStep.permissions!(
        {
          apiVersion: "batch/v1",
          kind: "Job",
          name: "x",
          namespace: "{{ object.metadata.namespace }}",
          for: "complete",
        },
        hook,
      ),
    ).toEqual([{ group: "batch", resource: "jobs", verbs: ["get", "watch"] }]);
    expect(waitForStep.check!({ kind: "Job", apiVersion: "batch/v1", for: "complete" })[0]?.path).toEqual(["name"]);
  });
});
