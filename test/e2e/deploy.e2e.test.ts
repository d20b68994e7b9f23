// Deploying exactly as the README says: the command blocks of README's "Deploying" section run
// as written (bash, with `resource-hooks`, `kubectl` and `kustomize` on PATH and the admin
// kubeconfig) against the stack's kube-apiserver. Then: every object of the kustomization exists;
// the runner starts from the applied Deployment's arguments and environment (components/
// kubelet.ts: as the kubelet would run it, with its ServiceAccount's token); the applied
// EventSource and Sensor run; a change fires both hooks. A second HookSet deploys beside it in
// the same namespace; removing two hooks and running README's update block prunes what only they
// needed (their ClusterRoles) and narrows the Role that stays.
//
// What cannot run here and stands in for it: cluster DNS and the Service's ClusterIP (the
// Sensor's trigger URL http://demo-runner.argo-events.svc:8080 is pointed at the runner's
// 127.0.0.1 port, as kube-proxy would route it); a container runtime (components/kubelet.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

import { runDeploymentPod, type PodProcess } from "./components/kubelet.js";
import { useStack } from "./harness.js";
import { figure, until, waitForCrd } from "./hooks-env.js";
import { startHttpSink, type HttpSink, type KubeObject } from "./stack.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = "argo-events";

const stack = useStack();
let sink: HttpSink;
let work: string;
let bin: string;

/** The ```sh blocks of README's "## Deploying" section, in order. */
function readmeDeployBlocks(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Deploying\n");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Runs a README block with bash in `cwd`; fails the test with its output when it fails. */
function runBlock(script: string, cwd: string): string {
  // stdin /dev/null: bash reads /etc/bash.bashrc when its stdin is a socket (what a pipe from Node is)
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd,
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: work, KUBECONFIG: stack().adminKubeconfig },
  });
  if (r.status !== 0)
    throw new Error(
      `README block failed (exit ${String(r.status)}):\n${script}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
    );
  return r.stdout + r.stderr;
}

function kubectl(...args: string[]): string {
  return execFileSync(path.join(bin, "kubectl"), args, {
    encoding: "utf8",
    env: { KUBECONFIG: stack().adminKubeconfig, PATH: "/usr/bin:/bin", HOME: work },
  });
}

/**
 * A HookSet whose runner URL is the default (its generated Service). With `full`, two more hooks:
 * one whose step creates a Job in "web" (the runner's Role there grants jobs), one on every
 * ConfigMap of the cluster (ClusterRoles for the event source and the runner's Events).
 */
function hooksYaml(name: string, full: boolean): string {
  const more = `
    - name: reload-job
      on:
        resource: {version: v1, resource: configmaps, namespace: web, name: app-config}
        changed: ["data.mode"]
      steps:
        - name: job
          kubernetes:
            action: create
            manifest:
              apiVersion: batch/v1
              kind: Job
              metadata: {generateName: reload-, namespace: web}
              spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
    - name: audit-new-configmaps
      on:
        resource: {version: v1, resource: configmaps}
        events: [add]
      steps:
        - name: say
          log: {message: "new ConfigMap {{ object.metadata.namespace }}/{{ object.metadata.name }}"}`;
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  hooks:
    - name: notify
      on:
        resource: {version: v1, resource: configmaps, namespace: web, name: app-config}
        changed: ["data.mode"]
      steps:
        - name: call
          http: {url: "${sink.url}/${name}/{{ object.data.mode }}"}${full ? more : ""}
`;
}

beforeAll(async () => {
  sink = await startHttpSink();
  work = path.join(stack().dir, "deploy-e2e");
  bin = path.join(work, "bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(stack().binaries.kubectl, path.join(bin, "kubectl"));
  symlinkSync(stack().binaries.kustomize, path.join(bin, "kustomize"));
  // The installed CLI (`npm ci` builds dist/), as `npm install -g resource-hooks` would put it on PATH.
  writeFileSync(
    path.join(bin, "resource-hooks"),
    `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, "dist/cli/main.js")}" "$@"\n`,
    { mode: 0o755 },
  );
  for (const ns of [NS, "web"]) await stack().apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }]);
  await stack().apply([
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config", namespace: "web" }, data: { mode: "blue" } },
  ]);
});

