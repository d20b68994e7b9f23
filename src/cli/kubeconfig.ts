// Which Kubernetes credentials a command uses: --kubeconfig, else $KUBECONFIG, else
// ~/.kube/config, else the pod's service account. A file that is there but cannot be used is an
// error that names it; no kubeconfig at all is undefined (client-node would otherwise fall back
// to http://localhost:8080 and fail later with "HTTP protocol is not allowed when skipTLSVerify
// is not set or false").
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { CliError, UsageError } from "./exit.js";

export interface KubeAccess {
  config: KubeConfig;
  /** Where it came from, for messages: "--kubeconfig x", "$KUBECONFIG (x)", "~/.kube/config", "in-cluster". */
  source: string;
  /** The API server's URL. */
  server: string;
}

/** Where the credentials are, without loading them; undefined when there are none. */
function locate(path: string | undefined): { source: string; load: (kc: KubeConfig) => void } | undefined {
  if (path) return { source: `--kubeconfig ${path}`, load: (kc) => kc.loadFromFile(path) };
  const env = process.env.KUBECONFIG;
  if (env) return { source: `$KUBECONFIG (${env})`, load: (kc) => kc.loadFromDefault() };
  const home = join(homedir(), ".kube", "config");
  if (existsSync(home)) return { source: home, load: (kc) => kc.loadFromFile(home) };
  if (process.env.KUBERNETES_SERVICE_HOST)
    return { source: "the pod's service account (in-cluster)", load: (kc) => kc.loadFromCluster() };
  return undefined;
}

/**
 * The credentials, with `context` made current; undefined when there is no kubeconfig at all.
 * Throws UsageError when --kubeconfig or --context cannot be used, CliError when the kubeconfig
 * found by default cannot.
 */
export async function loadKubeAccess(options: {
  kubeconfig?: string;
  context?: string;
}): Promise<KubeAccess | undefined> {
  const found = locate(options.kubeconfig);
  if (!found) return undefined;
  const fail = (message: string) =>
    options.kubeconfig ? new UsageError(`${found.source}: ${message}`) : new CliError(`${found.source}: ${message}`);
  const { KubeConfig } = await import("@kubernetes/client-node");
  const config = new KubeConfig();
  try {
    found.load(config);
  } catch (e) {
    throw fail(`cannot load it: ${(e as Error).message}`);
  }
  if (options.context) {
    const names = config.getContexts().map((c) => c.name);
    if (!names.includes(options.context))
      throw new UsageError(
        `--context ${options.context}: no such context in ${found.source} (contexts: ${names.join(", ") || "none"})`,
      );
    config.setCurrentContext(options.context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw fail("no cluster: its current-context is unset or names no cluster");
  return { config, source: found.source, server: cluster.server };
}
