// The e2e stack: etcd + kube-apiserver (TLS, RBAC, TokenRequest) + NATS
// JetStream (TLS), with the Argo Events CRDs applied, and Argo Events
// eventsource/sensor services run as local "pods".
//
// Binaries come from scripts/e2e/build.sh (cache dir, see versions.env).
// Everything listens on 127.0.0.1 only, on free ports; all state lives in a
// temp dir that stop() removes.
//
// Pods: each eventsource-service / sensor-service runs in its own network and
// mount namespace (unshare; needs root), like a real pod:
//   - its own loopback, so Argo Events' fixed metrics listener (:7777, all
//     interfaces) does not clash between processes and is not exposed;
//     127.0.0.1:<port> of the stack's services (kube-apiserver, NATS and every
//     127.0.0.1 URL found in the object, plus `reachablePorts`) are forwarded
//     into the pod by pod-init.mjs;
//   - its own /tmp (the emptyDir the controller mounts there; the graft leader
//     election log is the hardcoded /tmp/graft.log);
//   - its own /argo-events, where referenced Secrets/ConfigMaps are "mounted"
//     as files, exactly where the controller would mount them:
//     /argo-events/secrets/<secret>/<key>, /argo-events/config/<configmap>/<key>.
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments, stringify as toYaml } from "yaml";

import { KubeRest, type KubeObject } from "./kube-rest.js";
import { haveSetpriv, spawnManaged, tail, type ManagedProcess, type SpawnOptions } from "./process.js";

export { startHttpSink } from "./http-sink.js";
export type { HttpSink, HttpSinkOptions, RecordedRequest, SinkResponder, SinkResponse } from "./http-sink.js";
export type { ExitStatus, ManagedProcess } from "./process.js";
export { KubeApiError, KubeRest, type KubeObject, type KubeResponse } from "./kube-rest.js";

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, "../..");
const POD_INIT = path.join(HERE, "pod-init.mjs");
const FIELD_MANAGER = "resource-hooks-e2e";
/** Where Argo Events reads mounted secrets/configmaps (hardcoded in v1.9.11 pkg/shared/util). */
const ARGO_MOUNT_ROOT = "/argo-events";
/** Fixed metrics port of eventsource-service and sensor-service (":7777", v1alpha1 const.go). */
const ARGO_METRICS_PORT = 7777;

// ------------------------------------------------------------------ versions

export interface StackVersions {
  kubernetes: string;
  etcd: string;
  natsServer: string;
  argoEvents: string;
  /** Only Argo CD's Application CRD is used (installApplicationCrd). */
  argoCd: string;
}

export interface StackBinaries {
  kubeApiServer: string;
  etcd: string;
  natsServer: string;
  argoEvents: string;
}

function readVersionsEnv(): Record<string, string> {
  const file = path.join(REPO_ROOT, "scripts/e2e/versions.env");
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export function cacheDir(): string {
  return process.env.RESOURCE_HOOKS_E2E_CACHE ?? path.join(os.homedir(), ".cache", "resource-hooks-e2e");
}

export function stackVersions(): StackVersions {
  const env = readVersionsEnv();
  const get = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`scripts/e2e/versions.env has no ${k}`);
    return v;
  };
  return {
    kubernetes: get("K8S_VERSION"),
    etcd: get("ETCD_VERSION"),
    natsServer: get("NATS_SERVER_VERSION"),
    argoEvents: get("ARGO_EVENTS_VERSION"),
    argoCd: get("ARGO_CD_VERSION"),
  };
}

/** Paths of the binaries scripts/e2e/build.sh produces (they may not exist yet). */
export function stackBinaries(cache = cacheDir(), v = stackVersions()): StackBinaries {
  return {
    kubeApiServer: path.join(cache, `kube-apiserver-${v.kubernetes}`, "kube-apiserver"),
    etcd: path.join(cache, `etcd-${v.etcd}`, "etcd"),
    natsServer: path.join(cache, `nats-server-${v.natsServer}`, "nats-server"),
    argoEvents: path.join(cache, `argo-events-${v.argoEvents}`, "argo-events"),
  };
}

function goModCache(): string {
  if (process.env.GOMODCACHE) return process.env.GOMODCACHE;
  const r = spawnSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  return path.join(process.env.GOPATH ?? path.join(os.homedir(), "go"), "pkg", "mod");
}

/** The argo-events module source in the Go module cache (downloaded by build.sh). */
export function argoEventsModuleDir(v = stackVersions()): string {
  return path.join(goModCache(), "github.com", "argoproj", `argo-events@${v.argoEvents}`);
}

