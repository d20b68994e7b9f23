// The controller's parts without an API server: a HookSet resource parsed with problems by field
// path, the objects it applies (the generator's, owned by the HookSet), conditions as
// metav1.Condition, Argo Events readiness, the Forbidden message, the work queue's per-key
// serialisation and backoff, and the RBAC rules. test/e2e/hookset-controller.e2e.test.ts runs it
// against a real kube-apiserver and kube-controller-manager.
import { describe, expect, it, vi } from "vitest";
import { setConditions } from "../../src/controller/conditions.js";
import { desiredObjects, watchPermissions } from "../../src/controller/desired.js";
import { WorkQueue } from "../../src/controller/queue.js";
import { argoReadiness } from "../../src/controller/readiness.js";
import { forbiddenMessage } from "../../src/controller/reconcile.js";
import { controllerRules } from "../../src/generate/controller-rbac.js";
import { buildEventSource, planWatches } from "../../src/generate/eventsource.js";
import { buildSensor } from "../../src/generate/sensor.js";
import { parseHookSet } from "../../src/hookset/load.js";
import { HookSetResourceError, parseHookSetResource } from "../../src/hookset/resource.js";
import { hookSetToken } from "../../src/tenancy/credential.js";
import { buildProgram } from "../../src/cli/program.js";
import { cli } from "../helpers/cli.js";

const hook = (extra: Record<string, unknown> = {}) => ({
  name: "h",
  on: { resource: { version: "v1", resource: "configmaps", namespace: "team-a" } },
  steps: [{ name: "say", log: { message: "changed" } }],
  ...extra,
});
const resource = (spec: Record<string, unknown>) => ({
  apiVersion: "resource-hooks.io/v1alpha1",
  kind: "HookSet",
  metadata: { name: "web", namespace: "team-a", uid: "uid-1", generation: 3, resourceVersion: "9", managedFields: [] },
  spec,
});
const problemsOf = (spec: Record<string, unknown>): string[] => {
  try {
    parseHookSetResource(resource(spec));
  } catch (err) {
    expect(err).toBeInstanceOf(HookSetResourceError);
    return (err as Error).message.split("\n");
  }
  return [];
};
const key = new Uint8Array(32).fill(7);

describe("a HookSet resource", () => {
  it("is the HookSet model, metadata beyond name, namespace and labels ignored", () => {
    const hookSet = parseHookSetResource(resource({ hooks: [hook()], serviceAccountName: "hooks" }));
    expect(hookSet).toMatchObject({ name: "web", namespace: "team-a", serviceAccountName: "hooks" });
    expect(hookSet.hooks.map((h) => h.name)).toEqual(["h"]);
  });

  it("has its problems by field path, in the words validate uses, without file positions", () => {
    const bad = hook({ on: { resource: { version: "v1", resource: "Deployment" } } });
    expect(problemsOf({ hooks: [bad] })).toEqual([
      'spec.hooks[0].on.resource.resource: expected a plural lowercase resource name such as deployments, got string "Deployment"',
    ]);
    expect(
      problemsOf({ hooks: [hook(), hook({ on: { resource: { version: "v1", resource: "pods" }, when: "x.y" } })] }),
    ).toEqual([
      'spec.hooks[1].name: duplicate hook name "h" (also spec.hooks[0])',
      'spec.hooks[1].on.when: unknown variable "x" in "x.y" (available: object, oldObject, event)',
    ]);
  });

  it("leaves the runner to the installation: spec.runner's url, token and image are refused", () => {
    expect(problemsOf({ hooks: [hook()], runner: { url: "http://elsewhere", replicas: 2 } })).toEqual([
      expect.stringMatching(/^spec\.runner\.url: set by the installation/),
      expect.stringMatching(/^spec\.runner\.replicas: set by the installation/),
    ]);
    expect(problemsOf({ hooks: [hook()], runner: { retention: { ttl: "1h" } } })).toEqual([]);
  });
});

