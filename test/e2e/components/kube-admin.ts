// What the stack does as cluster admin: server-side apply and delete of manifests (objects or
// multi-document YAML), CRDs applied and waited for until Established, kubeconfigs with
// TokenRequest tokens of ServiceAccounts, Secret/ConfigMap contents as a kubelet would mount
// them, and kube-apiserver's count of open watches.
import { readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";

import { parseAllDocuments } from "yaml";

import { pollUntil, sleep } from "../../helpers/poll.js";
import { KubeApiError, type KubeObject, type KubeRest } from "../kube-rest.js";
import { kubeconfigYaml } from "./apiserver.js";

const FIELD_MANAGER = "resource-hooks-e2e";

export interface KubeAdmin {
  /** Server-side apply as admin, in order (multi-doc YAML or objects). Returns the applied objects. */
  apply(objects: readonly object[] | string): Promise<KubeObject[]>;
  /** Delete objects (ignores NotFound), in reverse order. */
  delete(objects: readonly object[] | string): Promise<void>;
  /** Applies the CRDs in the files and waits until each is Established. */
  installCrds(files: readonly string[]): Promise<KubeObject[]>;
  /**
   * Waits until each named CRD is Established. kubectl 1.32's `wait --for=condition=Established`
   * fails at once on a CRD whose `status.conditions` is still null, as right after it is created.
   */
  crdsEstablished(names: readonly string[], timeoutMs?: number): Promise<void>;
  /** Path of a kubeconfig whose token comes from the TokenRequest API for that ServiceAccount. */
  kubeconfigForServiceAccount(namespace: string, name: string, opts?: { expirationSeconds?: number }): Promise<string>;
  /** What the kubelet would put in a secret / configmap volume; undefined when there is no such object. */
  readMounted(
    kind: "Secret" | "ConfigMap",
    namespace: string,
    name: string,
  ): Promise<Record<string, string> | undefined>;
  /** Sum of kube-apiserver's apiserver_longrunning_requests{verb="WATCH"} for a resource. */
  watchCount(resource: string, group?: string): Promise<number>;
}

export function parseObjects(input: readonly object[] | string): KubeObject[] {
  if (typeof input !== "string") return input.map((o) => o as KubeObject);
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(input)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const v: unknown = doc.toJS();
    if (v && typeof v === "object") out.push(v as KubeObject);
  }
  return out;
}

export function kubeAdmin(admin: KubeRest, o: { dir: string; apiServerUrl: string; caPem: string }): KubeAdmin {
  const applyOne = async (obj: KubeObject): Promise<KubeObject> => {
    // a just-created CRD may need a moment before its kind is served
    let lastErr: unknown;
    for (let i = 0; i < 50; i++) {
      try {
        return await admin.apply(obj, FIELD_MANAGER);
      } catch (err) {
        lastErr = err;
        if (!(err instanceof KubeApiError && err.status === 404 && / is not served/.test(err.message))) break;
        await sleep(200);
      }
    }
    throw new Error(
      `apply ${obj.kind ?? "?"} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? "?"} failed: ${String(lastErr)}`,
    );
  };
  const apply = async (input: readonly object[] | string): Promise<KubeObject[]> => {
    const out: KubeObject[] = [];
    for (const obj of parseObjects(input)) out.push(await applyOne(obj));
    return out;
  };
  const established = async (name: string, timeoutMs = 30_000): Promise<void> => {
    await pollUntil(`CRD ${name} Established`, timeoutMs, async () => {
      const c = await admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
    });
  };

  let saKubeconfigCount = 0;
  return {
    apply,
    delete: async (input) => {
      for (const obj of parseObjects(input).reverse()) await admin.delete(obj);
    },
    installCrds: async (files) => {
      for (const f of files) if (!existsSync(f)) throw new Error(`CRD file not found: ${f}`);
      const crds = await apply((await Promise.all(files.map((f) => readFile(f, "utf8")))).join("\n---\n"));
      for (const crd of crds) await established(crd.metadata?.name ?? "");
      return crds;
    },
    crdsEstablished: async (names, timeoutMs) => {
      for (const name of names) await established(name, timeoutMs);
    },
    kubeconfigForServiceAccount: async (namespace, name, opts = {}) => {
      const tr = await admin.call<{ status?: { token?: string } }>(
        "POST",
        `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
        {
          body: {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 },
          },
        },
      );
      const token = tr.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      saKubeconfigCount += 1;
      const file = path.join(o.dir, `sa-${namespace}-${name}-${saKubeconfigCount}.kubeconfig`);
      await writeFile(
        file,
        kubeconfigYaml(o.apiServerUrl, o.caPem, `system:serviceaccount:${namespace}:${name}`, token, namespace),
        { mode: 0o600 },
      );
      return file;
    },
    readMounted: async (kind, namespace, name) => {
      const obj = await admin.read<KubeObject & { data?: Record<string, string> }>({
        apiVersion: "v1",
        kind,
        metadata: { name, namespace },
      });
      if (!obj) return undefined;
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj.data ?? {}))
        out[k] = kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v;
      return out;
    },
    watchCount: async (resource, group = "") => {
      const r = await admin.request("GET", "/metrics");
      if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
      let sum = 0;
      for (const line of r.body.split("\n")) {
        if (!line.startsWith("apiserver_longrunning_requests{")) continue;
        if (
          !line.includes('verb="WATCH"') ||
          !line.includes(`resource="${resource}"`) ||
          !line.includes(`group="${group}"`)
        )
          continue;
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return sum;
    },
  };
}
