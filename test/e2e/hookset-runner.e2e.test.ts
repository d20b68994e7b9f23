// One runner serving HookSet resources (`serve --hooksets-from-cluster`, wired by
// src/cli/serve-cluster.ts) on a real kube-apiserver, as its own ServiceAccount with only what it
// needs (list/watch HookSets, its HookRuns and HookMemories, its key Secret, and `impersonate` on
// serviceaccounts). Two HookSets named alike in two namespaces, each with its own token; an edit
// while a run is in flight; a kubernetes step its ServiceAccount may not do (Forbidden), then
// may; a secretKeyRef read as the ServiceAccount. The events are POSTed as a Sensor would.
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClusterRunner } from "../../src/cli/serve-cluster.js";
import { hookSetCrd } from "../../src/generate/hookset-crd.js";
import { hookMemoryCrd } from "../../src/generate/hookmemory-crd.js";
import { hookRunCrd } from "../../src/generate/hookrun-crd.js";
import {
  LABEL_HOOK,
  LABEL_HOOKSET_GENERATION,
  LABEL_HOOKSET_NAMESPACE,
  LABEL_MARKER,
} from "../../src/model/constants.js";
import { watchPath } from "../../src/model/names.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { servedDefinition, type HookSetResource } from "../../src/runner/tenants/resource.js";
import { CREDENTIAL_KEY_SECRET, hookSetToken } from "../../src/tenancy/credential.js";
import { resourceEventRequest, sendEvent } from "../../src/testing/index.js";
import { watchesOf } from "../../src/trigger/index.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { useStack } from "./harness.js";
import { figure, until } from "./hooks-env.js";

const SYSTEM = "rh-system";
const TEAMS = ["team-a", "team-b"] as const;
const SA = "hooks";
const stack = useStack();
let peer: RecordingServer;
let runner: Awaited<ReturnType<typeof startClusterRunner>>;
let key: Buffer;
const uids = new Map<string, string>();

function hookSet(namespace: string, second: string) {
  return {
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "hooks", namespace },
    spec: {
      serviceAccountName: SA,
      hooks: [
        {
          name: "notify",
          on: { resource: { version: "v1", resource: "configmaps", namespace: "app" }, events: ["update"] },
          steps: [
            { name: "slow", http: { url: `${peer.url}/slow/${namespace}` } },
            {
              name: "call",
              http: {
                url: `${peer.url}/${second}/${namespace}`,
                headers: { "X-Token": { secretKeyRef: { name: "api-token", key: "token" } } },
              },
            },
          ],
        },
        {
          name: "write",
          on: { resource: { version: "v1", resource: "configmaps", namespace: "app2" }, events: ["update"] },
          steps: [
            {
              name: "create",
              retries: 0,
              kubernetes: {
                action: "create",
                manifest: {
                  apiVersion: "v1",
                  kind: "ConfigMap",
                  metadata: { name: "effect-{{ object.metadata.resourceVersion }}", namespace },
                  data: { from: "{{ object.metadata.name }}" },
                },
              },
            },
          ],
        },
      ],
    },
  };
}

/** The route of the watch of `hook` of the HookSet as served. */
function route(namespace: string, hook: string, name = "hooks"): string {
  const definition = servedDefinition({
    ...(hookSet(namespace, "old") as HookSetResource),
    metadata: { namespace, name, uid: "x" },
  })!;
  if (!("hookSet" in definition.parsed)) throw new Error(definition.parsed.problem);
  for (const [watch, plan] of watchesOf(definition.parsed.hookSet))
    if (plan.hooks.some((h) => h.name === hook)) return watchPath({ namespace, name }, watch);
  throw new Error(`no hook ${hook}`);
}

const tokenOf = (namespace: string, name = "hooks") =>
  hookSetToken(key, { namespace, name, uid: uids.get(`${namespace}/${name}`)! });

let rv = 1000;
/** An update of a ConfigMap in `namespace` (app: notify's watch, app2: write's). */
function update(namespace: "app" | "app2", token: string) {
  rv++;
  const object = (version: number) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace, uid: `cm-${namespace}`, resourceVersion: String(version) },
    data: { value: String(version) },
  });
  return resourceEventRequest(
    { object: object(rv), oldObject: object(rv - 1), group: "", version: "v1", resource: "configmaps" },
    token,
  );
}

async function runsIn(namespace: string, hook: string): Promise<HookRun[]> {
  const list = await stack().admin.get<{ items: HookRun[] }>(
    `/apis/resource-hooks.io/v1alpha1/namespaces/${namespace}/hookruns?labelSelector=${encodeURIComponent(`${LABEL_HOOK}=${hook}`)}`,
  );
  return list.items
    .filter((r) => !r.metadata.labels[LABEL_MARKER])
    .sort((a, b) => a.spec.acceptedAt.localeCompare(b.spec.acceptedAt));
}

const ended = (run: HookRun | undefined) =>
  run && ["Succeeded", "Failed"].includes(run.status?.phase) ? run : undefined;