describe("deploying with the README's commands", () => {
  let runner: PodProcess;

  it("installs a HookSet with README's commands; the runner starts from the applied Deployment; a change fires its hooks", async () => {
    const [install, update] = readmeDeployBlocks();
    expect(install).toContain("kubectl apply -k deploy/");
    expect(update).toContain("--prune");
    const demo = path.join(work, "demo");
    mkdirSync(demo, { recursive: true });
    writeFileSync(path.join(demo, "hooks.yaml"), hooksYaml("demo", true));
    const t0 = performance.now();
    const out = runBlock(install!, demo);
    figure("README install block (ms)", performance.now() - t0);
    expect(out).toMatch(/deployment.apps\/demo-runner (created|configured)/);

    // Every object of the kustomization exists in the cluster.
    const identity = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
    const built = parseAllDocuments(kubectl("kustomize", path.join(demo, "deploy"))).map((d) => d.toJS() as KubeObject);
    const listed = JSON.parse(kubectl("get", "-k", path.join(demo, "deploy"), "-o", "json")) as { items: KubeObject[] };
    expect(listed.items.map(identity).sort()).toEqual(built.map(identity).sort());
    expect(listed.items.length).toBeGreaterThanOrEqual(15);
    await waitForCrd(stack(), "hookruns.resource-hooks.io");
    await waitForCrd(stack(), "hookmemories.resource-hooks.io");

    // The runner, as the kubelet would start the applied Deployment's pod.
    const deployment = await stack().admin.get<KubeObject>(`/apis/apps/v1/namespaces/${NS}/deployments/demo-runner`);
    const t1 = performance.now();
    runner = await runDeploymentPod(stack(), deployment, {
      podName: "demo-runner-7d9f-abcde",
      reachablePorts: [sink.port],
    });
    figure("runner pod ready (ms)", performance.now() - t1);
    expect(runner.args).toContain("serve");

    // The applied EventSource and Sensor, read back from the cluster. The Sensor reaches the
    // runner's Service at the runner's port (what DNS + kube-proxy would do).
    const eventSource = await stack().admin.get<KubeObject>(
      `/apis/argoproj.io/v1alpha1/namespaces/${NS}/eventsources/demo`,
    );
    const sensorApplied = await stack().admin.get<KubeObject>(
      `/apis/argoproj.io/v1alpha1/namespaces/${NS}/sensors/demo`,
    );
    const serviceUrl = `http://demo-runner.${NS}.svc:8080`;
    expect(JSON.stringify(sensorApplied.spec)).toContain(serviceUrl);
    const sensor = JSON.parse(
      JSON.stringify(sensorApplied).replaceAll(serviceUrl, `http://127.0.0.1:${runner.hostPort(8080)}`),
    ) as KubeObject;
    const esAccount = (eventSource.spec as { template: { serviceAccountName: string } }).template.serviceAccountName;
    await stack().startSensor(sensor);
    await stack().startEventSource(eventSource, { serviceAccount: { namespace: NS, name: esAccount } });
    await until(
      "the baselines in the hooks' memory",
      async () => {
        const shards = await stack().admin.get<{ items: Array<{ entries?: Record<string, Record<string, string>> }> }>(
          `/apis/resource-hooks.io/v1alpha1/namespaces/${NS}/hookmemories`,
        );
        const hooks = new Set(shards.items.flatMap((s) => Object.values(s.entries ?? {}).flatMap(Object.keys)));
        return hooks.has("notify") && hooks.has("reload-job") ? true : undefined;
      },
      60_000,
      200,
    );

    const t2 = performance.now();
    await stack().apply([
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "app-config", namespace: "web" },
        data: { mode: "green" },
      },
    ]);
    await sink.waitFor(1, 60_000);
    figure("write -> hook effect through the deployed objects (ms)", performance.now() - t2);
    expect(sink.requests.map((r) => r.path)).toEqual(["/demo/green"]);
    const jobs = await until(
      "the Job the other hook creates",
      async () => {
        const list = await stack().admin.get<{ items: KubeObject[] }>("/apis/batch/v1/namespaces/web/jobs");
        return list.items.length > 0 ? list.items : undefined;
      },
      60_000,
      200,
    );
    expect(jobs.map((j) => j.metadata?.name)).toEqual([expect.stringMatching(/^reload-/)]);
  }, 300_000);

  it("deploys a second HookSet beside it in the same namespace", async () => {
    const [install] = readmeDeployBlocks();
    const other = path.join(work, "other");
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, "hooks.yaml"), hooksYaml("other", false));
    // The token Secret is created once per namespace; it exists already.
    const lines = install!.replace(/\\\n/g, "").split("\n");
    const withoutSecret = lines.filter((l) => !/kubectl .*create secret/.test(l));
    expect(lines.length - withoutSecret.length).toBe(1);
    const before = await stack().admin.get<KubeObject>(`/apis/apps/v1/namespaces/${NS}/deployments/demo-runner`);
    runBlock(withoutSecret.join("\n"), other);
    const names = (kind: string) =>
      JSON.parse(kubectl("get", kind, "-n", NS, "-l", "app.kubernetes.io/managed-by=resource-hooks", "-o", "json"))
        .items.map((o: KubeObject) => o.metadata?.name)
        .sort();
    expect(names("deployments")).toEqual(["demo-runner", "other-runner"]);
    expect(names("services")).toEqual(["demo-runner", "other-runner"]);
    expect(names("configmaps")).toEqual(["demo-hooks", "other-hooks"]);
    expect(names("sensors")).toEqual(["demo", "other"]);
    const after = await stack().admin.get<KubeObject>(`/apis/apps/v1/namespaces/${NS}/deployments/demo-runner`);
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
  }, 180_000);

  it("removing hooks and running README's update block prunes what only they needed", async () => {
    const [, update] = readmeDeployBlocks();
    const demo = path.join(work, "demo");
    const clusterRoles = () =>
      JSON.parse(
        kubectl("get", "clusterroles,clusterrolebindings", "-l", "resource-hooks.io/hookset=demo", "-o", "json"),
      )
        .items.map((o: KubeObject) => `${o.kind}/${o.metadata?.name}`)
        .sort();
    const webRunnerRules = async () =>
      (
        await stack().admin.get<{ rules: Array<{ resources: string[]; verbs: string[] }> }>(
          "/apis/rbac.authorization.k8s.io/v1/namespaces/web/roles/demo-runner",
        )
      ).rules.flatMap((r) => r.resources);
    expect(clusterRoles()).toEqual([
      "ClusterRole/argo-events-demo-eventsource",
      "ClusterRole/argo-events-demo-runner",
      "ClusterRoleBinding/argo-events-demo-eventsource",
      "ClusterRoleBinding/argo-events-demo-runner",
    ]);
    expect(await webRunnerRules()).toContain("jobs");
    writeFileSync(path.join(demo, "hooks.yaml"), hooksYaml("demo", false));
    const out = runBlock(update!, demo);
    expect(out).toMatch(/clusterrole.rbac.authorization.k8s.io\/argo-events-demo-eventsource pruned/);
    // Cluster-wide grants only the removed hooks needed are gone; the Role that stays lost the Job rights.
    expect(clusterRoles()).toEqual([]);
    expect(await webRunnerRules()).not.toContain("jobs");
    // The other HookSet's objects and this one's runner are untouched.
    expect(
      JSON.parse(kubectl("get", "deployments", "-n", NS, "-o", "json"))
        .items.map((o: KubeObject) => o.metadata?.name)
        .sort(),
    ).toEqual(["demo-runner", "other-runner"]);
    expect(
      JSON.parse(kubectl("get", "roles", "-n", "web", "-l", "resource-hooks.io/hookset=other", "-o", "json")).items
        .length,
    ).toBeGreaterThan(0);
    await runner.stop();
  }, 180_000);
});
