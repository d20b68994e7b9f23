// Runs the first container of a Deployment's pod template as a host process, the way the
// kubelet would start it, for the scenario that deploys with exactly the README's commands:
// the arguments and environment are the applied Deployment's, read back from the API server.
//
// What a node would do and what stands in for it here (no container runtime, no kubelet):
//  - the image: resource-hooks' image runs `node /app/dist/cli/main.js` (the Dockerfile's
//    ENTRYPOINT) with /app holding dist/ and node_modules; this repository's dist/ and
//    node_modules stand in for /app (global-setup.ts compiles dist/ before the suite);
//  - volumes: configMap and secret volumes are written to a directory per volume (the keys as
//    files, as the kubelet projects them) and every argument or environment value that starts
//    with a mount path is pointed at that directory; emptyDir at /tmp is the process's own
//    private /tmp;
//  - $(VAR) in the arguments: expanded from the container's environment, as the kubelet does;
//  - the ServiceAccount token: a kubeconfig with a TokenRequest token of the pod's
//    serviceAccountName (what the kubelet projects into the pod), given as KUBECONFIG;
//  - the network: the process runs in its own network namespace (components/netns.ts), listening
//    on the container ports as written; `hostPort(port)` reaches it from the host, and it reaches
//    the API server and `reachablePorts` of the host on 127.0.0.1.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { KubeObject, Stack } from "../stack.js";
import { pollUntil } from "../stack.js";
import { startIsolated, type IsolatedProcess } from "./netns.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * The image's ENTRYPOINT (Dockerfile), with this checkout standing in for /app. Every runner and
 * controller the e2e suite starts runs this, so what it measures (CPU, resident memory) is the
 * program the image ships; global-setup.ts compiles dist/ from the current sources first.
 */
export const ENTRYPOINT = [process.execPath, path.join(REPO_ROOT, "dist/cli/main.js")] as const;
/** The image's environment (Dockerfile `ENV`). */
export const IMAGE_ENV = { NODE_ENV: "production" } as const;

interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: {
      fieldRef?: { fieldPath: string };
      secretKeyRef?: { name: string; key: string };
      configMapKeyRef?: { name: string; key: string };
    };
  }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
}

interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string }; emptyDir?: object }>;
}

export interface PodProcess extends IsolatedProcess {
  readonly podName: string;
  /** The arguments the process got (after the mount paths were pointed at their directories). */
  readonly args: readonly string[];
}

/** Starts the Deployment's pod (first container) and waits for its readiness probe. */
export async function runDeploymentPod(
  stack: Stack,
  deployment: KubeObject,
  opts: { podName: string; reachablePorts?: number[]; readyTimeoutMs?: number },
): Promise<PodProcess> {
  const namespace = deployment.metadata?.namespace ?? "default";
  const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
  const container = pod.containers[0];
  if (!container) throw new Error(`Deployment ${namespace}/${deployment.metadata?.name}: no container`);
  const dir = path.join(stack.dir, "pods", opts.podName);

  const mounts: Array<{ mountPath: string; hostDir: string }> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volume ${mount.name} is mounted but not defined`);
    if (volume.emptyDir) continue; // the process's private /tmp
    const hostDir = path.join(dir, "volumes", mount.name);
    mkdirSync(hostDir, { recursive: true });
    for (const [key, value] of Object.entries(await volumeData(stack, namespace, volume)))
      writeFileSync(path.join(hostDir, key), value, { mode: 0o600 });
    mounts.push({ mountPath: mount.mountPath, hostDir });
  }
  mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
  const remap = (value: string): string => {
    const m = mounts.find((x) => value === x.mountPath || value.startsWith(`${x.mountPath}/`));
    return m ? m.hostDir + value.slice(m.mountPath.length) : value;
  };

  // The image's environment, then the container's (which may override it, as in a pod).
  const env: Record<string, string> = { ...IMAGE_ENV };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = remap(e.value);
    else if (e.valueFrom?.fieldRef) env[e.name] = fieldValue(e.valueFrom.fieldRef.fieldPath, opts.podName, namespace);
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] =
        (await volumeData(stack, namespace, { name: e.name, secret: { secretName: e.valueFrom.secretKeyRef.name } }))[
          e.valueFrom.secretKeyRef.key
        ] ?? "";
    else if (e.valueFrom?.configMapKeyRef)
      env[e.name] =
        (await volumeData(stack, namespace, { name: e.name, configMap: { name: e.valueFrom.configMapKeyRef.name } }))[
          e.valueFrom.configMapKeyRef.key
        ] ?? "";
  }
  if (pod.serviceAccountName)
    env.KUBECONFIG = await stack.kubeconfigForServiceAccount(namespace, pod.serviceAccountName);

  if (container.command) throw new Error("the container sets command; only the image's ENTRYPOINT is emulated here");
  // The kubelet expands $(VAR) in args from the container's environment; $$ escapes it.
  const expand = (value: string): string =>
    value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
      name === undefined ? "$" : (env[name] ?? whole),
    );
  const args = (container.args ?? []).map((a) => remap(expand(a)));
  const apiPort = Number(new URL(stack.apiServerUrl).port);
  const ports = (container.ports ?? []).map((p) => p.containerPort);
  const proc = await startIsolated(stack, {
    name: `pod-${opts.podName}`,
    command: ENTRYPOINT[0],
    args: [...ENTRYPOINT.slice(1), ...args],
    env,
    reachablePorts: [apiPort, ...(opts.reachablePorts ?? [])],
    exposePorts: ports,
    // The checkout stands in for the image's /app: visible even when it lives under /tmp.
    keepVisible: [REPO_ROOT],
  });
  const probe = container.readinessProbe?.httpGet;
  if (probe) {
    const port =
      typeof probe.port === "number" ? probe.port : container.ports?.find((p) => p.name === probe.port)?.containerPort;
    if (port === undefined) throw new Error(`readiness probe port ${String(probe.port)} is not a container port`);
    await pollUntil(
      `pod ${opts.podName} ready (${probe.path})`,
      opts.readyTimeoutMs ?? 60_000,
      async () => {
        if (!proc.isRunning()) throw new Error(`pod ${opts.podName} exited:\n${proc.logs().slice(-3000)}`);
        const r = await fetch(`http://127.0.0.1:${proc.hostPort(port)}${probe.path}`, {
          signal: AbortSignal.timeout(2_000),
        }).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      },
      200,
    );
  }
  return Object.assign(proc, { podName: opts.podName, args });
}

function fieldValue(fieldPath: string, podName: string, namespace: string): string {
  if (fieldPath === "metadata.name") return podName;
  if (fieldPath === "metadata.namespace") return namespace;
  throw new Error(`fieldRef ${fieldPath} is not emulated`);
}

async function volumeData(
  stack: Stack,
  namespace: string,
  volume: { name: string; configMap?: { name: string }; secret?: { secretName: string } },
): Promise<Record<string, string>> {
  if (volume.configMap) {
    const cm = await stack.admin.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${namespace}/configmaps/${volume.configMap.name}`,
    );
    return cm.data ?? {};
  }
  if (volume.secret) {
    const secret = await stack.admin.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${namespace}/secrets/${volume.secret.secretName}`,
    );
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
  }
  throw new Error(`volume ${volume.name}: only configMap, secret and emptyDir volumes are emulated`);
}
