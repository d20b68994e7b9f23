// The event bus of a namespace: a NATS JetStream server with TLS (the stack's serving cert), like
// the EventBus "default" the Argo Events controller runs in each namespace (stream "default", KV
// buckets named after sensors: sharing one server across namespaces would mix same-named
// EventSources/Sensors). Ready when its monitoring /healthz says JetStream is up.
import { writeFileSync } from "node:fs";
import path from "node:path";

import { pollUntil } from "../../helpers/poll.js";
import { tail, type ManagedProcess, type Spawn } from "../process.js";
import { httpGet } from "./http.js";
import type { Pki } from "./pki.js";
import { freePort } from "./ports.js";

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

export async function startEventBus(
  namespace: string,
  o: { binary: string; dir: string; logsDir: string; spawn: Spawn; pki: Pki },
): Promise<EventBus> {
  const port = await freePort();
  const monPort = await freePort();
  const safe = namespace.replace(/[^a-z0-9-]/g, "_");
  const conf = path.join(o.dir, `nats-${safe}.conf`);
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
      `  store_dir: ${JSON.stringify(path.join(o.dir, `jetstream-${safe}`))}`,
      "  max_memory_store: 256MB",
      "  max_file_store: 2GB",
      "}",
      "tls {",
      `  cert_file: ${JSON.stringify(o.pki.serverCert)}`,
      `  key_file: ${JSON.stringify(o.pki.serverKey)}`,
      "}",
      "",
    ].join("\n"),
  );
  const proc = o.spawn({
    name: `nats-server/${namespace}`,
    command: o.binary,
    args: ["-c", conf],
    logFile: path.join(o.logsDir, `nats-server-${safe}.log`),
  });
  const url = `nats://127.0.0.1:${port}`;
  const monitorUrl = `http://127.0.0.1:${monPort}`;
  await pollUntil(`nats-server /healthz (${namespace})`, 30_000, async () => {
    if (!proc.isRunning()) throw new Error(`nats-server exited:\n${tail(proc.logs())}`);
    const r = await httpGet(`${monitorUrl}/healthz?js-enabled-only=true`);
    return r.status === 200 ? true : undefined;
  });
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
}

/** Names of the JetStream consumers the bus has (from its monitoring endpoint). */
export async function consumerNames(bus: EventBus): Promise<Set<string>> {
  const r = await httpGet(`${bus.monitorUrl}/jsz?consumers=true`);
  const j = JSON.parse(r.body) as {
    account_details?: Array<{ stream_detail?: Array<{ consumer_detail?: Array<{ name?: string }> }> }>;
  };
  const names = new Set<string>();
  for (const a of j.account_details ?? [])
    for (const s of a.stream_detail ?? []) for (const c of s.consumer_detail ?? []) if (c.name) names.add(c.name);
  return names;
}
