// A kubeconfig / in-cluster loader that produces the KubeAccess the client needs without loading
// @kubernetes/client-node (2.0.1 requires undici 8, which does not load on Node 20 unless undici is
// pinned to 7; this loader works either way).
// Supports what a runner and the e2e stack use: bearer tokens (inline or tokenFile, re-read on every
// request because projected tokens rotate), client certificates, CA data or file,
// insecure-skip-tls-verify, tls-server-name, the context namespace. Exec and auth-provider plugins
// are not supported: use client-node's KubeConfig for those.
import { readFileSync } from "node:fs";
import type * as https from "node:https";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import type { KubeAccess } from "./client.js";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface ClusterEntry {
  server: string;
  "certificate-authority-data"?: string;
  "certificate-authority"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  "client-certificate-data"?: string;
  "client-certificate"?: string;
  "client-key-data"?: string;
  "client-key"?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  "auth-provider"?: unknown;
}

interface KubeconfigFile {
  "current-context"?: string;
  clusters?: { name: string; cluster: ClusterEntry }[];
  users?: { name: string; user: UserEntry }[];
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
}

interface Resolved {
  contextName: string;
  namespace?: string;
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  tokenFile?: string;
  basic?: string;
  skipTLSVerify: boolean;
  servername?: string;
}

function access(r: Resolved): KubeAccess {
  const cluster = { name: r.contextName, server: r.server, skipTLSVerify: r.skipTLSVerify };
  const user = { name: r.contextName };
  const context = { name: r.contextName, cluster: r.contextName, user: r.contextName, ...(r.namespace ? { namespace: r.namespace } : {}) };
  const object: KubeAccess = {
    getCurrentCluster: () => cluster,
    getCurrentUser: () => user,
    getCurrentContext: () => r.contextName,
    getContextObject: (name: string) => (name === r.contextName ? context : null),
    applyToHTTPSOptions: async (opts: https.RequestOptions | object) => {
      const o = opts as https.RequestOptions;
      if (r.ca) o.ca = r.ca;
      if (r.cert) o.cert = r.cert;
      if (r.key) o.key = r.key;
      if (r.skipTLSVerify) o.rejectUnauthorized = false;
      if (r.servername) o.servername = r.servername;
      if (r.basic) o.auth = r.basic;
      const token = r.tokenFile ? readFileSync(r.tokenFile, "utf8").trim() : r.token;
      if (token) o.headers = { ...(o.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}` };
    },
  };
  return object;
}

function fileOrData(base: string, data: string | undefined, file: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, "base64");
  if (file) return readFileSync(isAbsolute(file) ? file : join(base, file));
  return undefined;
}

/** Loads a kubeconfig file (its current context). */
export function loadKubeconfigFile(file: string, contextName?: string): KubeAccess {
  const doc = parse(readFileSync(file, "utf8")) as KubeconfigFile;
  const name = contextName ?? doc["current-context"];
  const context = doc.contexts?.find((c) => c.name === name)?.context;
  if (!name || !context) throw new Error(`${file}: no context ${JSON.stringify(name ?? "")}`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
  if (!cluster?.server) throw new Error(`${file}: context ${name} has no cluster server`);
  if (user.exec || user["auth-provider"]) throw new Error(`${file}: exec and auth-provider users need @kubernetes/client-node`);
  const base = dirname(file);
  const tokenFile = user.tokenFile ? (isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile)) : undefined;
  const ca = fileOrData(base, cluster["certificate-authority-data"], cluster["certificate-authority"]);
  const cert = fileOrData(base, user["client-certificate-data"], user["client-certificate"]);
  const key = fileOrData(base, user["client-key-data"], user["client-key"]);
  return access({
    contextName: name,
    ...(context.namespace ? { namespace: context.namespace } : {}),
    server: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(user.token ? { token: user.token } : {}),
    ...(tokenFile ? { tokenFile } : {}),
    ...(user.username ? { basic: `${user.username}:${user.password ?? ""}` } : {}),
    skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
    ...(cluster["tls-server-name"] ? { servername: cluster["tls-server-name"] } : {}),
  });
}

/** The in-cluster service account (KUBERNETES_SERVICE_HOST/PORT and the mounted token, CA, namespace). */
export function loadInCluster(dir: string = SERVICE_ACCOUNT_DIR): KubeAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("not running in a cluster (KUBERNETES_SERVICE_HOST is not set)");
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, "namespace"), "utf8").trim();
  } catch {
    namespace = undefined;
  }
  return access({
    contextName: "in-cluster",
    ...(namespace ? { namespace } : {}),
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(dir, "ca.crt")),
    tokenFile: join(dir, "token"),
    skipTLSVerify: false,
  });
}
