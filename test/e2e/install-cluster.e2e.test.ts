// The whole platform path, as a cluster admin and then a team would take it, with README's own
// commands: `helm install` of charts/resource-hooks by the real helm; its controller Deployment
// run twice by the kubelet stand-in with the installation's ServiceAccount token; then, as a
// tenant with rights in its own namespace only, README's `kubectl apply` of examples/hookset.yaml,
// and a HookSet beside the ConfigMap it follows. The EventSource and Sensor the controller writes
// are run as the Argo Events controller would run them (the EventSource as the HookSet's
// ServiceAccount; the Sensor's Service URL pointed at one replica's port, as kube-proxy would
// route it). Proven: READY True, a change takes effect once, a step edit takes effect without a
// restart, the tenant reads its runs with kubectl, SIGKILL of the leader hands reconciling to the
// other replica, and deleting the HookSet removes what it owned through the real garbage collector.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { startClusterControllers, type ClusterControllers } from "./components/cluster-controllers.js";
import { runDeploymentPod, type PodProcess } from "./components/kubelet.js";
import { useStack } from "./harness.js";
import {
  condition,
  eventBus,
  hookSetYaml,
  PATHS,
  watchConfigMaps,
  type HookSetObject,
} from "./hookset-controller-env.js";
import { figure, until } from "./hooks-env.js";
import { pollUntil, type KubeObject } from "./stack.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const INSTALL = "resource-hooks-system";
const TEAM = "team-a";
const SERVICE_URL = `http://resource-hooks.${INSTALL}.svc:8080`;
const stack = useStack();
const home = mkdtempSync(path.join(tmpdir(), "rh-install-cluster-"));
let cc: ClusterControllers;
let sink: RecordingServer;
let tenantKubeconfig: string;
const pods: PodProcess[] = [];

function run(binary: string, args: string[], kubeconfig: string, input?: string) {
  const file = path.join(home, "input.yaml");
  if (input !== undefined) writeFileSync(file, input);
  const r = spawnSync(binary, input === undefined ? args : [...args, "-f", file], {
    encoding: "utf8",
    env: { KUBECONFIG: kubeconfig, PATH: "/usr/bin:/bin", HOME: home },
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
/** The ```sh blocks of a README section, in order. */
function readmeBlocks(heading: string): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** A README block with bash from the repository's root, helm and kubectl on PATH. */
function runBlock(script: string, kubeconfig: string) {
  const bin = path.join(home, "bin");
  mkdirSync(bin, { recursive: true });
  for (const tool of ["helm", "kubectl"] as const)
    if (!existsSync(path.join(bin, tool))) symlinkSync(stack().binaries[tool], path.join(bin, tool));
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, KUBECONFIG: kubeconfig },
    timeout: 180_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tenant = (args: string[], input?: string) => run(stack().binaries.kubectl, args, tenantKubeconfig, input);

function hookSet(path_: string): string {
  return hookSetYaml(
    "config-hooks",
    {
      serviceAccountName: "hooks",
      hooks: [
        {
          name: "notify",
          on: {
            resource: { version: "v1", resource: "configmaps", namespace: TEAM, name: "app" },
            changed: ["data.v"],
          },
          steps: [{ name: "call", http: { url: `${sink.url}/${path_}/{{ object.data.v }}` } }],
        },
      ],
    },
    TEAM,
  );
}

async function hookSetReady(name: string, timeoutMs = 60_000): Promise<HookSetObject> {
  return await pollUntil(`${TEAM}/${name} Ready`, timeoutMs, async () => {
    const r = await stack().admin.request("GET", PATHS.hookSet(TEAM, name));
    const o = r.status === 200 ? (r.json as HookSetObject) : undefined;
    const ready = condition(o, "Ready");
    return ready?.status === "True" && o?.status?.observedGeneration === o?.metadata?.generation ? o : undefined;
  });
}

const setApp = (v: string) =>
  stack().apply([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app", namespace: TEAM }, data: { v } }]);

beforeAll(async () => {
  cc = await startClusterControllers(stack());
  sink = await startRecordingServer();
  const tenantRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "hooks-author", namespace: TEAM },
    rules: [
      { apiGroups: ["resource-hooks.io"], resources: ["hooksets"], verbs: ["get", "list", "watch", "create", "patch"] },
      { apiGroups: ["resource-hooks.io"], resources: ["hookruns"], verbs: ["get", "list", "watch"] },
      // kubectl apply reads the object first, and deletes what the tenant removes.
      { apiGroups: ["resource-hooks.io"], resources: ["hooksets"], verbs: ["update", "delete"] },
    ],
  };
  await stack().apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: TEAM } },
    eventBus(TEAM),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "hooks", namespace: TEAM } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "deployer", namespace: TEAM } },
    ...watchConfigMaps(TEAM, "hooks"),
    // README's HookSet watches the team's Deployments as this ServiceAccount.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "watch-deployments", namespace: TEAM },
      rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "hooks-watch-deployments", namespace: TEAM },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "watch-deployments" },
      subjects: [{ kind: "ServiceAccount", name: "hooks", namespace: TEAM }],
    },
    tenantRole,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "deployer-hooks-author", namespace: TEAM },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "hooks-author" },
      subjects: [{ kind: "ServiceAccount", name: "deployer", namespace: TEAM }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app", namespace: TEAM }, data: { v: "1" } },
  ]);
  tenantKubeconfig = await stack().kubeconfigForServiceAccount(TEAM, "deployer");
}, 180_000);

