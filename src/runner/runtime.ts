// What steps get from the runner process: secrets read from the files the Deployment mounts
// (or from environment variables), Kubernetes access, and the external endpoints.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Endpoints, SecretSource, StepRuntime } from "../steps/types.js";

export const DEFAULT_ENDPOINTS: Endpoints = {
  github: "https://api.github.com",
  cloudflare: "https://api.cloudflare.com",
  fastly: "https://api.fastly.com",
  awsRegion: "us-east-1",
};

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

export function fileSecretReader(secretsDir: string): (source: SecretSource) => Promise<string> {
  return async (source) => {
    if ("env" in source) {
      const value = process.env[source.env];
      if (value === undefined) throw new Error(`environment variable ${source.env} is not set`);
      return value;
    }
    const { name, key } = source.secretKeyRef;
    if (!SAFE_NAME.test(name) || !SAFE_NAME.test(key) || name.startsWith("..") || key.startsWith("..")) {
      throw new Error(`invalid secret reference ${name}/${key}`);
    }
    try {
      return (await readFile(join(secretsDir, name, key), "utf8")).replace(/\r?\n$/, "");
    } catch {
      throw new Error(`secret ${name}/${key} is not mounted under ${secretsDir}`);
    }
  };
}

/**
 * The given kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's in-cluster account;
 * undefined when there is none (client-node would fall back to an http://localhost cluster).
 */
export function loadKubeConfig(path?: string): KubeConfig | undefined {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else if (process.env.KUBECONFIG || existsSync(join(homedir(), ".kube", "config"))) kc.loadFromDefault();
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else return undefined;
  } catch {
    return undefined;
  }
  return kc.getCurrentCluster() ? kc : undefined;
}

export function createRuntime(options: { secretsDir: string; kubeConfig?: KubeConfig; endpoints?: Partial<Endpoints> }): StepRuntime {
  return {
    readSecret: fileSecretReader(options.secretsDir),
    endpoints: { ...DEFAULT_ENDPOINTS, ...options.endpoints },
    ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
  };
}
