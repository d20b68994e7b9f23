// The real Argo CD in the e2e stack: argocd-application-controller and argocd-repo-server
// (one `argocd` binary built from github.com/argoproj/argo-cd/v3, which acts by the name in
// ARGOCD_BINARY_NAME), with Redis (Debian's redis-server) as their cache, started as host
// processes against the stack's kube-apiserver. What a real install has, they get:
//   - namespace argocd with argocd-cm, argocd-rbac-cm, argocd-secret (labelled
//     app.kubernetes.io/part-of=argocd: the settings informers only see labelled objects);
//   - Argo CD's CRDs from the same module (Application, AppProject) and the "default"
//     AppProject that argocd-server would create;
//   - ServiceAccount argocd-application-controller with the ClusterRole of Argo CD's install
//     manifests (everything), whose TokenRequest token is its kubeconfig;
//   - the in-cluster destination (https://kubernetes.default.svc) is the stack's kube-apiserver:
//     ARGOCD_FAKE_IN_CLUSTER=true makes the controller build that cluster's client from
//     KUBECONFIG (its development mode, v3 pkg/apis/application/v1alpha1 rawRestConfig) instead
//     of the pod's mounted token;
//   - the repo server speaks plaintext gRPC (--disable-tls / --repo-server-plaintext): both
//     ends are on this machine's loopback.
// The controller runs in its own network and mount namespace (netns.ts): its metrics server
// listens on 0.0.0.0 with no flag to change it. The repo server runs with a private /tmp only:
// its askpass socket has the fixed path /tmp/reposerver-ask-pass.sock; its listeners take
// --address 127.0.0.1.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { Watch } from "@kubernetes/client-node";

import {
  cacheDir,
  freePort,
  pollUntil,
  stackVersions,
  type KubeObject,
  type ManagedProcess,
  type Stack,
} from "../stack.js";
import { httpGet } from "./http.js";
import { startIsolated, type IsolatedProcess } from "./netns.js";

export const ARGOCD_NAMESPACE = "argocd";
/** Destination server of the cluster Argo CD runs in. */
export const IN_CLUSTER = "https://kubernetes.default.svc";
const CONTROLLER_SA = "argocd-application-controller";
/** Ports inside the namespaces (Argo CD's defaults; nothing else listens there). */
const CONTROLLER_METRICS_PORT = 8082;

export function argoCdVersion(): string {
  return stackVersions().argoCd;
}

/** The argocd binary and, next to it, crds/ (what scripts/e2e/build.sh argocd makes). */
export function argoCdBinary(cache = cacheDir()): string {
  return path.join(cache, `argocd-${argoCdVersion()}`, "argocd");
}

/** Argo CD's CRD files (Application, AppProject) of the built version. */
export function argoCdCrdFiles(cache = cacheDir()): string[] {
  const dir = path.join(path.dirname(argoCdBinary(cache)), "crds");
  return ["application-crd.yaml", "appproject-crd.yaml"].map((f) => path.join(dir, f));
}

/** The script the repo server runs from PATH to verify commit signatures (Argo CD's image has it). */
function gitVerifyWrapper(cache = cacheDir()): string {
  return path.join(path.dirname(argoCdBinary(cache)), "git-verify-wrapper.sh");
}

export interface Application extends KubeObject {
  spec: Record<string, unknown>;
  operation?: Record<string, unknown>;
  status?: ApplicationStatus;
}

export interface ApplicationStatus {
  sync?: { status?: string; revision?: string; revisions?: string[] };
  health?: { status?: string; message?: string; lastTransitionTime?: string };
  operationState?: {
    phase?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    retryCount?: number;
    operation?: Record<string, unknown>;
    syncResult?: {
      revision?: string;
      resources?: Array<{
        group?: string;
        version?: string;
        kind?: string;
        namespace?: string;
        name?: string;
        status?: string;
        message?: string;
        hookPhase?: string;
        hookType?: string;
        syncPhase?: string;
      }>;
    };
  };
  history?: Array<{ id?: number; revision?: string; deployedAt?: string; deployStartedAt?: string }>;
  reconciledAt?: string;
  resources?: Array<{
    kind?: string;
    name?: string;
    namespace?: string;
    status?: string;
    health?: { status?: string };
  }>;
  conditions?: Array<{ type?: string; message?: string }>;
  [k: string]: unknown;
}