afterAll(async () => {
  await Promise.all(pods.map((p) => p.stop(5_000)));
  await cc?.stop();
  await sink?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("installed with helm, used by a team with kubectl", () => {
  it("installs with README's helm command; two controller replicas start from the Deployment, one leads", async () => {
    const t = performance.now();
    const [install] = readmeBlocks("Install");
    expect(install).toMatch(/^helm install resource-hooks charts\/resource-hooks/);
    const installed = runBlock(install!, stack().adminKubeconfig);
    expect(installed, installed.stdout + installed.stderr).toMatchObject({ status: 0 });
    await stack().crdsEstablished(["hooksets.resource-hooks.io"], 60_000);
    const deployment = await stack().admin.get<KubeObject>(
      `/apis/apps/v1/namespaces/${INSTALL}/deployments/resource-hooks`,
    );
    for (const podName of ["resource-hooks-5d8c-aaaaa", "resource-hooks-5d8c-bbbbb"])
      pods.push(await runDeploymentPod(stack(), deployment, { podName, reachablePorts: [sink.port] }));
    figure("helm install -> both replicas ready (ms)", performance.now() - t);
    expect(pods[0]!.args).toEqual(expect.arrayContaining(["controller", "--runner-url", SERVICE_URL]));
    await pollUntil("one replica leads", 60_000, async () =>
      pods.some((p) => /leading: reconciling HookSets/.test(p.logs())) ? true : undefined,
    );
  }, 300_000);

  it("README's HookSet, applied by the tenant with README's commands, is READY True", async () => {
    const [commands] = readmeBlocks("On a cluster");
    const t = performance.now();
    const r = runBlock(commands!, tenantKubeconfig);
    expect(r, r.stdout + r.stderr).toMatchObject({ status: 0 });
    expect(r.stdout).toMatch(/hookset.resource-hooks.io\/web (created|configured)/);
    await hookSetReady("web");
    figure("README's kubectl apply -> READY True (ms)", performance.now() - t);
  }, 120_000);

  it("a tenant's kubectl apply of a HookSet: READY True, then a change of the ConfigMap takes effect once", async () => {
    const t = performance.now();
    const applied = tenant(["apply"], hookSet("v1"));
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    await hookSetReady("config-hooks");
    figure("tenant kubectl apply -> READY True (ms)", performance.now() - t);
    const table = tenant(["get", "hooksets", "-n", TEAM]).stdout;
    expect(table).toMatch(/^config-hooks\s+True\s+1\s+1\s+/m);
    // Argo Events' part: run what the controller wrote.
    const es = await stack().admin.get<KubeObject>(PATHS.eventSource(TEAM, "config-hooks"));
    const sensor = await stack().admin.get<KubeObject>(PATHS.sensor(TEAM, "config-hooks"));
    expect(JSON.stringify(sensor.spec)).toContain(`${SERVICE_URL}/namespaces/${TEAM}/hooksets/config-hooks/watches/`);
    const routed = JSON.parse(
      JSON.stringify(sensor).replaceAll(SERVICE_URL, `http://127.0.0.1:${pods[0]!.hostPort(8080)}`),
    ) as KubeObject;
    await stack().startSensor(routed);
    await stack().startEventSource(es, { serviceAccount: { namespace: TEAM, name: "hooks" } });
    // The replay's baseline is in the hook's memory before the change (else the change is the first state seen).
    await until(
      "the baseline of app in the hook's memory",
      async () => {
        const list = await stack().admin.get<{ items: Array<{ entries?: Record<string, unknown> }> }>(
          `/apis/resource-hooks.io/v1alpha1/namespaces/${TEAM}/hookmemories`,
        );
        return list.items.some((s) => Object.keys(s.entries ?? {}).length > 0) ? true : undefined;
      },
      60_000,
      200,
    );
    const t2 = performance.now();
    await setApp("2");
    await sink.waitFor(1, 60_000);
    figure("tenant apply -> first effect (ms)", performance.now() - t);
    figure("ConfigMap change -> effect through the installed runner (ms)", performance.now() - t2);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(sink.requests.map((r) => r.path)).toEqual(["/v1/2"]);
    const runs = await until(
      "the tenant sees its HookRun",
      async () => {
        const r = tenant(["get", "hookruns", "-n", TEAM, "-o", "json"]);
        const items = (JSON.parse(r.stdout || "{}") as { items?: KubeObject[] }).items ?? [];
        const real = items.filter((i) => !i.metadata?.labels?.["resource-hooks.io/marker"]);
        return real.length > 0 ? real : undefined;
      },
      30_000,
      200,
    );
    expect(runs).toHaveLength(1);
  }, 300_000);

  it("an edit of the HookSet's step takes effect for the next change, with no restart", async () => {
    const t = performance.now();
    expect(tenant(["apply"], hookSet("v2"))).toMatchObject({ status: 0 });
    await hookSetReady("config-hooks");
    await until(
      "the new step served",
      async () => {
        const before = sink.requests.length;
        await setApp(`edit-${Date.now()}`);
        await sink.waitFor(before + 1, 30_000);
        return sink.requests.at(-1)!.path.startsWith("/v2/") ? true : undefined;
      },
      60_000,
      500,
    );
    figure("HookSet edit -> new behaviour (ms)", performance.now() - t);
    for (const p of pods) expect(p.isRunning()).toBe(true);
  }, 120_000);

  it("SIGKILL of the leader: the other replica reconciles a new HookSet within the lease", async () => {
    const leader = pods.find((p) => /leading: reconciling HookSets/.test(p.logs()))!;
    const other = pods.find((p) => p !== leader)!;
    const t = performance.now();
    await leader.kill();
    const applied = tenant(["apply"], hookSet("v3").replace(/name: config-hooks$/m, "name: web-two"));
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    await other.waitForLog(/leading: reconciling HookSets/, 60_000);
    await hookSetReady("web-two", 60_000);
    figure("leader SIGKILL -> new HookSet READY True via the other replica (ms)", performance.now() - t);
  }, 120_000);

  it("deleting the HookSet removes its EventSource, Sensor and token Secret (garbage collector)", async () => {
    const t = performance.now();
    expect(tenant(["delete", "hookset", "web-two", "-n", TEAM])).toMatchObject({ status: 0 });
    await pollUntil("web-two's objects gone", 120_000, async () => {
      const left = await Promise.all(
        [
          PATHS.eventSource(TEAM, "web-two"),
          PATHS.sensor(TEAM, "web-two"),
          PATHS.secret(TEAM, "web-two-hookset-token"),
        ].map(async (p) => (await stack().admin.request("GET", p)).status),
      );
      return left.every((s) => s === 404) ? true : undefined;
    });
    figure("HookSet deleted -> its objects gone (ms)", performance.now() - t);
  }, 150_000);
});
