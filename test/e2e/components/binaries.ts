// What the e2e stack runs: the versions pinned in scripts/e2e/versions.env, the binaries
// scripts/e2e/build.sh puts in the cache dir, the Go module sources it downloads (CRDs), and the
// check that all of it, root and the system tools are there before anything starts.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export interface StackVersions {
  kubernetes: string;
  etcd: string;
  natsServer: string;
  argoEvents: string;
  /** The real Argo CD (argocd binary, its CRDs next to it). */
  argoCd: string;
  kustomize: string;
  helm: string;
}

export interface StackBinaries {
  kubeApiServer: string;
  etcd: string;
  natsServer: string;
  argoEvents: string;
  /** For the README's deploy commands (deploy.e2e). */
  kubectl: string;
  kustomize: string;
  /** Lints and renders the chart (install.e2e). */
  helm: string;
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
    argoCd: get("ARGO_CD_V3_VERSION"),
    kustomize: get("KUSTOMIZE_VERSION"),
    helm: get("HELM_VERSION"),
  };
}

/** Paths of the binaries scripts/e2e/build.sh produces (they may not exist yet). */
export function stackBinaries(cache = cacheDir(), v = stackVersions()): StackBinaries {
  return {
    kubeApiServer: path.join(cache, `kube-apiserver-${v.kubernetes}`, "kube-apiserver"),
    etcd: path.join(cache, `etcd-${v.etcd}`, "etcd"),
    natsServer: path.join(cache, `nats-server-${v.natsServer}`, "nats-server"),
    argoEvents: path.join(cache, `argo-events-${v.argoEvents}`, "argo-events"),
    kubectl: path.join(cache, `kubectl-${v.kubernetes}`, "kubectl"),
    kustomize: path.join(cache, `kustomize-${v.kustomize}`, "kustomize"),
    helm: path.join(cache, `helm-${v.helm}`, "helm"),
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

/** Argo CD's Application CRD of the built argocd (build.sh copies the module's manifests/crds/ next to the binary). */
export function applicationCrdFile(v = stackVersions(), cache = cacheDir()): string {
  return path.join(cache, `argocd-${v.argoCd}`, "crds", "application-crd.yaml");
}

/** The Argo Events CRDs (EventBus, EventSource, Sensor) from the argo-events module. */
export function argoEventsCrdFiles(v = stackVersions()): string[] {
  const crdDir = path.join(argoEventsModuleDir(v), "manifests", "base", "crds");
  const files = ["argoproj.io_eventbus.yaml", "argoproj.io_eventsources.yaml", "argoproj.io_sensors.yaml"].map((f) =>
    path.join(crdDir, f),
  );
  for (const f of files) {
    if (!existsSync(f))
      throw new Error(`Argo Events CRD not found: ${f} (run scripts/e2e/build.sh, which downloads the module)`);
  }
  return files;
}

/** Fails with what to install when a binary, root or a system tool the stack needs is missing. */
export function checkPrerequisites(binaries: StackBinaries): void {
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
}