describe("what the controller applies", () => {
  const owner = { namespace: "team-a", name: "web", uid: "uid-1" };
  const parsed = parseHookSetResource(resource({ hooks: [hook()] }));
  const desired = desiredObjects(parsed, owner, { runnerUrl: "http://runner.example:8080/", key });

  it("is the generator's EventSource and Sensor for the same HookSet, owned by it", () => {
    const ref = { apiVersion: "resource-hooks.io/v1alpha1", kind: "HookSet", name: "web", uid: "uid-1" };
    for (const o of [desired.secret, desired.eventSource, desired.sensor])
      expect(o.metadata?.ownerReferences).toEqual([{ ...ref, controller: true, blockOwnerDeletion: true }]);
    const { ownerReferences: _es, ...esMeta } = desired.eventSource.metadata!;
    const { ownerReferences: _s, ...sensorMeta } = desired.sensor.metadata!;
    // The static path: hooks.yaml with the same runner, token Secret and ServiceAccount.
    const file = parseHookSet(
      [
        "apiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: web, namespace: team-a}",
        "spec:\n  serviceAccountName: default",
        "  runner: {url: 'http://runner.example:8080', tokenSecret: {name: web-hookset-token, key: token}}",
        `  hooks: ${JSON.stringify([hook()])}`,
      ].join("\n"),
      "hooks.yaml",
    );
    const watches = planWatches(file);
    expect({ ...desired.eventSource, metadata: esMeta }).toEqual(buildEventSource(file, watches));
    expect({ ...desired.sensor, metadata: sensorMeta }).toEqual(buildSensor(file, watches));
  });

  it("runs the EventSource as the namespace's default ServiceAccount unless spec.serviceAccountName names one", () => {
    expect((desired.eventSource.spec as { template: unknown }).template).toEqual({ serviceAccountName: "default" });
    const named = desiredObjects(
      parseHookSetResource(resource({ hooks: [hook()], serviceAccountName: "hooks" })),
      owner,
      {
        runnerUrl: "http://r",
        key,
      },
    );
    expect(named.serviceAccountName).toBe("hooks");
  });

  it("posts to the shared runner's route of this HookSet, with its own token as a bearer token", () => {
    const url = (desired.sensor.spec as { triggers: Array<{ template: { http: { url: string } } }> }).triggers[0]!
      .template.http.url;
    expect(url).toBe("http://runner.example:8080/namespaces/team-a/hooksets/web/watches/configmaps-team-a");
    const data = (desired.secret as { data: Record<string, string> }).data.token!;
    expect(Buffer.from(data, "base64").toString()).toBe(`Bearer ${hookSetToken(key, owner)}`);
    expect(desired.secret.metadata?.name).toBe("web-hookset-token");
  });

  it("asks get, list and watch of each watched resource in its namespace", () => {
    expect(watchPermissions(desired.watches)).toEqual(
      ["get", "list", "watch"].map((verb) => ({ group: "", resource: "configmaps", namespace: "team-a", verb })),
    );
    const denied = [
      { group: "", resource: "configmaps", namespace: "team-b", verb: "watch" as const },
      { group: "apps", resource: "deployments", namespace: "", verb: "list" as const },
      { group: "apps", resource: "deployments", namespace: "", verb: "watch" as const },
    ];
    expect(forbiddenMessage("team-a", { serviceAccountName: "hooks" }, denied)).toBe(
      "serviceaccount team-a/hooks cannot watch configmaps in team-b; cannot list, watch deployments.apps " +
        "in all namespaces: grant it those rights (a Role or ClusterRole bound to it), or name another in " +
        "spec.serviceAccountName",
    );
  });
});

describe("conditions", () => {
  const t0 = new Date("2026-01-01T00:00:00.123Z");
  const t1 = new Date("2026-01-01T00:05:00Z");
  const ready = { type: "Ready", status: "True" as const, reason: "Applied", message: "" };

  it("move lastTransitionTime only when the status changes", () => {
    const first = setConditions([], [ready], 1, t0);
    expect(first).toEqual([{ ...ready, observedGeneration: 1, lastTransitionTime: "2026-01-01T00:00:00Z" }]);
    const same = setConditions(first, [{ ...ready, message: "again" }], 2, t1);
    expect(same[0]).toMatchObject({
      lastTransitionTime: "2026-01-01T00:00:00Z",
      observedGeneration: 2,
      message: "again",
    });
    const changed = setConditions(same, [{ ...ready, status: "False", reason: "Forbidden" }], 3, t1);
    expect(changed[0]!.lastTransitionTime).toBe("2026-01-01T00:05:00Z");
  });

  it("keep conditions of other types", () => {
    const other = { type: "Other", status: "True" as const, reason: "X", message: "", lastTransitionTime: "t" };
    expect(setConditions([other], [ready], 1, t0).map((c) => c.type)).toEqual(["Other", "Ready"]);
  });
});

describe("Argo Events readiness", () => {
  const object = (conditions?: Array<Record<string, string>>) => ({
    kind: "Sensor",
    metadata: { name: "web" },
    ...(conditions ? { status: { conditions } } : {}),
  });

  it("is ready when no status was written, or every condition is True", () => {
    expect(argoReadiness(object())).toEqual({ ready: true });
    expect(argoReadiness(object([{ type: "Deployed", status: "True" }]))).toEqual({ ready: true });
  });

  it("says which condition is False or still Unknown", () => {
    expect(argoReadiness(object([{ type: "Deployed", status: "False", reason: "Failed", message: "no bus" }]))).toEqual(
      {
        ready: false,
        reason: "SensorNotReady",
        message: "Sensor web: Deployed is False (Failed: no bus)",
      },
    );
    expect(argoReadiness(object([{ type: "Deployed", status: "Unknown" }]))).toMatchObject({ ready: false });
  });
});

