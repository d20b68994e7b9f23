// Real rollouts for the e2e stack: kube-controller-manager and kube-scheduler (built from the
// same k8s.io/kubernetes module as the stack's kube-apiserver) and kwok with one fake node.
// Deployments, ReplicaSets, StatefulSets and Jobs are reconciled by their real controllers,
// Pods are bound by the real scheduler, and kwok plays the kubelet: it moves the node's Pods
// through Pending -> Running (Ready), Pods owned by a Job to Succeeded, and deletes
// terminating Pods, with the stage definitions kwok ships as its defaults ("fast" stages).
// Nothing writes status on the controllers' behalf.
//
// All three run as host processes against the stack's kube-apiserver with its admin
// kubeconfig; kube-controller-manager runs each controller under its own ServiceAccount
// (--use-service-account-credentials, as in real clusters), so the bootstrap RBAC roles of
// the API server are what lets them act. Their serving ports are on 127.0.0.1.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import path from "node:path";

import { cacheDir, freePort, pollUntil, type ManagedProcess, type Stack } from "../stack.js";

/** The controllers kube-controller-manager runs here (its --controllers names, v1.32). */
export const CONTROLLERS = [
  "deployment-controller",
  "replicaset-controller",
  "statefulset-controller",
  "daemonset-controller",
  "job-controller",
  "serviceaccount-controller", // "default" ServiceAccount of each namespace (Pods need it)
  "root-ca-certificate-publisher-controller", // kube-root-ca.crt in each namespace
  "garbage-collector-controller", // deletes what a deleted Deployment/ReplicaSet/Job owned
  "namespace-controller", // empties deleted namespaces
] as const;

/** The fake node's name; kwok manages nodes with this annotation. */
export const FAKE_NODE = "kwok-node-0";
const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

export interface ClusterControllersBinaries {
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  /** kwok's default stages (YAML files), copied next to the binary by build.sh. */
  kwokStagesDir: string;
}

function readVersion(key: string): string {
  const file = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../../scripts/e2e/versions.env");
  const m = new RegExp(`^${key}=(.*)$`, "m").exec(readFileSync(file, "utf8"));
  if (!m?.[1]) throw new Error(`scripts/e2e/versions.env has no ${key}`);
  return m[1].trim();
}

export function clusterControllersBinaries(cache = cacheDir()): ClusterControllersBinaries {
  const k8s = readVersion("K8S_VERSION");
  const kwok = readVersion("KWOK_VERSION");
  return {
    kubeControllerManager: path.join(cache, `kube-controller-manager-${k8s}`, "kube-controller-manager"),
    kubeScheduler: path.join(cache, `kube-scheduler-${k8s}`, "kube-scheduler"),
    kwok: path.join(cache, `kwok-${kwok}`, "kwok"),
    kwokStagesDir: path.join(cache, `kwok-${kwok}`, "stages"),
  };
}

export interface ClusterControllers {
  readonly kubeControllerManager: ManagedProcess;
  readonly kubeScheduler: ManagedProcess;
  readonly kwok: ManagedProcess;
  readonly nodeName: string;
  /** Start-up times (ms): each process until ready, and the node until Ready. */
  readonly timings: {
    controllerManagerMs: number;
    schedulerMs: number;
    kwokMs: number;
    nodeReadyMs: number;
    totalMs: number;
  };
  stop(): Promise<void>;
}