/** The Argo CD module source in the Go module cache (downloaded by build.sh, component "crds"). */
export function argoCdModuleDir(v = stackVersions()): string {
  return path.join(goModCache(), "github.com", "argoproj", "argo-cd", `v2@${v.argoCd}`);
}

/** Argo CD's Application CRD, as its own release manifests define it. */
export function applicationCrdFile(v = stackVersions()): string {
  return path.join(argoCdModuleDir(v), "manifests", "crds", "application-crd.yaml");
}

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
   * sources, kube-apiserver counts one more WATCH on each watched resource.
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

export interface EventBus {
  namespace: string;
  /** nats://127.0.0.1:<port> (TLS with the stack's CA, no auth, JetStream) */
  url: string;
  port: number;
  /** http://127.0.0.1:<port> (NATS monitoring: /jsz, /healthz, ...) */
  monitorUrl: string;
  /** What pods get in EVENTBUS_CONFIG (before JSON + base64). */
  config: EventBusConfig;
  process: ManagedProcess;
}

/** EVENTBUS_CONFIG: v1alpha1.BusConfig as JSON (only the JetStream member here). */
export interface EventBusConfig {
  jetstream: {
    url: string;
    /** YAML, read by viper; keys as in the controller's default config. */
    streamConfig: string;
  };
}

// ------------------------------------------------------------------ helpers