describe("the work queue", () => {
  it("handles a key once at a time; an add during its handling runs it once more after", async () => {
    let running = 0;
    let most = 0;
    const seen: string[] = [];
    let release: () => void = () => {};
    const queue = new WorkQueue(
      async (key) => {
        running++;
        most = Math.max(most, running);
        seen.push(key);
        if (seen.length === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
      { workers: 4, backoff: { initialMs: 1, maxMs: 10 } },
    );
    queue.add("a/x");
    queue.add("a/x");
    await new Promise((r) => setTimeout(r, 5));
    queue.add("a/x");
    queue.add("a/x");
    release();
    await queue.idle();
    expect(most).toBe(1);
    expect(seen).toEqual(["a/x", "a/x"]);
  });

  it("retries a failing key with exponential backoff, reset by a success", async () => {
    // Fake timers: the delays are checked exactly, whatever the machine's load.
    vi.useFakeTimers();
    try {
      let calls = 0;
      const queue = new WorkQueue(
        async () => {
          calls++;
          if (calls < 4) throw new Error("apiserver unavailable");
        },
        { workers: 1, backoff: { initialMs: 20, maxMs: 50 } },
      );
      expect(queue.backoffMs("k")).toBe(20);
      queue.add("k");
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toBe(1);
      // 20 ms, then 40, then 50 (capped at maxMs): each retry comes exactly when its delay has passed.
      for (const [delay, expected] of [
        [20, 2],
        [40, 3],
        [50, 4],
      ] as const) {
        await vi.advanceTimersByTimeAsync(delay - 1);
        expect(calls).toBe(expected - 1);
        await vi.advanceTimersByTimeAsync(1);
        expect(calls).toBe(expected);
      }
      expect(queue.failuresOf("k")).toBe(0);
      queue.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the controller's RBAC", () => {
  it("never reads tenant Secrets and never grants anything", () => {
    const { cluster, installation } = controllerRules();
    const secrets = cluster.filter((r) => r.resources?.includes("secrets"));
    expect(secrets.flatMap((r) => r.verbs)).toEqual(["create"]);
    const verbs = cluster.flatMap((r) => r.verbs);
    for (const forbidden of ["bind", "escalate", "impersonate", "*"]) expect(verbs).not.toContain(forbidden);
    expect(cluster.some((r) => r.apiGroups?.includes("rbac.authorization.k8s.io"))).toBe(false);
    expect(installation.find((r) => r.resourceNames)?.verbs).toEqual(["get"]);
  });
});

describe("resource-hooks controller (the command)", { timeout: 60_000 }, () => {
  it("elects a leader unless told not to", async () => {
    const seen: unknown[] = [];
    for (const args of [[], ["--leader-election"], ["--no-leader-election"]]) {
      const program = buildProgram();
      program.commands
        .find((c) => c.name() === "controller")!
        .action((o: { leaderElection: unknown }) => void seen.push(o.leaderElection));
      await program.parseAsync(["node", "resource-hooks", "controller", ...args]);
    }
    expect(seen).toEqual([true, true, false]);
  });

  it("reads --namespaces the same as serve: comma-separated and repeatable; all when not given", async () => {
    const seen: unknown[] = [];
    for (const [command, args] of [
      ["controller", ["--namespaces", "team-a, team-b", "--namespaces", "team-c"]],
      ["controller", []],
      ["serve", ["--namespaces", "team-a,team-b"]],
    ] as const) {
      const program = buildProgram();
      program.commands
        .find((c) => c.name() === command)!
        .action((o: { namespaces: unknown }) => void seen.push(o.namespaces));
      await program.parseAsync(["node", "resource-hooks", command, ...args]);
    }
    expect(seen).toEqual([["team-a", "team-b", "team-c"], [], ["team-a", "team-b"]]);
  });

  it("refuses to start without what it needs, with exit 2 and the option named", () => {
    const env = { RESOURCE_HOOKS_RUNNER_URL: undefined, POD_NAMESPACE: undefined };
    const noUrl = cli(["controller", "--namespace", "rh"], { env });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stdout).toContain("--runner-url is required");
    const badUrl = cli(["controller", "--runner-url", "runner:8080", "--namespace", "rh"], { env });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stdout).toContain("--runner-url runner:8080: expected an http:// or https:// URL");
    const noNamespace = cli(["controller", "--runner-url", "http://runner"], { env });
    expect(noNamespace.code).toBe(2);
    expect(noNamespace.stdout).toContain("--namespace (or $POD_NAMESPACE) is required");
  });
});
