// The e2e stack: etcd + kube-apiserver (TLS, RBAC, TokenRequest) + NATS JetStream (TLS), with
// the Argo Events CRDs applied, and Argo Events eventsource/sensor services run as local "pods".
// startStack composes the pieces in test/e2e/components/, each of which starts one thing:
//
//   binaries.ts     versions, binary paths (scripts/e2e/build.sh, cache dir), prerequisites
//   pki.ts          CA, serving cert, ServiceAccount signing key (openssl)
//   etcd.ts         etcd
//   apiserver.ts    kube-apiserver and the admin kubeconfig
//   kube-admin.ts   apply/delete as admin, CRDs, ServiceAccount kubeconfigs, watch counts
//   eventbus.ts     one NATS JetStream server per namespace (the EventBus "default")
//   argo-events.ts  eventsource-service / sensor-service as pods (see there)
//   netns.ts        a process in its own network and mount namespace (pods, Argo CD)
//
// Everything listens on 127.0.0.1 only, on free ports; all state lives in a temp dir that stop()
// removes. Processes stop in reverse start order: pods and spawned processes first, then the
// NATS servers, kube-apiserver, etcd.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { KubeConfig } from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";

import { startApiServer } from "./components/apiserver.js";
import { argoPods } from "./components/argo-events.js";
import {
  applicationCrdFile,
  argoEventsCrdFiles,
  cacheDir,
  checkPrerequisites,
  stackBinaries,
  stackVersions,
  type StackBinaries,
  type StackVersions,
} from "./components/binaries.js";
import { startEtcd } from "./components/etcd.js";
import { startEventBus, type EventBus } from "./components/eventbus.js";
import { kubeAdmin } from "./components/kube-admin.js";
import { makePki } from "./components/pki.js";
import { KubeRest, type KubeObject } from "./kube-rest.js";
import { pidAlive, spawnManaged, tail, type ManagedProcess, type SpawnOptions } from "./process.js";

// The e2e names of the one recording server (test/helpers/recording-server.ts).
export { startRecordingServer as startHttpSink } from "../helpers/recording-server.js";
export type {
  RecordedRequest,
  RecordingServer as HttpSink,
  RecordingServerOptions as HttpSinkOptions,
  Reply as SinkResponse,
  Responder as SinkResponder,
} from "../helpers/recording-server.js";
export { pollUntil, sleep } from "../helpers/poll.js";
export type { ExitStatus, ManagedProcess } from "./process.js";
export { KubeApiError, KubeRest, type KubeObject, type KubeResponse } from "./kube-rest.js";
export {
  applicationCrdFile,
  argoEventsModuleDir,
  cacheDir,
  stackBinaries,
  stackVersions,
  type StackBinaries,
  type StackVersions,
} from "./components/binaries.js";
export type { EventBus, EventBusConfig } from "./components/eventbus.js";
export { freePort } from "./components/ports.js";

const execFileP = promisify(execFile);

// ------------------------------------------------------------------ public API

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** Files a pod gets as if mounted: name -> key -> content. */
export type MountedData = Record<string, Record<string, string>>;

