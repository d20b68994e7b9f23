// kube-apiserver on 127.0.0.1: TLS with the stack's CA, a static admin token (system:masters),
// RBAC, ServiceAccount tokens signed with the stack's key (TokenRequest). Ready when /readyz
// answers 200; writes an admin kubeconfig.
import { writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";

import { stringify as toYaml } from "yaml";

import { pollUntil } from "../../helpers/poll.js";
import { tail, type ManagedProcess, type Spawn } from "../process.js";
import { httpGet } from "./http.js";
import type { Pki } from "./pki.js";
import { freePort } from "./ports.js";

export interface ApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Path of an admin (system:masters) kubeconfig. */
  adminKubeconfig: string;
  process: ManagedProcess;
}

/** A kubeconfig for `server` with a bearer token, trusting the stack's CA. */
export function kubeconfigYaml(
  server: string,
  caPem: string,
  user: string,
  token: string,
  namespace = "default",
): string {
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "e2e", cluster: { server, "certificate-authority-data": Buffer.from(caPem).toString("base64") } },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "e2e", context: { cluster: "e2e", user, namespace } }],
    "current-context": "e2e",
  });
}

export async function startApiServer(o: {
  binary: string;
  dir: string;
  logsDir: string;
  spawn: Spawn;
  etcdUrl: string;
  pki: Pki;
  extraArgs?: readonly string[];
}): Promise<ApiServer> {
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const adminToken = randomBytes(24).toString("hex");
  const tokenFile = path.join(o.dir, "pki", "tokens.csv");
  writeFileSync(tokenFile, `${adminToken},e2e-admin,e2e-admin,"system:masters"\n`, { mode: 0o600 });
  const apiserver = o.spawn({
    name: "kube-apiserver",
    command: o.binary,
    args: [
      `--etcd-servers=${o.etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${path.join(o.dir, "apiserver-certs")}`,
      `--tls-cert-file=${o.pki.serverCert}`,
      `--tls-private-key-file=${o.pki.serverKey}`,
      `--client-ca-file=${o.pki.caFile}`,
      `--token-auth-file=${tokenFile}`,
      "--anonymous-auth=false",
      "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${o.pki.saPub}`,
      `--service-account-signing-key-file=${o.pki.saKey}`,
      "--service-cluster-ip-range=10.96.0.0/24",
      // 127.0.0.1 is not a valid Endpoints address; nothing needs the
      // "kubernetes" Service's endpoints here
      "--endpoint-reconciler-type=none",
      "--allow-privileged=false",
      // E2E_APISERVER_PROFILE=<dir>: the scale scenario takes a CPU profile of the burst
      `--profiling=${process.env.E2E_APISERVER_PROFILE ? "true" : "false"}`,
      "--v=1",
      ...(o.extraArgs ?? []),
    ],
    logFile: path.join(o.logsDir, "kube-apiserver.log"),
  });
  await pollUntil(
    "kube-apiserver /readyz",
    90_000,
    async () => {
      if (!apiserver.isRunning()) throw new Error(`kube-apiserver exited:\n${tail(apiserver.logs())}`);
      const r = await httpGet(`${url}/readyz`, { ca: o.pki.caPem, token: adminToken });
      return r.status === 200 ? true : undefined;
    },
    200,
  );
  const adminKubeconfig = path.join(o.dir, "admin.kubeconfig");
  writeFileSync(adminKubeconfig, kubeconfigYaml(url, o.pki.caPem, "e2e-admin", adminToken), { mode: 0o600 });
  return { url, port, adminKubeconfig, process: apiserver };
}
