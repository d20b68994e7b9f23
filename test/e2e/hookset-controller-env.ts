// What hookset-controller.e2e.test.ts builds on: the installation (the controller's ServiceAccount
// with exactly controllerRules()), tenants' ServiceAccounts that may watch ConfigMaps, HookSets
// written as users write them for kubectl, and waiting for a HookSet's condition.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { controllerRules } from "../../src/generate/controller-rbac.js";
import { toKubernetesYaml } from "../../src/model/yaml.js";
import { ENTRYPOINT, IMAGE_ENV } from "./components/kubelet.js";
import type { StackHandle } from "./harness.js";
import { pollUntil, type KubeObject, type ManagedProcess } from "./stack.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The installation's namespace: the controller's ServiceAccount, Lease and credential key. */
export const INSTALL = "resource-hooks";
export const TENANT = "team-a";
/** Two DNS labels (<service>.<namespace>): `generate` accepts it for the static comparison. */
export const RUNNER_URL = "http://runner.resource-hooks:8080";
export const CONTROLLER_SA = { kind: "ServiceAccount", name: "resource-hooks-controller", namespace: INSTALL };

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface HookSetObject extends KubeObject {
  status?: { observedGeneration?: number; hooks?: number; watches?: number; conditions?: Condition[] };
}

export const PATHS = {
  hookSet: (ns: string, name: string) => `/apis/resource-hooks.io/v1alpha1/namespaces/${ns}/hooksets/${name}`,
  hookSets: (ns: string) => `/apis/resource-hooks.io/v1alpha1/namespaces/${ns}/hooksets`,
  eventSource: (ns: string, name: string) => `/apis/argoproj.io/v1alpha1/namespaces/${ns}/eventsources/${name}`,
  sensor: (ns: string, name: string) => `/apis/argoproj.io/v1alpha1/namespaces/${ns}/sensors/${name}`,
  secret: (ns: string, name: string) => `/api/v1/namespaces/${ns}/secrets/${name}`,
};

export const configMapHook = (name: string, labels?: Record<string, string>, namespace = TENANT) => ({
  name,
  on: { resource: { version: "v1", resource: "configmaps", namespace, ...(labels ? { labels } : {}) } },
  steps: [{ name: "say", log: { message: "changed" } }],
});

/** A HookSet as a user writes it for kubectl: YAML, with "on" quoted. */
export function hookSetYaml(name: string, spec: Record<string, unknown>, namespace = TENANT): string {
  // Written as resource-hooks writes manifests for kubectl: YAML 1.1, which quotes "on".
  return toKubernetesYaml({
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name, namespace },
    spec,
  });
}

export const condition = (o: HookSetObject | undefined, type: string) =>
  o?.status?.conditions?.find((c) => c.type === type);

export const eventBus = (namespace: string) => ({
  apiVersion: "argoproj.io/v1alpha1",
  kind: "EventBus",
  metadata: { name: "default", namespace },
  spec: { jetstream: { version: "latest" } },
});

const rbac = "rbac.authorization.k8s.io";

/** A Role that may watch the namespace's ConfigMaps, bound to one of its ServiceAccounts. */
export const watchConfigMaps = (namespace: string, serviceAccount: string) => [
  {
    apiVersion: `${rbac}/v1`,
    kind: "Role",
    metadata: { name: "watch-configmaps", namespace },
    rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
  },
  {
    apiVersion: `${rbac}/v1`,
    kind: "RoleBinding",
    metadata: { name: `${serviceAccount}-watch-configmaps`, namespace },
    roleRef: { apiGroup: rbac, kind: "Role", name: "watch-configmaps" },
    subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
  },
];

/** The controller's ServiceAccount, granted exactly controllerRules(). */
export function installation(): object[] {
  const rules = controllerRules();
  const name = CONTROLLER_SA.name;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: INSTALL } },
    { apiVersion: `${rbac}/v1`, kind: "ClusterRole", metadata: { name }, rules: rules.cluster },
    {
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name },
      subjects: [CONTROLLER_SA],
    },
    { apiVersion: `${rbac}/v1`, kind: "Role", metadata: { name, namespace: INSTALL }, rules: rules.installation },
    {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name, namespace: INSTALL },
      roleRef: { apiGroup: rbac, kind: "Role", name },
      subjects: [CONTROLLER_SA],
    },
  ];
}

/** Resident memory of a process, in MiB. */
export function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/** Helpers bound to the file's stack and temp dir. */
export function controllerEnv(stack: StackHandle, dir: string) {
  function kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    const file = path.join(dir, "input.yaml");
    if (input !== undefined) writeFileSync(file, input);
    const r = spawnSync(stack().binaries.kubectl, input === undefined ? args : [...args, "-f", file], {
      encoding: "utf8",
      env: { KUBECONFIG: stack().adminKubeconfig, PATH: "/usr/bin:/bin", HOME: dir },
      timeout: 60_000,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async function getOrUndefined<T = KubeObject>(p: string): Promise<T | undefined> {
    const r = await stack().admin.request("GET", p);
    return r.status === 200 ? (r.json as T) : undefined;
  }

  /** The HookSet once its status says `type` has `status` for its current generation. */
  async function waitCondition(ns: string, name: string, type: string, status: string, timeoutMs = 30_000) {
    return await pollUntil(`${ns}/${name} ${type}=${status}`, timeoutMs, async () => {
      const o = await getOrUndefined<HookSetObject>(PATHS.hookSet(ns, name));
      const c = condition(o, type);
      return o && c?.status === status && o.status?.observedGeneration === o.metadata?.generation ? o : undefined;
    });
  }

  /** `resource-hooks controller` as a process of the stack, with the given ServiceAccount's kubeconfig. */
  function startController(name: string, kubeconfig: string): ManagedProcess {
    return stack().spawn({
      name: `proc/${name}`,
      command: process.execPath,
      args: [
        ...[ENTRYPOINT[1], "controller"],
        ...["--runner-url", RUNNER_URL, "--kubeconfig", kubeconfig, "--namespace", INSTALL, "--log-level", "debug"],
        // Reconciling only: the runs are hookset-runner.e2e's and install-cluster.e2e's.
        "--no-serve",
      ],
      env: { PATH: process.env.PATH, ...IMAGE_ENV, POD_NAME: name, HOME: dir },
      cwd: REPO_ROOT,
    });
  }

  return { kubectl, getOrUndefined, waitCondition, startController };
}
