// What steps get from the runner process: secrets read from the files the Deployment mounts
// (or from environment variables), Kubernetes access, and the external endpoints.
import { readFile } from "node:fs/promises";

import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { stepTypes } from "../steps/registry.js";
import type { EndpointDeclaration, Endpoints, SecretSource, StepRuntime } from "../steps/types.js";

export const DEFAULT_AWS_REGION = "us-east-1";

/** Every endpoint the step types declare, by name, with the step type that declares it. */
export function endpointDeclarations(): ReadonlyMap<string, EndpointDeclaration & { stepType: string }> {
  const out = new Map<string, EndpointDeclaration & { stepType: string }>();
  for (const type of stepTypes) {
    for (const [name, declaration] of Object.entries(type.endpoints ?? {})) {
      const known = out.get(name);
      if (known) throw new Error(`endpoint ${name} is declared by both ${known.stepType} and ${type.type}`);
      out.set(name, { ...declaration, stepType: type.type });
    }
  }
  return out;
}

/**
 * The declared endpoints' defaults with `overrides` applied (e.g. from `--endpoint github=<url>`).
 * Throws an Error naming the known endpoints for an unknown name, and for a URL that is not http(s).
 */
export function resolveEndpoints(overrides: Readonly<Record<string, string | undefined>> = {}): Endpoints {
  const declared = endpointDeclarations();
  const out: Record<string, string> = {};
  for (const [name, declaration] of declared) if (declaration.default !== undefined) out[name] = declaration.default;
  for (const [name, url] of Object.entries(overrides)) {
    if (url === undefined) continue;
    if (!declared.has(name))
      throw new Error(`unknown endpoint ${JSON.stringify(name)} (known: ${[...declared.keys()].join(", ")})`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`endpoint ${name}: ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new Error(`endpoint ${name}: ${JSON.stringify(url)} is not an http(s) URL`);
    out[name] = url;
  }
  return out;
}

/** The endpoints when nothing is overridden. */
export const DEFAULT_ENDPOINTS: Endpoints = resolveEndpoints();

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

export interface RuntimeOptions {
  secretsDir: string;
  kubeConfig?: KubeConfig;
  /**
   * Endpoint overrides by name (see resolveEndpoints). `awsRegion` here is still read, as before
   * awsRegion had its own option.
   */
  endpoints?: Readonly<Record<string, string | undefined>>;
  awsRegion?: string;
}

export function createRuntime(options: RuntimeOptions): StepRuntime {
  const { awsRegion: legacyRegion, ...overrides } = options.endpoints ?? {};
  return {
    readSecret: fileSecretReader(options.secretsDir),
    endpoints: resolveEndpoints(overrides),
    awsRegion: options.awsRegion ?? legacyRegion ?? DEFAULT_AWS_REGION,
    ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
  };
}