/** GET https://127.0.0.1:<port>/healthz of a component that serves it to anyone. */
function healthz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port, path: "/healthz", method: "GET", rejectUnauthorized: false, timeout: 3_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export async function startClusterControllers(
  stack: Stack,
  opts: { cacheDir?: string } = {},
): Promise<ClusterControllers> {
  const t0 = performance.now();
  const bins = clusterControllersBinaries(opts.cacheDir);
  const missing = [bins.kubeControllerManager, bins.kubeScheduler, bins.kwok, bins.kwokStagesDir].filter(
    (b) => !existsSync(b),
  );
  if (missing.length > 0) {
    throw new Error(
      `e2e binaries missing (run scripts/e2e/build.sh kube-controller-manager kube-scheduler kwok): ${missing.join(", ")}`,
    );
  }
  const dir = path.join(stack.dir, "components", "cluster-controllers");
  mkdirSync(dir, { recursive: true });

  // ---------------------------------------------------------------- kube-controller-manager
  let t = performance.now();
  const kcmPort = await freePort();
  const kcm = stack.spawn({
    name: "kube-controller-manager",
    command: bins.kubeControllerManager,
    args: [
      `--kubeconfig=${stack.adminKubeconfig}`,
      "--leader-elect=false",
      "--use-service-account-credentials=true",
      `--controllers=${CONTROLLERS.join(",")}`,
      `--root-ca-file=${stack.caFile}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      `--cert-dir=${path.join(dir, "kcm-certs")}`,
      // the whole cluster is one fake node: nothing to wait for before acting
      "--concurrent-deployment-syncs=5",
      "--profiling=false",
      "--v=1",
    ],
  });
  const waitHealthy = async (proc: ManagedProcess, port: number): Promise<void> => {
    await pollUntil(
      `${proc.name} /healthz`,
      60_000,
      async () => {
        if (!proc.isRunning()) throw new Error(`${proc.name} exited: ${proc.logs().slice(-3000)}`);
        return (await healthz(port)) === 200 ? true : undefined;
      },
      200,
    );
  };

  // ---------------------------------------------------------------- kube-scheduler
  const schedPort = await freePort();
  const scheduler = stack.spawn({
    name: "kube-scheduler",
    command: bins.kubeScheduler,
    args: [
      `--kubeconfig=${stack.adminKubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${schedPort}`,
      `--cert-dir=${path.join(dir, "scheduler-certs")}`,
      "--profiling=false",
      "--v=1",
    ],
  });

  // ---------------------------------------------------------------- kwok
  // kwok (the binary, unlike kwokctl) has no built-in stages: it is given the ones kwokctl
  // installs by default. No heartbeat stage: kube-controller-manager runs no node lifecycle
  // controller here, so nothing marks the node NotReady when its heartbeat gets old.
  const stageFiles = ["node-initialize.yaml", "pod-ready.yaml", "pod-complete.yaml", "pod-delete.yaml"].map((f) =>
    path.join(bins.kwokStagesDir, f),
  );
  for (const f of stageFiles)
    if (!existsSync(f)) throw new Error(`kwok stage missing: ${f} (run scripts/e2e/build.sh kwok)`);
  const kwokConfig = path.join(dir, "kwok.yaml");
  writeFileSync(
    kwokConfig,
    // only Stage documents: a KwokConfiguration document here would replace kwok's defaulted
    // options (v0.8.0 then fails with "playStageParallelism must be greater than 0"); flags instead
    [...stageFiles.flatMap((f) => ["---", readFileSync(f, "utf8").trim()]), ""].join("\n"),
  );
  const kwok = stack.spawn({
    name: "kwok",
    command: bins.kwok,
    args: [
      `--kubeconfig=${stack.adminKubeconfig}`,
      `--config=${kwokConfig}`,
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      "--cidr=10.0.0.0/16",
      "--node-ip=10.0.255.1",
    ],
    env: { ...process.env, HOME: dir },
  });

  const stop = async (): Promise<void> => {
    await Promise.all([kwok.stop(5_000), scheduler.stop(5_000), kcm.stop(5_000)]);
  };
  try {
    await waitHealthy(kcm, kcmPort);
    const controllerManagerMs = performance.now() - t;
    t = performance.now();
    await waitHealthy(scheduler, schedPort);
    const schedulerMs = performance.now() - t;
    t = performance.now();
    await kwok.waitForLog(/Starting|Watch nodes|watch/i, 60_000);
    const kwokMs = performance.now() - t;

    // ---------------------------------------------------------------- the fake node
    t = performance.now();
    await stack.apply([
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: FAKE_NODE,
          annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
          labels: {
            "kubernetes.io/hostname": FAKE_NODE,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            type: "kwok",
          },
        },
        spec: {},
      },
    ]);
    await pollUntil(
      `node ${FAKE_NODE} Ready (kwok)`,
      60_000,
      async () => {
        if (!kwok.isRunning()) throw new Error(`kwok exited: ${kwok.logs().slice(-3000)}`);
        const n = await stack.admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
          `/api/v1/nodes/${FAKE_NODE}`,
        );
        return n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
      },
      200,
    );
    // The API server's TaintNodesByCondition admission taints every new node
    // node.kubernetes.io/not-ready:NoSchedule; the node-lifecycle controller would remove it once
    // the node is Ready, but it is not run here (it would also mark the node NotReady when kwok
    // sends no heartbeats). So the harness removes the taint, as that controller would.
    await stack.admin.call("PATCH", `/api/v1/nodes/${FAKE_NODE}`, {
      body: { spec: { taints: null } },
      contentType: "application/merge-patch+json",
    });
    const nodeReadyMs = performance.now() - t;
    return {
      kubeControllerManager: kcm,
      kubeScheduler: scheduler,
      kwok,
      nodeName: FAKE_NODE,
      timings: { controllerManagerMs, schedulerMs, kwokMs, nodeReadyMs, totalMs: performance.now() - t0 },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