export interface StartPodOptions {
  /** Run with a kubeconfig holding a TokenRequest token of this ServiceAccount (default: admin). */
  serviceAccount?: ServiceAccountRef;
  /**
   * Secret contents to mount at /argo-events/secrets/<secret>/<key>. Secrets the
   * object references (any {name, key} selector) and that are not given here
   * are read from the cluster, as the kubelet would; missing ones fail the start.
   */
  secrets?: MountedData;
  /** Like `secrets`, for ConfigMaps (/argo-events/config/<configmap>/<key>). */
  configMaps?: MountedData;
  /** Extra 127.0.0.1 ports of the host the pod must reach (URLs in the object are found automatically). */
  reachablePorts?: number[];
  /**
   * Ports the pod listens on to make reachable from the host: see
   * ArgoProcess.hostPort(). The metrics port 7777 always is.
   */
  exposePorts?: number[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Wait until the process is ready (default true); see ArgoProcess.waitReady. */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export interface ArgoProcess extends ManagedProcess {
  readonly kind: "eventsource" | "sensor";
  readonly namespace: string;
  /** metadata.name of the EventSource / Sensor. */
  readonly objectName: string;
  readonly podName: string;
  /** The pod's private dir on the host (tmp/, argo-events/). */
  readonly podDir: string;
  /** The host port that forwards to `podPort` inside the pod (see exposePorts). */
  hostPort(podPort: number): number;
  /** GET /metrics of the process (Prometheus text; port 7777 in the pod). */
  metrics(): Promise<string>;
  /**
   * EventSource: "Eventing server started." was logged and, for resource event
   * sources, kube-apiserver counts one more WATCH per entry on each watched resource.
   * Sensor: "Sensor started." was logged and the JetStream durable consumer of
   * every trigger/dependency exists, so events published from now on reach it.
   */
  waitReady(timeoutMs?: number): Promise<void>;
}

export interface LintResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface StackTimings {
  pkiMs: number;
  etcdMs: number;
  apiServerMs: number;
  crdsMs: number;
  natsMs: number;
  totalMs: number;
}

export interface Stack {
  readonly dir: string;
  readonly versions: StackVersions;
  readonly binaries: StackBinaries;
  readonly timings: StackTimings;
  /** https://127.0.0.1:<port> */
  readonly apiServerUrl: string;
  /** PEM file of the CA that signed kube-apiserver's and NATS's serving certs. */
  readonly caFile: string;
  /** Path of an admin (system:masters) kubeconfig. */
  readonly adminKubeconfig: string;
  /** Admin @kubernetes/client-node KubeConfig (new instance per call; async for older callers). */
  kubeConfig(): Promise<KubeConfig>;
  /** Admin client (client-node underneath: apply/read/delete, plus raw requests by path). */
  readonly admin: KubeRest;
  /** REST client for any kubeconfig the stack wrote (e.g. from kubeconfigForServiceAccount). */
  restClient(kubeconfigPath: string): KubeRest;
  /** Path of a kubeconfig whose token comes from the TokenRequest API for that ServiceAccount. */
  kubeconfigForServiceAccount(namespace: string, name: string, opts?: { expirationSeconds?: number }): Promise<string>;
  /** Server-side apply as admin, in order (multi-doc YAML or objects). Returns the applied objects. */
  apply(objects: readonly object[] | string): Promise<KubeObject[]>;
  /**
   * Applies Argo CD's Application CRD (applications.argoproj.io, from the argo-cd Go module:
   * see applicationCrdFile) and waits until it is Established.
   */
  installApplicationCrd(): Promise<KubeObject>;
  /** Waits until each named CRD is Established (see KubeAdmin.crdsEstablished). */
  crdsEstablished(names: readonly string[], timeoutMs?: number): Promise<void>;
  /** Delete objects (ignores NotFound). */
  delete(objects: readonly object[] | string): Promise<void>;
  /**
   * The event bus (a NATS JetStream server) of a namespace, started on first
   * use; the one of "default" is started with the stack. Pods use the bus of
   * their object's namespace.
   */
  eventBus(namespace: string): Promise<EventBus>;
  startEventSource(eventSource: object, opts?: StartPodOptions): Promise<ArgoProcess>;
  startSensor(sensor: object, opts?: StartPodOptions): Promise<ArgoProcess>;
  /** `argo-events lint [--strict] <paths...>` */
  lint(paths: readonly string[], opts?: { strict?: boolean }): Promise<LintResult>;
  /** Writes the objects as multi-doc YAML to a temp file and lints it. */
  lintObjects(objects: readonly object[], opts?: { strict?: boolean }): Promise<LintResult>;
  /** Sum of kube-apiserver's apiserver_longrunning_requests{verb="WATCH"} for a resource. */
  watchCount(resource: string, group?: string): Promise<number>;
  /** Raw GET as admin against kube-apiserver (e.g. "/metrics"). */
  apiGet(pathAndQuery: string): Promise<{ status: number; body: string }>;
  /**
   * Starts a host process (e.g. the resource-hooks runner) that belongs to the stack: its log
   * goes to the stack's logs dir and into logReport(), and stop() ends it with the pods.
   * `logFile` defaults to <dir>/logs/<name with / as ->.log.
   */
  spawn(opts: Omit<SpawnOptions, "logFile"> & { logFile?: string }): ManagedProcess;
  /** Every process started so far (stack services and pods). */
  processes(): readonly ManagedProcess[];
  /** The last lines of every process's log (pods: `lines`, default 80; others: 15), for failure reports. */
  logReport(lines?: number): string;
  /** Stops every process and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Cache dir with the built binaries (default: $RESOURCE_HOOKS_E2E_CACHE or ~/.cache/resource-hooks-e2e). */
  cacheDir?: string;
  /** Keep the temp dir after stop() (default: env E2E_KEEP_TMP=1). */
  keepTempDir?: boolean;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
  /** Progress messages (default: none; env E2E_VERBOSE=1 prints to stderr). */
  log?: (message: string) => void;
}

// ------------------------------------------------------------------ the stack

const STACK_DIR_PREFIX = "rh-e2e-";

/** Removes temp dirs of stacks whose process died without stop() (e.g. SIGKILL). */
function sweepStaleStackDirs(): void {
  let entries: string[];
  try {
    entries = readdirSync(os.tmpdir()).filter((e) => e.startsWith(STACK_DIR_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const d = path.join(os.tmpdir(), e);
    let pid: number;
    try {
      pid = Number(readFileSync(path.join(d, "owner.pid"), "utf8"));
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
    rmSync(d, { recursive: true, force: true });
  }
}

/** Pods and processes spawned for tests: stopped first, and given more lines in the log report. */
const isLongLived = (p: ManagedProcess): boolean => p.name.startsWith("pod/") || p.name.startsWith("proc/");

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const t0 = performance.now();
  const log =
    opts.log ?? (process.env.E2E_VERBOSE === "1" ? (m: string) => process.stderr.write(`[e2e] ${m}\n`) : () => {});
  const versions = stackVersions();
  const binaries = stackBinaries(opts.cacheDir ?? cacheDir(), versions);
  checkPrerequisites(binaries);

  sweepStaleStackDirs();
  const dir = await mkdtemp(path.join(os.tmpdir(), STACK_DIR_PREFIX));
  writeFileSync(path.join(dir, "owner.pid"), String(process.pid));
  const logsDir = path.join(dir, "logs");
  mkdirSync(logsDir);
  const procs: ManagedProcess[] = [];
  const spawn = (o: SpawnOptions): ManagedProcess => {
    const proc = spawnManaged(o);
    procs.push(proc);
    return proc;
  };
  const keep = opts.keepTempDir ?? process.env.E2E_KEEP_TMP === "1";
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const reversed = [...procs].reverse();
      const pods = reversed.filter(isLongLived);
      await Promise.all(pods.map((p) => p.stop(5_000)));
      for (const p of reversed.filter((p) => !pods.includes(p))) await p.stop(10_000);
      if (!keep) rmSync(dir, { recursive: true, force: true });
      else log(`kept ${dir}`);
    })();
    return stopped;
  };

  // infrastructure first and short, the Argo Events pods and spawned processes last and longer
  const logReport = (lines = 80): string =>
    [...procs.filter((p) => !isLongLived(p)), ...procs.filter(isLongLived)]
      .map((p) => {
        const n = isLongLived(p) ? lines : Math.min(lines, 15);
        return `===== ${p.name} (${p.logFile})${p.isRunning() ? "" : " [exited]"} =====\n${tail(p.logs(), n)}`;
      })
      .join("\n");

  try {
    let t = performance.now();
    const pki = await makePki(path.join(dir, "pki"));
    const pkiMs = performance.now() - t;

    t = performance.now();
    const etcd = await startEtcd({ binary: binaries.etcd, dir, logsDir, spawn });
    const etcdMs = performance.now() - t;
    log(`etcd ready on ${etcd.url} (${Math.round(etcdMs)}ms)`);

    t = performance.now();
    const apiServer = await startApiServer({
      binary: binaries.kubeApiServer,
      dir,
      logsDir,
      spawn,
      etcdUrl: etcd.url,
      pki,
      extraArgs: opts.apiServerArgs ?? [],
    });
    const apiServerMs = performance.now() - t;
    log(`kube-apiserver ready on ${apiServer.url} (${Math.round(apiServerMs)}ms)`);
    const { adminKubeconfig } = apiServer;
    const admin = KubeRest.fromKubeconfig(adminKubeconfig);
    const cluster = kubeAdmin(admin, { dir, apiServerUrl: apiServer.url, caPem: pki.caPem });

    t = performance.now();
    await cluster.installCrds(argoEventsCrdFiles(versions));
    const crdsMs = performance.now() - t;
    log(`CRDs established (${Math.round(crdsMs)}ms)`);

    const buses = new Map<string, Promise<EventBus>>();
    const eventBus = (namespace: string): Promise<EventBus> => {
      let bus = buses.get(namespace);
      if (!bus) {
        bus = startEventBus(namespace, { binary: binaries.natsServer, dir, logsDir, spawn, pki });
        void bus.then(
          (b) => log(`event bus of namespace ${namespace}: ${b.url}`),
          () => undefined,
        );
        buses.set(namespace, bus);
      }
      return bus;
    };
    t = performance.now();
    await eventBus("default");
    const natsMs = performance.now() - t;

    const startPod = argoPods({
      dir,
      logsDir,
      binary: binaries.argoEvents,
      apiServerPort: apiServer.port,
      adminKubeconfig,
      admin: cluster,
      eventBus,
      spawn,
    });

    const lint = async (paths: readonly string[], o: { strict?: boolean } = {}): Promise<LintResult> => {
      const args = ["lint", ...(o.strict ? ["--strict"] : []), ...paths];
      try {
        const { stdout, stderr } = await execFileP(binaries.argoEvents, args, { maxBuffer: 16 * 1024 * 1024 });
        return { exitCode: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number | string; stdout?: string; stderr?: string };
        if (typeof e.code !== "number") throw err;
        return { exitCode: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
      }
    };
    let lintCounter = 0;

    const totalMs = performance.now() - t0;
    log(`stack ready in ${Math.round(totalMs)}ms (dir ${dir})`);
    return {
      dir,
      versions,
      binaries,
      timings: { pkiMs, etcdMs, apiServerMs, crdsMs, natsMs, totalMs },
      apiServerUrl: apiServer.url,
      caFile: pki.caFile,
      adminKubeconfig,
      kubeConfig: async () => {
        const kc = new KubeConfig();
        kc.loadFromFile(adminKubeconfig);
        return kc;
      },
      admin,
      restClient: (file: string) => KubeRest.fromKubeconfig(file),
      kubeconfigForServiceAccount: cluster.kubeconfigForServiceAccount,
      apply: cluster.apply,
      installApplicationCrd: async () => {
        const file = applicationCrdFile(versions);
        if (!existsSync(file)) {
          throw new Error(
            `Argo CD Application CRD not found: ${file} (run scripts/e2e/build.sh argocd, which builds Argo CD ${versions.argoCd} and copies its CRDs)`,
          );
        }
        const [crd] = await cluster.installCrds([file]);
        if (!crd) throw new Error(`${file} holds no object`);
        return crd;
      },
      crdsEstablished: cluster.crdsEstablished,
      delete: cluster.delete,
      eventBus,
      startEventSource: (es, o = {}) => startPod("eventsource", es, o),
      startSensor: (s, o = {}) => startPod("sensor", s, o),
      lint,
      lintObjects: async (objects, o = {}) => {
        lintCounter += 1;
        const file = path.join(dir, `lint-${lintCounter}.yaml`);
        // `argo-events lint` splits documents on "\n---\n"
        await writeFile(file, objects.map((x) => toYaml(x)).join("---\n"));
        return lint([file], o);
      },
      watchCount: cluster.watchCount,
      apiGet: async (p) => {
        const r = await admin.request("GET", p);
        return { status: r.status, body: r.body };
      },
      spawn: (o) => {
        const name = o.name.startsWith("proc/") ? o.name : `proc/${o.name}`;
        return spawn({
          ...o,
          name,
          logFile: o.logFile ?? path.join(logsDir, `${name.slice(5).replace(/[^A-Za-z0-9._-]/g, "-")}.log`),
        });
      },
      processes: () => procs,
      logReport,
      stop,
    };
  } catch (err) {
    const report = logReport();
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${report}`, { cause: err });
  }
}