/** A server on `listenOn` (a socket path, or port and host) that pipes each connection to `connect()`. */
async function forwarder(connect: () => net.Socket, listenOn: [string] | [number, string]): Promise<net.Server> {
  const server = net.createServer((conn) => {
    const other = connect();
    conn.pipe(other);
    other.pipe(conn);
    const destroy = (): void => {
      conn.destroy();
      other.destroy();
    };
    for (const end of [conn, other]) {
      end.on("error", destroy);
      end.on("close", destroy);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (listenOn.length === 1) server.listen(listenOn[0], () => resolve());
    else server.listen(listenOn[0], listenOn[1], () => resolve());
  });
  return server;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something other than undefined. */
export async function pollUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

interface HttpResult {
  status: number;
  body: string;
}

function httpGet(url: string, opts: { ca?: string; token?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "GET", headers, ca: opts.ca, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileP("openssl", args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; code?: string };
    if (e.code === "ENOENT") throw new Error("missing: openssl (needed to make the stack's certificates)");
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr ?? String(err)}`);
  }
}

interface Pki {
  caFile: string;
  caPem: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
}

async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
    "-subj", "/CN=resource-hooks-e2e-ca",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(
    path.join(dir, "server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "",
    ].join("\n"),
  );
  await openssl(dir, [
    "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.crt", "-days", "7", "-extfile", "server.ext",
  ]);
  // service-account token signing key pair (TokenRequest API)
  await openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key"]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const caFile = path.join(dir, "ca.crt");
  return {
    caFile,
    caPem: readFileSync(caFile, "utf8"),
    serverCert: path.join(dir, "server.crt"),
    serverKey: path.join(dir, "server.key"),
    saKey: path.join(dir, "sa.key"),
    saPub: path.join(dir, "sa.pub"),
  };
}

function kubeconfigYaml(server: string, caPem: string, user: string, token: string, namespace = "default"): string {
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "e2e", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "e2e", context: { cluster: "e2e", user, namespace } }],
    "current-context": "e2e",
  });
}

function parseObjects(input: readonly object[] | string): KubeObject[] {
  if (typeof input !== "string") return input.map((o) => o as KubeObject);
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(input)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const v: unknown = doc.toJS();
    if (v && typeof v === "object") out.push(v as KubeObject);
  }
  return out;
}

/** FNV-1a 32-bit, decimal: argo-events' sharedutil.Hasher. */
function fnv32a(s: string): string {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, "utf8")) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return String(h >>> 0);
}

interface Meta {
  name: string;
  namespace: string;
  annotations: Record<string, string>;
}

function objectMeta(obj: object, kind: string): Meta {
  const m = (obj as { metadata?: { name?: unknown; namespace?: unknown; annotations?: unknown } }).metadata;
  if (!m || typeof m.name !== "string" || m.name === "") throw new Error(`${kind} needs metadata.name`);
  const namespace = typeof m.namespace === "string" && m.namespace !== "" ? m.namespace : "default";
  const annotations = (m.annotations && typeof m.annotations === "object" ? m.annotations : {}) as Record<string, string>;
  return { name: m.name, namespace, annotations };
}

interface KeyRef {
  name: string;
  key: string;
}

/**
 * The Secret / ConfigMap key selectors in an object, the way the controller
 * finds them by type (here: by shape, {name, key[, optional]}; a ConfigMap
 * selector is one under configMapKeyRef / configmap / krbConfigConfigMap).
 */
function findKeyRefs(value: unknown): { secrets: KeyRef[]; configMaps: KeyRef[] } {
  const secrets: KeyRef[] = [];
  const configMaps: KeyRef[] = [];
  const cmFields = new Set(["configMapKeyRef", "configmap", "krbConfigConfigMap"]);
  const walk = (v: unknown, field: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, field);
      return;
    }
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (
      typeof o.name === "string" &&
      typeof o.key === "string" &&
      keys.every((k) => k === "name" || k === "key" || k === "optional")
    ) {
      (cmFields.has(field) ? configMaps : secrets).push({ name: o.name, key: o.key });
      return;
    }
    for (const k of keys) walk(o[k], k);
  };
  walk(value, "");
  return { secrets, configMaps };
}

/** 127.0.0.1/localhost ports in URLs anywhere in the object. */
function loopbackPorts(value: unknown): number[] {
  const ports = new Set<number>();
  const re = /\b[a-z][a-z0-9+.-]*:\/\/(?:127\.0\.0\.1|localhost):(\d{1,5})/gi;
  for (const m of JSON.stringify(value).matchAll(re)) ports.add(Number(m[1]));
  return [...ports];
}

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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function underTmp(p: string): boolean {
  return p.startsWith("/tmp/");
}

function realDir(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

// ------------------------------------------------------------------ the stack

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const t0 = performance.now();
  const log = opts.log ?? (process.env.E2E_VERBOSE === "1" ? (m: string) => process.stderr.write(`[e2e] ${m}\n`) : () => {});
  const versions = stackVersions();
  const binaries = stackBinaries(opts.cacheDir ?? cacheDir(), versions);
  const missing = Object.values(binaries).filter((b) => !existsSync(b));
  if (missing.length > 0) {
    throw new Error(`e2e binaries missing (run scripts/e2e/build.sh): ${missing.join(", ")}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error("the e2e stack runs Argo Events processes in their own namespaces (unshare) and needs root");
  }
  for (const [tool, pkg] of [
    ["unshare", "util-linux"],
    ["ip", "iproute2"],
    ["mount", "mount"],
    ["openssl", "openssl"],
  ] as const) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
      throw new Error(`missing: ${tool} (Debian package ${pkg}), needed by the e2e stack`);
    }
  }

  sweepStaleStackDirs();
  const dir = await mkdtemp(path.join(os.tmpdir(), STACK_DIR_PREFIX));
  writeFileSync(path.join(dir, "owner.pid"), String(process.pid));
  const logsDir = path.join(dir, "logs");
  mkdirSync(logsDir);
  const procs: ManagedProcess[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  const keep = opts.keepTempDir ?? process.env.E2E_KEEP_TMP === "1";
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // pods first, then the NATS servers, kube-apiserver, etcd (reverse start order)
      const reversed = [...procs].reverse();
      const pods = reversed.filter((p) => p.name.startsWith("pod/") || p.name.startsWith("proc/"));
      await Promise.all(pods.map((p) => p.stop(5_000)));
      for (const p of reversed.filter((p) => !pods.includes(p))) await p.stop(10_000);
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch {
          // best effort
        }
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
      else log(`kept ${dir}`);
    })();
    return stopped;
  };

  // infrastructure first and short, the Argo Events pods and spawned processes last and longer
  const long = (p: ManagedProcess): boolean => p.name.startsWith("pod/") || p.name.startsWith("proc/");
  const logReport = (lines = 80): string =>
    [...procs.filter((p) => !long(p)), ...procs.filter(long)]
      .map((p) => {
        const n = long(p) ? lines : Math.min(lines, 15);
        return `===== ${p.name} (${p.logFile})${p.isRunning() ? "" : " [exited]"} =====\n${tail(p.logs(), n)}`;
      })
      .join("\n");

  try {
    // ---------------------------------------------------------------- PKI
    let t = performance.now();
    const pki = await makePki(path.join(dir, "pki"));
    const pkiMs = performance.now() - t;

    // ---------------------------------------------------------------- etcd
    t = performance.now();
    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = spawnManaged({
      name: "etcd",
      command: binaries.etcd,
      args: [
        "--name=e2e",
        `--data-dir=${path.join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=e2e=http://127.0.0.1:${etcdPeerPort}`,
        "--unsafe-no-fsync", // throwaway data
        "--log-level=warn",
      ],
      logFile: path.join(logsDir, "etcd.log"),
    });
    procs.push(etcd);
    await pollUntil("etcd /health", 30_000, async () => {
      if (!etcd.isRunning()) throw new Error(`etcd exited:\n${tail(etcd.logs())}`);
      const r = await httpGet(`${etcdUrl}/health`);
      return r.status === 200 && r.body.includes('"true"') ? true : undefined;
    });
    const etcdMs = performance.now() - t;
    log(`etcd ready on ${etcdUrl} (${Math.round(etcdMs)}ms)`);

    // ---------------------------------------------------------------- kube-apiserver
    t = performance.now();
    const apiPort = await freePort();
    const apiServerUrl = `https://127.0.0.1:${apiPort}`;
    const adminToken = randomBytes(24).toString("hex");
    const tokenFile = path.join(dir, "pki", "tokens.csv");
    writeFileSync(tokenFile, `${adminToken},e2e-admin,e2e-admin,"system:masters"\n`, { mode: 0o600 });
    const apiserver = spawnManaged({
      name: "kube-apiserver",
      command: binaries.kubeApiServer,
      args: [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${path.join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caFile}`,
        `--token-auth-file=${tokenFile}`,
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--service-cluster-ip-range=10.96.0.0/24",
        // 127.0.0.1 is not a valid Endpoints address; nothing needs the
        // "kubernetes" Service's endpoints here
        "--endpoint-reconciler-type=none",
        "--allow-privileged=false",
        "--profiling=false",
        "--v=1",
        ...(opts.apiServerArgs ?? []),
      ],
      logFile: path.join(logsDir, "kube-apiserver.log"),
    });
    procs.push(apiserver);
    await pollUntil(
      "kube-apiserver /readyz",
      90_000,
      async () => {
        if (!apiserver.isRunning()) throw new Error(`kube-apiserver exited:\n${tail(apiserver.logs())}`);
        const r = await httpGet(`${apiServerUrl}/readyz`, { ca: pki.caPem, token: adminToken });
        return r.status === 200 ? true : undefined;
      },
      200,
    );
    const apiServerMs = performance.now() - t;
    log(`kube-apiserver ready on ${apiServerUrl} (${Math.round(apiServerMs)}ms)`);

    const adminKubeconfig = path.join(dir, "admin.kubeconfig");
    writeFileSync(adminKubeconfig, kubeconfigYaml(apiServerUrl, pki.caPem, "e2e-admin", adminToken), { mode: 0o600 });
    const kubeConfig = async (): Promise<KubeConfig> => {
      const kc = new KubeConfig();
      kc.loadFromFile(adminKubeconfig);
      return kc;
    };
    const admin = KubeRest.fromKubeconfig(adminKubeconfig);
    const core = admin.kubeConfig.makeApiClient(CoreV1Api);

    const applyOne = async (obj: KubeObject): Promise<KubeObject> => {
      // a just-created CRD may need a moment before its kind resolves
      let lastErr: unknown;
      for (let i = 0; i < 50; i++) {
        try {
          return await admin.apply(obj, FIELD_MANAGER);
        } catch (err) {
          lastErr = err;
          if (!/no resource for kind/.test(String(err))) break;
          await sleep(200);
        }
      }
      throw new Error(`apply ${obj.kind ?? "?"} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? "?"} failed: ${String(lastErr)}`);
    };
    const apply = async (input: readonly object[] | string): Promise<KubeObject[]> => {
      const out: KubeObject[] = [];
      for (const obj of parseObjects(input)) out.push(await applyOne(obj));
      return out;
    };
    const del = async (input: readonly object[] | string): Promise<void> => {
      for (const obj of parseObjects(input).reverse()) await admin.delete(obj);
    };
    const apiGet = async (p: string): Promise<HttpResult> => {
      const r = await admin.request("GET", p);
      return { status: r.status, body: r.body };
    };

    // ---------------------------------------------------------------- CRDs
    t = performance.now();
    const crdDir = path.join(argoEventsModuleDir(versions), "manifests", "base", "crds");
    const crdFiles = ["argoproj.io_eventbus.yaml", "argoproj.io_eventsources.yaml", "argoproj.io_sensors.yaml"].map((f) =>
      path.join(crdDir, f),
    );
    for (const f of crdFiles) {
      if (!existsSync(f)) throw new Error(`Argo Events CRD not found: ${f} (run scripts/e2e/build.sh, which downloads the module)`);
    }
    const crds = await apply((await Promise.all(crdFiles.map((f) => readFile(f, "utf8")))).join("\n---\n"));
    for (const crd of crds) {
      const name = crd.metadata?.name ?? "";
      await pollUntil(`CRD ${name} Established`, 30_000, async () => {
        const c = await admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
      });
    }
    const crdsMs = performance.now() - t;
    const establishCrd = async (crd: KubeObject): Promise<void> => {
      const name = crd.metadata?.name ?? "";
      await pollUntil(`CRD ${name} Established`, 30_000, async () => {
        const c = await admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
      });
    };
    const installApplicationCrd = async (): Promise<KubeObject> => {
      const file = applicationCrdFile(versions);
      if (!existsSync(file)) {
        throw new Error(`Argo CD Application CRD not found: ${file} (run scripts/e2e/build.sh crds, which downloads github.com/argoproj/argo-cd/v2@${versions.argoCd})`);
      }
      const [crd] = await apply(await readFile(file, "utf8"));
      if (!crd) throw new Error(`${file} holds no object`);
      await establishCrd(crd);
      return crd;
    };
    log(`CRDs established (${Math.round(crdsMs)}ms)`);

    // ---------------------------------------------------------------- NATS JetStream
    // One JetStream server per namespace, like the EventBus "default" of each
    // namespace (stream "default", KV buckets named after sensors: sharing one
    // server across namespaces would mix same-named EventSources/Sensors).
    const buses = new Map<string, Promise<EventBus>>();
    const startBus = async (namespace: string): Promise<EventBus> => {
      const port = await freePort();
      const monPort = await freePort();
      const safe = namespace.replace(/[^a-z0-9-]/g, "_");
      const conf = path.join(dir, `nats-${safe}.conf`);
      // The controller's JetStream bus runs with TLS (self-signed; clients skip
      // verification, and they always ask for TLS) and basic auth; here: TLS, no auth.
      writeFileSync(
        conf,
        [
          `server_name: eventbus-${safe}`,
          `listen: 127.0.0.1:${port}`,
          `http: 127.0.0.1:${monPort}`,
          "max_payload: 1MB",
          "jetstream {",
          `  store_dir: ${JSON.stringify(path.join(dir, `jetstream-${safe}`))}`,
          "  max_memory_store: 256MB",
          "  max_file_store: 2GB",
          "}",
          "tls {",
          `  cert_file: ${JSON.stringify(pki.serverCert)}`,
          `  key_file: ${JSON.stringify(pki.serverKey)}`,
          "}",
          "",
        ].join("\n"),
      );
      const proc = spawnManaged({
        name: `nats-server/${namespace}`,
        command: binaries.natsServer,
        args: ["-c", conf],
        logFile: path.join(logsDir, `nats-server-${safe}.log`),
      });
      procs.push(proc);
      const url = `nats://127.0.0.1:${port}`;
      const monitorUrl = `http://127.0.0.1:${monPort}`;
      await pollUntil(`nats-server /healthz (${namespace})`, 30_000, async () => {
        if (!proc.isRunning()) throw new Error(`nats-server exited:\n${tail(proc.logs())}`);
        const r = await httpGet(`${monitorUrl}/healthz?js-enabled-only=true`);
        return r.status === 200 ? true : undefined;
      });
      log(`event bus of namespace ${namespace}: ${url}`);
      return {
        namespace,
        url,
        port,
        monitorUrl,
        process: proc,
        // The stream settings the controller passes in EVENTBUS_CONFIG (its
        // default streamConfig from the install manifests), with replicas 1: a
        // single server here.
        config: {
          jetstream: {
            url,
            streamConfig: [
              "maxMsgs: 50000",
              "maxAge: 168h",
              "maxBytes: -1",
              "replicas: 1",
              "duplicates: 300s",
              "retention: 0",
              "discard: 0",
              "",
            ].join("\n"),
          },
        },
      };
    };
    const eventBus = (namespace: string): Promise<EventBus> => {
      let bus = buses.get(namespace);
      if (!bus) {
        bus = startBus(namespace);
        buses.set(namespace, bus);
      }
      return bus;
    };
    t = performance.now();
    await eventBus("default");
    const natsMs = performance.now() - t;

    // ---------------------------------------------------------------- pods
    // The empty mount point of every pod's /argo-events. Left in place by stop(): stacks of
    // other test runs on this machine may be using it (the pod script also recreates it).
    mkdirSync(ARGO_MOUNT_ROOT, { recursive: true });
    const sockDir = path.join(dir, "sock");
    mkdirSync(sockDir);
    /** host side of outbound forwards: unix socket -> 127.0.0.1:port */
    const outbound = new Map<number, string>();
    const outboundSocket = async (port: number): Promise<string> => {
      const existing = outbound.get(port);
      if (existing) return existing;
      const socket = path.join(sockDir, `to-${port}.sock`);
      const server = await forwarder(() => net.connect(port, "127.0.0.1"), [socket]);
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      outbound.set(port, socket);
      return socket;
    };

    let saKubeconfigCount = 0;
    const kubeconfigForServiceAccount = async (
      namespace: string,
      name: string,
      o: { expirationSeconds?: number } = {},
    ): Promise<string> => {
      const tr = await core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [], expirationSeconds: o.expirationSeconds ?? 3600 } },
      });
      const token = tr.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      saKubeconfigCount += 1;
      const file = path.join(dir, `sa-${namespace}-${name}-${saKubeconfigCount}.kubeconfig`);
      await writeFile(file, kubeconfigYaml(apiServerUrl, pki.caPem, `system:serviceaccount:${namespace}:${name}`, token, namespace), {
        mode: 0o600,
      });
      return file;
    };

    /** What the kubelet would put in a secret / configmap volume. */
    const readMounted = async (
      kind: "Secret" | "ConfigMap",
      namespace: string,
      name: string,
    ): Promise<Record<string, string> | undefined> => {
      const o = await admin.read<{ data?: Record<string, string>; binaryData?: Record<string, string> }>({
        apiVersion: "v1",
        kind,
        metadata: { name, namespace },
      });
      if (!o) return undefined;
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.data ?? {})) out[k] = kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v;
      return out;
    };

    const writeMounted = (root: string, data: MountedData): void => {
      for (const [name, keys] of Object.entries(data)) {
        const d = path.join(root, name);
        mkdirSync(d, { recursive: true });
        for (const [k, v] of Object.entries(keys)) writeFileSync(path.join(d, k), v, { mode: 0o644 });
      }
    };

    let podCounter = 0;
    const keepVisible = [dir, path.dirname(binaries.argoEvents), path.dirname(process.execPath), HERE]
      .map(realDir)
      .filter(underTmp);
    const startPod = async (kind: "eventsource" | "sensor", obj: object, po: StartPodOptions): Promise<ArgoProcess> => {
      const meta = objectMeta(obj, kind === "eventsource" ? "EventSource" : "Sensor");
      const spec = (obj as { spec?: unknown }).spec;
      if (!spec || typeof spec !== "object") throw new Error(`${kind} ${meta.name} has no spec`);
      podCounter += 1;
      const podName = `${meta.name}-${kind}-e2e${podCounter}`;
      const podDir = path.join(dir, "pods", podName);
      const podTmp = path.join(podDir, "tmp");
      const podMounts = path.join(podDir, "argo-events");
      mkdirSync(podTmp, { recursive: true });
      mkdirSync(path.join(podMounts, "secrets"), { recursive: true });
      mkdirSync(path.join(podMounts, "config"), { recursive: true });

      // mounted secrets / configmaps
      const refs = findKeyRefs(spec);
      const secrets: MountedData = { ...(po.secrets ?? {}) };
      const configMaps: MountedData = { ...(po.configMaps ?? {}) };
      for (const [kindName, list, into] of [
        ["Secret", refs.secrets, secrets],
        ["ConfigMap", refs.configMaps, configMaps],
      ] as const) {
        for (const ref of list) {
          if (into[ref.name]) continue;
          const data = await readMounted(kindName, meta.namespace, ref.name);
          if (!data) {
            throw new Error(
              `${kind} ${meta.namespace}/${meta.name} references ${kindName} ${ref.name} (key ${ref.key}), ` +
                `which is neither in the cluster nor given in opts (a pod would not start)`,
            );
          }
          into[ref.name] = data;
        }
      }
      writeMounted(path.join(podMounts, "secrets"), secrets);
      writeMounted(path.join(podMounts, "config"), configMaps);

      const bus = await eventBus(meta.namespace);
      const kubeconfig = po.serviceAccount
        ? await kubeconfigForServiceAccount(po.serviceAccount.namespace, po.serviceAccount.name)
        : adminKubeconfig;

      // what the controller puts in the pod (pkg/reconciler/{eventsource,sensor}/resource.go)
      const objectForPod = { metadata: { name: meta.name, namespace: meta.namespace }, spec };
      const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64");
      const argoEnv: Record<string, string> = {
        [kind === "eventsource" ? "EVENTSOURCE_OBJECT" : "SENSOR_OBJECT"]: b64(objectForPod),
        EVENTBUS_SUBJECT: `eventbus-${meta.namespace}`,
        POD_NAME: podName,
        LEADER_ELECTION: meta.annotations["events.argoproj.io/leader-election"] ?? "",
        EVENTBUS_CONFIG: b64(bus.config),
        KUBECONFIG: kubeconfig,
        ...(po.env ?? {}),
      };

      const apiPortNum = Number(new URL(apiServerUrl).port);
      const outPorts = new Set<number>([apiPortNum, bus.port, ...loopbackPorts(spec), ...(po.reachablePorts ?? [])]);
      const outboundCfg: Array<{ port: number; socket: string }> = [];
      for (const port of outPorts) outboundCfg.push({ port, socket: await outboundSocket(port) });

      const inboundCfg: Array<{ port: number; socket: string }> = [];
      const hostPorts = new Map<number, number>();
      for (const port of new Set([ARGO_METRICS_PORT, ...(po.exposePorts ?? [])])) {
        const socket = path.join(podDir, `from-${port}.sock`);
        inboundCfg.push({ port, socket });
        const hostPort = await freePort();
        const server = await forwarder(() => net.connect(socket), [hostPort, "127.0.0.1"]);
        cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
        hostPorts.set(port, hostPort);
      }

      const script = [
        "set -eu",
        "ip link set lo up",
        // keep what lives under /tmp on the host visible at the same path
        'printf "%s\\n" "$E2E_POD_KEEP" | while IFS= read -r p; do',
        '  [ -n "$p" ] || continue',
        '  rel="${p#/tmp/}"',
        '  mkdir -p "$E2E_POD_TMP/$rel"',
        '  mount --bind "$p" "$E2E_POD_TMP/$rel"',
        "done",
        'mount --rbind "$E2E_POD_TMP" /tmp',
        `mkdir -p ${ARGO_MOUNT_ROOT}`,
        `mount --bind "$E2E_POD_MOUNTS" ${ARGO_MOUNT_ROOT}`,
        'exec "$E2E_POD_NODE" "$E2E_POD_INIT"',
      ].join("\n");
      const env: NodeJS.ProcessEnv = {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: "/tmp",
        ...argoEnv,
        E2E_POD_KEEP: keepVisible.join("\n"),
        E2E_POD_TMP: podTmp,
        E2E_POD_MOUNTS: podMounts,
        E2E_POD_NODE: process.execPath,
        E2E_POD_INIT: POD_INIT,
        E2E_POD_CONFIG: JSON.stringify({
          command: binaries.argoEvents,
          args: [kind === "eventsource" ? "eventsource-service" : "sensor-service"],
          setpriv: haveSetpriv(),
          outbound: outboundCfg,
          inbound: inboundCfg,
        }),
      };
      const baseline =
        kind === "eventsource" ? await Promise.all(resourceWatches(spec).map((w) => watchCount(w.resource, w.group))) : [];
      const proc = spawnManaged({
        name: `pod/${podName}`,
        command: "unshare",
        args: ["--mount", "--net", "--fork", "--kill-child", "--propagation", "private", "sh", "-c", script],
        env,
        cwd: "/",
        logFile: path.join(logsDir, `${podName}.log`),
      });
      procs.push(proc);

      const waitReady = async (timeoutMs = po.readyTimeoutMs ?? 60_000): Promise<void> => {
        const deadline = Date.now() + timeoutMs;
        const left = (): number => Math.max(1, deadline - Date.now());
        if (kind === "eventsource") {
          await proc.waitForLog("Eventing server started.", left());
          const watches = resourceWatches(spec);
          for (const [i, w] of watches.entries()) {
            const before = baseline[i] ?? 0;
            await pollUntil(`a WATCH on ${w.resource} from ${podName}`, left(), async () => {
              if (!proc.isRunning()) throw new Error(`${podName} exited:\n${tail(proc.logs())}`);
              return (await watchCount(w.resource, w.group)) > before ? true : undefined;
            });
          }
        } else {
          await proc.waitForLog("Sensor started.", left());
          const durables = sensorDurables(meta.name, spec);
          await pollUntil(`JetStream consumers of ${podName}`, left(), async () => {
            if (!proc.isRunning()) throw new Error(`${podName} exited:\n${tail(proc.logs())}`);
            const have = await consumerNames(bus.monitorUrl);
            return durables.every((d) => have.has(d)) ? true : undefined;
          });
        }
      };

      const argoProc: ArgoProcess = {
        ...proc,
        kind,
        namespace: meta.namespace,
        objectName: meta.name,
        podName,
        podDir,
        hostPort: (podPort: number): number => {
          const p = hostPorts.get(podPort);
          if (p === undefined) throw new Error(`${podName}: port ${podPort} was not in exposePorts`);
          return p;
        },
        waitReady,
        metrics: async (): Promise<string> => {
          const r = await httpGet(`http://127.0.0.1:${argoProc.hostPort(ARGO_METRICS_PORT)}/metrics`);
          if (r.status !== 200) throw new Error(`${podName} /metrics: HTTP ${r.status}`);
          return r.body;
        },
      };
      if (po.waitReady ?? true) {
        try {
          await waitReady();
        } catch (err) {
          throw new Error(`${String(err)}\n----- ${podName} log -----\n${tail(proc.logs(), 80)}`);
        }
      }
      return argoProc;
    };

    const consumerNames = async (monitorUrl: string): Promise<Set<string>> => {
      const r = await httpGet(`${monitorUrl}/jsz?consumers=true`);
      const j = JSON.parse(r.body) as {
        account_details?: Array<{ stream_detail?: Array<{ consumer_detail?: Array<{ name?: string }> }> }>;
      };
      const names = new Set<string>();
      for (const a of j.account_details ?? [])
        for (const s of a.stream_detail ?? []) for (const c of s.consumer_detail ?? []) if (c.name) names.add(c.name);
      return names;
    };

    const watchCount = async (resource: string, group = ""): Promise<number> => {
      const r = await apiGet("/metrics");
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
      let sum = 0;
      for (const line of r.body.split("\n")) {
        if (!line.startsWith("apiserver_longrunning_requests{")) continue;
        if (!line.includes('verb="WATCH"') || !line.includes(`resource="${resource}"`) || !line.includes(`group="${group}"`)) continue;
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return sum;
    };

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
    const lintObjects = async (objects: readonly object[], o: { strict?: boolean } = {}): Promise<LintResult> => {
      lintCounter += 1;
      const file = path.join(dir, `lint-${lintCounter}.yaml`);
      // `argo-events lint` splits documents on "\n---\n"
      await writeFile(file, objects.map((x) => toYaml(x)).join("---\n"));
      return lint([file], o);
    };

    const totalMs = performance.now() - t0;
    log(`stack ready in ${Math.round(totalMs)}ms (dir ${dir})`);
    return {
      dir,
      versions,
      binaries,
      timings: { pkiMs, etcdMs, apiServerMs, crdsMs, natsMs, totalMs },
      apiServerUrl,
      caFile: pki.caFile,
      adminKubeconfig,
      kubeConfig,
      admin,
      restClient: (file: string) => KubeRest.fromKubeconfig(file),
      kubeconfigForServiceAccount,
      apply,
      installApplicationCrd,
      delete: del,
      eventBus,
      startEventSource: (es, o = {}) => startPod("eventsource", es, o),
      startSensor: (s, o = {}) => startPod("sensor", s, o),
      lint,
      lintObjects,
      watchCount,
      apiGet,
      spawn: (o) => {
        const name = o.name.startsWith("proc/") ? o.name : `proc/${o.name}`;
        const proc = spawnManaged({ ...o, name, logFile: o.logFile ?? path.join(logsDir, `${name.slice(5).replace(/[^A-Za-z0-9._-]/g, "-")}.log`) });
        procs.push(proc);
        return proc;
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

/** (group, resource) of each entry of a resource EventSource's spec.resource. */
function resourceWatches(spec: unknown): Array<{ group: string; resource: string }> {
  const res = (spec as { resource?: Record<string, { group?: string; resource?: string }> }).resource ?? {};
  return Object.values(res)
    .filter((r) => typeof r.resource === "string")
    .map((r) => ({ group: r.group ?? "", resource: r.resource ?? "" }));
}

/**
 * Durable consumer names the sensor creates: one per trigger and dependency in
 * the trigger's conditions (all dependencies without conditions);
 * pkg/eventbus/jetstream/sensor getDurableName.
 */
function sensorDurables(sensorName: string, spec: unknown): string[] {
  const s = spec as {
    dependencies?: Array<{ name?: string }>;
    triggers?: Array<{ template?: { name?: string; conditions?: string } }>;
  };
  const deps = (s.dependencies ?? []).map((d) => d.name ?? "").filter((n) => n !== "");
  const out: string[] = [];
  for (const t of s.triggers ?? []) {
    const name = t.template?.name ?? "";
    const cond = t.template?.conditions ?? "";
    const used = cond === "" ? deps : deps.filter((d) => new RegExp(`(^|[^A-Za-z0-9_-])${d.replace(/[-.]/g, "\\$&")}($|[^A-Za-z0-9_-])`).test(cond));
    for (const d of used) out.push(`group-${fnv32a(`${sensorName}-${name}-${d}`)}`);
  }
  return out;
}
