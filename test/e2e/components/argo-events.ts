// Argo Events eventsource-service / sensor-service processes run as the controller would run
// them in pods (pkg/reconciler/{eventsource,sensor}/resource.go): the object in
// EVENTSOURCE_OBJECT / SENSOR_OBJECT, the namespace's event bus in EVENTBUS_CONFIG, a kubeconfig
// of the pod's ServiceAccount, referenced Secrets/ConfigMaps "mounted" as files where the
// controller would mount them (/argo-events/secrets/<secret>/<key>,
// /argo-events/config/<configmap>/<key>), each pod in its own network and mount namespace
// (netns.ts): its own loopback, so the fixed metrics listener (:7777, all interfaces) neither
// clashes nor is exposed, and its own /tmp. 127.0.0.1:<port> of the stack's services (kube-
// apiserver, NATS, every 127.0.0.1 URL found in the object, plus `reachablePorts`) are
// forwarded into the pod.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { pollUntil } from "../../helpers/poll.js";
import { tail, type ManagedProcess, type Spawn } from "../process.js";
import type { ArgoProcess, MountedData, StartPodOptions } from "../stack.js";
import { consumerNames, type EventBus } from "./eventbus.js";
import { httpGet } from "./http.js";
import type { KubeAdmin } from "./kube-admin.js";
import { spawnNamespaced } from "./netns.js";

/** Where Argo Events reads mounted secrets/configmaps (hardcoded in v1.9.11 pkg/shared/util). */
const ARGO_MOUNT_ROOT = "/argo-events";
/** Fixed metrics port of eventsource-service and sensor-service (":7777", v1alpha1 const.go). */
const ARGO_METRICS_PORT = 7777;

export interface ArgoPodsContext {
  dir: string;
  logsDir: string;
  /** The argo-events binary. */
  binary: string;
  apiServerPort: number;
  adminKubeconfig: string;
  admin: KubeAdmin;
  eventBus(namespace: string): Promise<EventBus>;
  spawn: Spawn;
}

export type StartPod = (kind: "eventsource" | "sensor", obj: object, opts: StartPodOptions) => Promise<ArgoProcess>;

export function argoPods(c: ArgoPodsContext): StartPod {
  // The empty mount point of every pod's /argo-events. Left in place by stop(): stacks of
  // other test runs on this machine may be using it (the pod script also recreates it).
  mkdirSync(ARGO_MOUNT_ROOT, { recursive: true });
  let podCounter = 0;
  return async (kind, obj, po) => {
    const meta = objectMeta(obj, kind === "eventsource" ? "EventSource" : "Sensor");
    const spec = (obj as { spec?: unknown }).spec;
    if (!spec || typeof spec !== "object") throw new Error(`${kind} ${meta.name} has no spec`);
    podCounter += 1;
    const podName = `${meta.name}-${kind}-e2e${podCounter}`;
    const podDir = path.join(c.dir, "pods", podName);
    const podMounts = path.join(podDir, "argo-events");
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
        const data = await c.admin.readMounted(kindName, meta.namespace, ref.name);
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

    const bus = await c.eventBus(meta.namespace);
    const kubeconfig = po.serviceAccount
      ? await c.admin.kubeconfigForServiceAccount(po.serviceAccount.namespace, po.serviceAccount.name)
      : c.adminKubeconfig;

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

    const watches = kind === "eventsource" ? resourceWatches(spec) : [];
    const baseline = await Promise.all(watches.map((w) => c.admin.watchCount(w.resource, w.group)));
    const proc = await spawnNamespaced({
      name: `pod/${podName}`,
      dir: podDir,
      stackDir: c.dir,
      command: c.binary,
      args: [kind === "eventsource" ? "eventsource-service" : "sensor-service"],
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...argoEnv },
      reachablePorts: [c.apiServerPort, bus.port, ...loopbackPorts(spec), ...(po.reachablePorts ?? [])],
      exposePorts: [ARGO_METRICS_PORT, ...(po.exposePorts ?? [])],
      keepVisible: [path.dirname(c.binary)],
      binds: [{ host: podMounts, at: ARGO_MOUNT_ROOT }],
      logFile: path.join(c.logsDir, `${podName}.log`),
      spawn: (so) => c.spawn({ ...so, logFile: so.logFile ?? path.join(c.logsDir, `${podName}.log`) }),
    });

    const waitReady = async (timeoutMs = po.readyTimeoutMs ?? 60_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      const left = (): number => Math.max(1, deadline - Date.now());
      const running = (): void => {
        if (!proc.isRunning()) throw new Error(`${podName} exited:\n${tail(proc.logs())}`);
      };
      if (kind === "eventsource") {
        await proc.waitForLog("Eventing server started.", left());
        for (const [i, w] of watches.entries()) {
          const before = baseline[i] ?? 0;
          await pollUntil(`${w.informers} WATCH(es) on ${w.resource} from ${podName}`, left(), async () => {
            running();
            return (await c.admin.watchCount(w.resource, w.group)) >= before + w.informers ? true : undefined;
          });
        }
      } else {
        await proc.waitForLog("Sensor started.", left());
        const durables = sensorDurables(meta.name, spec);
        await pollUntil(`JetStream consumers of ${podName}`, left(), async () => {
          running();
          const have = await consumerNames(bus);
          return durables.every((d) => have.has(d)) ? true : undefined;
        });
      }
    };

    const argoProc: ArgoProcess = {
      ...(proc as ManagedProcess),
      kind,
      namespace: meta.namespace,
      objectName: meta.name,
      podName,
      podDir,
      hostPort: proc.hostPort,
      waitReady,
      metrics: async (): Promise<string> => {
        const r = await httpGet(`http://127.0.0.1:${proc.hostPort(ARGO_METRICS_PORT)}/metrics`);
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
  const annotations = (m.annotations && typeof m.annotations === "object" ? m.annotations : {}) as Record<
    string,
    string
  >;
  return { name: m.name, namespace, annotations };
}

function writeMounted(root: string, data: MountedData): void {
  for (const [name, keys] of Object.entries(data)) {
    const d = path.join(root, name);
    mkdirSync(d, { recursive: true });
    for (const [k, v] of Object.entries(keys)) writeFileSync(path.join(d, k), v, { mode: 0o644 });
  }
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

/** (group, resource) of each entry of a resource EventSource's spec.resource. */
/** The resources an EventSource watches, each with its number of entries (an informer, a WATCH each). */
function resourceWatches(spec: unknown): Array<{ group: string; resource: string; informers: number }> {
  const res = (spec as { resource?: Record<string, { group?: string; resource?: string }> }).resource ?? {};
  const byResource = new Map<string, { group: string; resource: string; informers: number }>();
  for (const r of Object.values(res)) {
    if (typeof r.resource !== "string") continue;
    const key = `${r.group ?? ""}/${r.resource}`;
    const seen = byResource.get(key);
    if (seen) seen.informers++;
    else byResource.set(key, { group: r.group ?? "", resource: r.resource, informers: 1 });
  }
  return [...byResource.values()];
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
    const used =
      cond === ""
        ? deps
        : deps.filter((d) =>
            new RegExp(`(^|[^A-Za-z0-9_-])${d.replace(/[-.]/g, "\\$&")}($|[^A-Za-z0-9_-])`).test(cond),
          );
    for (const d of used) out.push(`group-${fnv32a(`${sensorName}-${name}-${d}`)}`);
  }
  return out;
}