async function settled(namespace: string, hook: string, count: number): Promise<HookRun[]> {
  return await until(
    `${count} finished ${hook} runs in ${namespace}`,
    async () => {
      const runs = await runsIn(namespace, hook);
      return runs.length >= count && runs.every((r) => ended(r)) ? runs : undefined;
    },
    60_000,
  );
}

const roleFor = (namespace: string, name: string, rules: object[]) => [
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace }, rules },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: [{ kind: "ServiceAccount", name: SA, namespace }],
  },
];

beforeAll(async () => {
  peer = await startRecordingServer();
  await stack().apply([
    ...[SYSTEM, ...TEAMS, "bulk"].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
    hookRunCrd(),
    hookMemoryCrd(),
    hookSetCrd(),
  ]);
  await until("the CRDs established", async () => {
    const r = await stack().admin.request("GET", "/apis/resource-hooks.io/v1alpha1/hooksets");
    return r.status === 200 ? true : undefined;
  });
  // The runner's own identity: only what it needs (docs/runner.md).
  await stack().apply([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "runner", namespace: SYSTEM } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "rh-runner" },
      rules: [
        { apiGroups: ["resource-hooks.io"], resources: ["hooksets"], verbs: ["get", "list", "watch"] },
        {
          apiGroups: ["resource-hooks.io"],
          resources: ["hookruns", "hookruns/status", "hookmemories"],
          verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
        { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "rh-runner" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "rh-runner" },
      subjects: [{ kind: "ServiceAccount", name: "runner", namespace: SYSTEM }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "rh-runner-key", namespace: SYSTEM },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "create"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "rh-runner-key", namespace: SYSTEM },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "rh-runner-key" },
      subjects: [{ kind: "ServiceAccount", name: "runner", namespace: SYSTEM }],
    },
  ]);
  // Each team: its ServiceAccount may read its api-token Secret, nothing else (yet).
  for (const team of TEAMS)
    await stack().apply([
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SA, namespace: team } },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "api-token", namespace: team },
        data: {
          token: Buffer.from(`secret-of-${team}`).toString("base64"),
        },
      },
      ...roleFor(team, "read-api-token", [
        { apiGroups: [""], resources: ["secrets"], resourceNames: ["api-token"], verbs: ["get"] },
      ]),
      hookSet(team, "old"),
    ]);
  const config = new KubeConfig();
  config.loadFromFile(await stack().kubeconfigForServiceAccount(SYSTEM, "runner"));
  const t = performance.now();
  runner = await startClusterRunner(
    { config, source: "test", server: stack().apiServerUrl },
    {
      port: 0,
      host: "127.0.0.1",
      namespace: SYSTEM,
      namespaces: [],
      maxConcurrentRuns: 8,
      maxPendingRequests: 64,
      kubeEvents: true,
      holder: "e2e/1",
      instance: "e2e",
      endpoints: {},
    },
    pino({ level: process.env.E2E_VERBOSE ? "info" : "warn" }),
  );
  figure("runner start with 2 HookSets (ms)", performance.now() - t);
  const secret = await stack().admin.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${SYSTEM}/secrets/${CREDENTIAL_KEY_SECRET.name}`,
  );
  key = Buffer.from(secret.data[CREDENTIAL_KEY_SECRET.key]!, "base64");
  for (const team of TEAMS) {
    const hs = await stack().admin.get<{ metadata: { uid: string } }>(
      `/apis/resource-hooks.io/v1alpha1/namespaces/${team}/hooksets/hooks`,
    );
    uids.set(`${team}/hooks`, hs.metadata.uid);
  }
}, 180_000);

afterAll(async () => {
  await runner?.stop(2000);
  await peer?.close();
});

/** `count` events to team-b's notify, one after the other: each request's time to its answer, sorted. */
async function acceptLatencies(count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const answer = await sendEvent(runner.running.url, route("team-b", "notify"), update("app", tokenOf("team-b")));
    latencies.push(performance.now() - started);
    expect(answer.status).toBe(202);
  }
  return latencies.sort((a, b) => a - b);
}

describe("one runner serving HookSet resources", () => {
  it("keeps two HookSets of one name in two namespaces apart, each started only by its own token", async () => {
    const url = runner.running.url;
    for (const team of TEAMS) {
      const answer = await sendEvent(url, route(team, "notify"), update("app", tokenOf(team)));
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    }
    const crossed = await sendEvent(url, route("team-b", "notify"), update("app", tokenOf("team-a")));
    expect(crossed.status).toBe(401);
    for (const team of TEAMS) {
      const [run] = await settled(team, "notify", 1);
      expect(run!.status.phase, JSON.stringify(run!.status)).toBe("Succeeded");
      expect(run!.metadata.namespace).toBe(team);
      expect(run!.metadata.labels).toMatchObject({ [LABEL_HOOKSET_NAMESPACE]: team, [LABEL_HOOKSET_GENERATION]: "1" });
    }
    // The secretKeyRef was read from each team's own Secret, as its ServiceAccount.
    const calls = peer.requests.filter((r) => r.path.startsWith("/old/"));
    expect(calls.map((r) => [r.path, r.headers["x-token"]]).sort()).toEqual([
      ["/old/team-a", "secret-of-team-a"],
      ["/old/team-b", "secret-of-team-b"],
    ]);
  }, 90_000);

  it("finishes a run in flight during an edit with the old steps, and runs the next event with the new", async () => {
    const url = runner.running.url;
    peer.requests.length = 0;
    peer.respondWith((req) => (req.path.startsWith("/slow/") ? { status: 200, delayMs: 2500 } : { status: 200 }));
    expect((await sendEvent(url, route("team-a", "notify"), update("app", tokenOf("team-a")))).status).toBe(202);
    await peer.waitFor(1, 20_000);
    const t = performance.now();
    await stack().apply([hookSet("team-a", "new")]);
    await until("generation 2 served", () =>
      runner.registry.tenant("team-a", "hooks").generation === 2 ? true : undefined,
    );
    figure("HookSet edit applied until served (ms)", performance.now() - t);
    expect((await sendEvent(url, route("team-a", "notify"), update("app", tokenOf("team-a")))).status).toBe(202);
    const runs = (await settled("team-a", "notify", 3)).slice(-2);
    expect(runs.map((r) => r.status.phase)).toEqual(["Succeeded", "Succeeded"]);
    expect(runs.map((r) => r.metadata.labels[LABEL_HOOKSET_GENERATION])).toEqual(["1", "2"]);
    const paths = peer.requests.map((r) => r.path).filter((p) => !p.startsWith("/slow/"));
    expect(paths).toEqual(["/old/team-a", "/new/team-a"]);
    peer.respondWith({ status: 200 });
  }, 90_000);

  it("fails a kubernetes step the ServiceAccount may not do with Forbidden, and does it once granted", async () => {
    const url = runner.running.url;
    const send = () => sendEvent(url, route("team-a", "write"), update("app2", tokenOf("team-a")));
    expect((await send()).status).toBe(202);
    const [denied] = await settled("team-a", "write", 1);
    expect(denied!.status.phase).toBe("Failed");
    const error = denied!.status.steps.find((s) => s.name === "create")?.error ?? "";
    console.log(`[e2e] the step error of a denied kubernetes step: ${error}`);
    expect(error).toMatch(/forbidden/i);
    expect(error).toContain(`system:serviceaccount:team-a:${SA}`);
    await stack().apply(
      roleFor("team-a", "write-configmaps", [{ apiGroups: [""], resources: ["configmaps"], verbs: ["create", "get"] }]),
    );
    expect((await send()).status).toBe(202);
    const [, allowed] = await settled("team-a", "write", 2);
    expect(allowed!.status.phase, JSON.stringify(allowed!.status)).toBe("Succeeded");
    const effect = await stack().admin.request("GET", `/api/v1/namespaces/team-a/configmaps/effect-${rv}`);
    expect(effect.status).toBe(200);
  }, 90_000);

  it("serves 100 more HookSets: figures of memory and of request-to-accepted latency", async () => {
    const few = await acceptLatencies(30);
    figure("request to accepted, 2 HookSets served, p50 (ms)", few[15]!);
    figure("request to accepted, 2 HookSets served, p95 (ms)", few[28]!);
    const before = process.memoryUsage().rss;
    const t = performance.now();
    const bulk = Array.from({ length: 100 }, (_, i) => ({
      ...hookSet("bulk", "old"),
      metadata: { name: `hs-${i}`, namespace: "bulk" },
    }));
    await stack().apply(bulk);
    await until(
      "102 HookSets served",
      () => (runner.registry.tenants().length >= 102 ? true : undefined),
      120_000,
      200,
    );
    figure("100 HookSets applied until all served (ms)", performance.now() - t);
    figure("RSS growth with 100 more HookSets (MiB)", (process.memoryUsage().rss - before) / 2 ** 20);
    figure("RSS with 102 HookSets (MiB)", process.memoryUsage().rss / 2 ** 20);
    const latencies = await acceptLatencies(30);
    figure("request to accepted, 102 HookSets served, p50 (ms)", latencies[15]!);
    figure("request to accepted, 102 HookSets served, p95 (ms)", latencies[28]!);
    // Deleted: its events are refused at once, with the reason.
    await stack().delete([{ ...hookSet("bulk", "old"), metadata: { name: "hs-0", namespace: "bulk" } }]);
    const gone = await until("hs-0 no longer served", async () => {
      const answer = await sendEvent(runner.running.url, route("bulk", "notify", "hs-0"), update("app", "x"));
      return answer.status === 404 ? answer : undefined;
    });
    expect(JSON.stringify(gone.body)).toMatch(/bulk\/hs-0.*not served/);
  }, 240_000);
});