/** One write to an Application as seen by a watch: its resourceVersion and the whole object. */
export interface ApplicationWrite {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resourceVersion: string;
  /** Date.now() when the event arrived. */
  at: number;
  object: Application;
}

export interface ApplicationRecorder {
  readonly writes: ApplicationWrite[];
  /** Resolves with the first write from index `from` on (default 0: also those already recorded) that satisfies `pred`. */
  waitFor(
    what: string,
    pred: (app: Application) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<ApplicationWrite>;
  stop(): void;
}

export interface SyncRequest {
  revision?: string;
  dryRun?: boolean;
  prune?: boolean;
  syncOptions?: string[];
  resources?: Array<{ group?: string; kind: string; name: string; namespace?: string }>;
  retry?: { limit: number; backoff?: { duration?: string; factor?: number; maxDuration?: string } };
  /** Who asked (operation.initiatedBy.username); default "e2e". */
  username?: string;
}

export interface ArgoCd {
  readonly namespace: string;
  readonly version: string;
  readonly redis: ManagedProcess;
  readonly repoServer: IsolatedProcess;
  readonly controller: IsolatedProcess;
  /** The controller's ServiceAccount kubeconfig (its identity in the cluster). */
  readonly controllerKubeconfig: string;
  readonly timings: { setupMs: number; redisMs: number; repoServerMs: number; controllerMs: number; totalMs: number };
  /** Creates (server-side apply) an Application in the argocd namespace. */
  applyApplication(app: {
    name: string;
    spec: Record<string, unknown>;
    annotations?: Record<string, string>;
  }): Promise<Application>;
  getApplication(name: string): Promise<Application | undefined>;
  /** Polls the Application until `pred` holds. */
  waitForApplication(
    name: string,
    what: string,
    pred: (app: Application) => boolean,
    timeoutMs?: number,
  ): Promise<Application>;
  /**
   * Asks the controller to refresh now: the argocd.argoproj.io/refresh annotation, which is
   * what Argo CD's Git webhook handler and `argocd app get --refresh` set.
   */
  refresh(name: string, kind?: "normal" | "hard"): Promise<void>;
  /** Starts a sync the way `argocd app sync` does: it writes `operation` on the Application. */
  sync(name: string, req?: SyncRequest): Promise<void>;
  /** Watches the Application from now on and records every write (the controller's and others'). */
  record(name: string): Promise<ApplicationRecorder>;
  /** GET /metrics of the controller. */
  controllerMetrics(): Promise<string>;
  stop(): Promise<void>;
}

const partOf = { "app.kubernetes.io/part-of": "argocd" };

export interface ArgoCdOptions {
  cacheDir?: string;
  /**
   * Seconds between the controller's periodic refreshes of each Application (--app-resync;
   * Argo CD's default is 120). Tests call refresh() after a commit, as a Git webhook would.
   */
  appResyncSeconds?: number;
  /** Extra data for argocd-cm (e.g. resource.customizations). */
  argocdCm?: Record<string, string>;
  /** Extra controller flags. */
  controllerArgs?: string[];
  logLevel?: "debug" | "info" | "warn";
}

export async function startArgoCd(stack: Stack, opts: ArgoCdOptions = {}): Promise<ArgoCd> {
  const t0 = performance.now();
  const binary = argoCdBinary(opts.cacheDir);
  const crdFiles = argoCdCrdFiles(opts.cacheDir);
  const missing = [binary, gitVerifyWrapper(opts.cacheDir), ...crdFiles].filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`Argo CD not built (run scripts/e2e/build.sh argocd): ${missing.join(", ")}`);
  for (const tool of ["redis-server", "git"]) {
    const found = (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(path.join(d, tool)));
    if (!found) throw new Error(`missing: ${tool} (Debian package ${tool}), needed by the Argo CD e2e components`);
  }
  const dir = path.join(stack.dir, "components", "argocd");
  mkdirSync(dir, { recursive: true });
  const ns = ARGOCD_NAMESPACE;
  const logLevel = opts.logLevel ?? "info";
  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const p of [...started].reverse()) await p.stop(5_000);
  };

  try {
    // ------------------------------------------------------------ cluster objects
    let t = performance.now();
    const crds = await stack.apply(crdFiles.map((f) => readFileSync(f, "utf8")).join("\n---\n"));
    for (const crd of crds) {
      await pollUntil(`CRD ${crd.metadata?.name ?? "?"} Established`, 30_000, async () => {
        const c = await stack.admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name ?? ""}`,
        );
        return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
      });
    }
    await stack.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "argocd-cm", namespace: ns, labels: partOf },
        data: { ...opts.argocdCm },
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "argocd-rbac-cm", namespace: ns, labels: partOf },
        data: {},
      },
      // server.secretkey is what argocd-server would generate on first start; the controller
      // only needs the Secret to exist
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "argocd-secret", namespace: ns, labels: partOf },
        type: "Opaque",
        stringData: { "server.secretkey": Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") },
      },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: CONTROLLER_SA, namespace: ns, labels: partOf } },
      // the ClusterRole of Argo CD's install.yaml for the application controller
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: CONTROLLER_SA, labels: partOf },
        rules: [
          { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
          { nonResourceURLs: ["*"], verbs: ["*"] },
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: CONTROLLER_SA, labels: partOf },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONTROLLER_SA },
        subjects: [{ kind: "ServiceAccount", name: CONTROLLER_SA, namespace: ns }],
      },
      // what argocd-server creates at start-up (util/db ... / server.go initializeDefaultProject)
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: "default", namespace: ns },
        spec: {
          sourceRepos: ["*"],
          destinations: [{ server: "*", namespace: "*" }],
          clusterResourceWhitelist: [{ group: "*", kind: "*" }],
        },
      },
    ]);
    const controllerKubeconfig = await stack.kubeconfigForServiceAccount(ns, CONTROLLER_SA, {
      expirationSeconds: 12 * 3600,
    });
    const setupMs = performance.now() - t;

    // ------------------------------------------------------------ redis
    t = performance.now();
    const redisPort = await freePort();
    const redisDir = path.join(dir, "redis");
    mkdirSync(redisDir, { recursive: true });
    const redis = stack.spawn({
      name: "argocd-redis",
      command: "redis-server",
      // a cache: no persistence, like Argo CD's own redis (--save "" --appendonly no)
      args: [
        "--bind",
        "127.0.0.1",
        "--port",
        String(redisPort),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        redisDir,
        "--protected-mode",
        "yes",
      ],
    });
    started.push(redis);
    await redis.waitForLog("Ready to accept connections", 30_000);
    const redisMs = performance.now() - t;

    const common = {
      ARGOCD_GPG_ENABLED: "false",
      ARGOCD_LOG_FORMAT_ENABLE_FULL_TIMESTAMP: "true",
      // the argocd binary's directory on PATH: git's askpass helper is `argocd` itself, and
      // git-verify-wrapper.sh is there
      PATH: `${path.dirname(binary)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    };

    // ------------------------------------------------------------ repo server
    // On the host's network (it must reach any Git server the tests start; its listeners take
    // an address), with a private /tmp.
    t = performance.now();
    const repoPort = await freePort();
    const repoServer = await startIsolated(stack, {
      name: "argocd-repo-server",
      network: "host",
      command: binary,
      args: [
        "--address",
        "127.0.0.1",
        "--port",
        String(repoPort),
        "--metrics-address",
        "127.0.0.1",
        "--metrics-port",
        String(await freePort()),
        "--disable-tls",
        // its default is the Secret mount path of a pod; with --disable-tls it must be empty
        "--client-ca-path=",
        "--redis",
        `127.0.0.1:${redisPort}`,
        "--logformat",
        "text",
        "--loglevel",
        logLevel,
      ],
      env: { ...common, ARGOCD_BINARY_NAME: "argocd-repo-server" },
    });
    started.push(repoServer);
    await repoServer.waitForLog("argocd-repo-server is listening on", 60_000);
    const repoServerMs = performance.now() - t;

    // ------------------------------------------------------------ application controller
    t = performance.now();
    const apiPort = Number(new URL(stack.apiServerUrl).port);
    const controller = await startIsolated(stack, {
      name: "argocd-application-controller",
      command: binary,
      args: [
        `--kubeconfig=${controllerKubeconfig}`,
        `--namespace=${ns}`,
        `--repo-server=127.0.0.1:${repoPort}`,
        "--repo-server-plaintext",
        `--redis=127.0.0.1:${redisPort}`,
        `--metrics-port=${CONTROLLER_METRICS_PORT}`,
        `--app-resync=${opts.appResyncSeconds ?? 120}`,
        // two cores: fewer workers than the defaults (20 status, 10 operation processors)
        "--status-processors=4",
        "--operation-processors=2",
        "--logformat=text",
        `--loglevel=${logLevel}`,
        ...(opts.controllerArgs ?? []),
      ],
      env: {
        ...common,
        ARGOCD_BINARY_NAME: "argocd-application-controller",
        ARGOCD_FAKE_IN_CLUSTER: "true",
        KUBECONFIG: controllerKubeconfig,
      },
      reachablePorts: [apiPort, redisPort, repoPort],
      exposePorts: [CONTROLLER_METRICS_PORT],
    });
    started.push(controller);
    const metricsUrl = `http://127.0.0.1:${controller.hostPort(CONTROLLER_METRICS_PORT)}`;
    await pollUntil(
      "argocd-application-controller /healthz",
      90_000,
      async () => {
        if (!controller.isRunning())
          throw new Error(`argocd-application-controller exited:\n${controller.logs().slice(-4000)}`);
        return (await httpGet(`${metricsUrl}/healthz`)).status === 200 ? true : undefined;
      },
      250,
    );
    const controllerMs = performance.now() - t;

    // ------------------------------------------------------------ helpers
    const appPath = (name: string): string => `/apis/argoproj.io/v1alpha1/namespaces/${ns}/applications/${name}`;
    const getApplication = async (name: string): Promise<Application | undefined> => {
      const r = await stack.admin.request("GET", appPath(name));
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new Error(`GET application ${name}: HTTP ${r.status} ${r.body}`);
      return r.json as Application;
    };
    const mergePatch = async (name: string, patch: unknown): Promise<void> => {
      await stack.admin.call("PATCH", appPath(name), { body: patch, contentType: "application/merge-patch+json" });
    };

    const record = async (name: string): Promise<ApplicationRecorder> => {
      const writes: ApplicationWrite[] = [];
      const listeners = new Set<() => void>();
      const watch = new Watch(await stack.kubeConfig());
      let stopped = false;
      let req: { abort(): void } | undefined;
      const start = async (resourceVersion?: string): Promise<void> => {
        req = await watch.watch(
          `/apis/argoproj.io/v1alpha1/namespaces/${ns}/applications`,
          {
            fieldSelector: `metadata.name=${name}`,
            ...(resourceVersion ? { resourceVersion } : {}),
            allowWatchBookmarks: false,
          },
          (type: string, obj: Application) => {
            if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") return;
            writes.push({ type, resourceVersion: obj.metadata?.resourceVersion ?? "", at: Date.now(), object: obj });
            for (const l of listeners) l();
          },
          () => {
            // the server ends watches after a while: continue from the last version seen
            if (!stopped) void start(writes.at(-1)?.resourceVersion ?? resourceVersion);
          },
        );
      };
      // start from the current version so that nothing between now and the first event is lost
      const current = await getApplication(name);
      if (current)
        writes.push({
          type: "ADDED",
          resourceVersion: current.metadata?.resourceVersion ?? "",
          at: Date.now(),
          object: current,
        });
      await start(current?.metadata?.resourceVersion);
      return {
        writes,
        waitFor: (what, pred, timeoutMs = 60_000, from = 0) =>
          new Promise<ApplicationWrite>((resolve, reject) => {
            const check = (): boolean => {
              const hit = writes.slice(from).find((w) => pred(w.object));
              if (!hit) return false;
              listeners.delete(check);
              clearTimeout(timer);
              resolve(hit);
              return true;
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              reject(new Error(`timed out after ${timeoutMs}ms waiting for Application ${name}: ${what}`));
            }, timeoutMs);
            if (!check()) listeners.add(check);
          }),
        stop: () => {
          stopped = true;
          req?.abort();
        },
      };
    };

    const refresh = (name: string, kind: "normal" | "hard" = "normal"): Promise<void> =>
      mergePatch(name, { metadata: { annotations: { "argocd.argoproj.io/refresh": kind } } });

    return {
      namespace: ns,
      version: argoCdVersion(),
      redis,
      repoServer,
      controller,
      controllerKubeconfig,
      timings: { setupMs, redisMs, repoServerMs, controllerMs, totalMs: performance.now() - t0 },
      applyApplication: async (app) => {
        const [out] = await stack.apply([
          {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: { name: app.name, namespace: ns, ...(app.annotations ? { annotations: app.annotations } : {}) },
            spec: app.spec,
          },
        ]);
        return out as Application;
      },
      getApplication,
      waitForApplication: (name, what, pred, timeoutMs = 60_000) =>
        pollUntil(
          `Application ${name}: ${what}`,
          timeoutMs,
          async () => {
            if (!controller.isRunning())
              throw new Error(`argocd-application-controller exited:\n${controller.logs().slice(-4000)}`);
            const app = await getApplication(name);
            return app && pred(app) ? app : undefined;
          },
          100,
        ),
      refresh,
      sync: async (name, req = {}) => {
        const sync: Record<string, unknown> = {};
        if (req.revision !== undefined) sync.revision = req.revision;
        if (req.dryRun) sync.dryRun = true;
        if (req.prune) sync.prune = true;
        if (req.syncOptions) sync.syncOptions = req.syncOptions;
        if (req.resources) sync.resources = req.resources;
        let pokes = 0;
        const requestedAt = Math.floor(Date.now() / 1000) * 1000; // startedAt has whole seconds
        await mergePatch(name, {
          operation: {
            sync,
            initiatedBy: { username: req.username ?? "e2e" },
            ...(req.retry ? { retry: req.retry } : {}),
          },
        });
        // Wait until the controller has started it, asking it to look again every 10 s. Once in
        // about six runs of argocd-hooks.e2e the controller logged nothing for a minute after an
        // operation was set, not even "Initialized new operation"; any later update of the
        // Application puts it on the operation queue again (v3.6.1 appcontroller.go UpdateFunc).
        await pollUntil(`Application ${name}: its sync operation started`, 60_000, async () => {
          const app = await getApplication(name);
          const startedAt = app?.status?.operationState?.startedAt;
          if (startedAt && Date.parse(startedAt) >= requestedAt) return true;
          if (Date.now() - requestedAt >= 10_000 * (pokes + 1)) {
            pokes++;
            await refresh(name);
          }
          return undefined;
        });
      },
      record,
      controllerMetrics: async () => (await httpGet(`${metricsUrl}/metrics`)).body,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
