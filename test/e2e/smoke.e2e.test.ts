// Smoke test of the e2e harness itself: a hand-written resource EventSource
// (ConfigMaps in namespace "web", ADD/UPDATE) and a Sensor whose HTTP trigger
// posts the event data to an HTTP sink, both running under ServiceAccount
// tokens with minimal RBAC.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { useStack } from "./harness.js";
import { cacheDir, stackBinaries, startHttpSink, type ArgoProcess, type HttpSink } from "./stack.js";

const HOOKS_NS = "hooks"; // where the EventSource, Sensor and their ServiceAccounts live
const WATCHED_NS = "web";
const SINK_TOKEN = "Bearer smoke-s3cr3t";

const stack = useStack();
let sink: HttpSink;
let eventSource: ArgoProcess;
let sensor: ArgoProcess;

function rbacObjects(): object[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: HOOKS_NS } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: WATCHED_NS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "configmap-watcher", namespace: HOOKS_NS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "hook-sensor", namespace: HOOKS_NS } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "configmap-watcher", namespace: WATCHED_NS },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "configmap-watcher", namespace: WATCHED_NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-watcher" },
      subjects: [{ kind: "ServiceAccount", name: "configmap-watcher", namespace: HOOKS_NS }],
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "sink-auth", namespace: HOOKS_NS },
      stringData: { token: SINK_TOKEN },
    },
  ];
}

const eventSourceObject = {
  apiVersion: "argoproj.io/v1alpha1",
  kind: "EventSource",
  metadata: { name: "web-configmaps", namespace: HOOKS_NS },
  spec: {
    resource: {
      "configmap-changed": {
        namespace: WATCHED_NS,
        group: "",
        version: "v1",
        resource: "configmaps",
        eventTypes: ["ADD", "UPDATE"],
      },
    },
  },
};

function sensorObject(sinkUrl: string): object {
  const ctx = (contextKey: string, dest: string): object => ({ src: { dependencyName: "cm", contextKey }, dest });
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Sensor",
    metadata: { name: "web-configmaps-hook", namespace: HOOKS_NS },
    spec: {
      dependencies: [{ name: "cm", eventSourceName: "web-configmaps", eventName: "configmap-changed" }],
      triggers: [
        {
          template: {
            name: "notify",
            http: {
              url: `${sinkUrl}/hooks/configmap`,
              method: "POST",
              headers: { "Content-Type": "application/json" },
              secureHeaders: [
                { name: "Authorization", valueFrom: { secretKeyRef: { name: "sink-auth", key: "token" } } },
              ],
              dynamicHeaders: [
                ctx("id", "X-Event-Id"),
                ctx("source", "X-Event-Source"),
                ctx("subject", "X-Event-Subject"),
                ctx("type", "X-Event-Type"),
                ctx("time", "X-Event-Time"),
              ],
              // dest "" = the resolved value is the whole body; "@this" = all of the event data
              payload: [{ src: { dependencyName: "cm", dataKey: "@this" }, dest: "" }],
            },
          },
          retryStrategy: { steps: 3, duration: "1s" },
          policy: { status: { allow: [200] } },
          atLeastOnce: true,
        },
      ],
    },
  };
}

function configMap(data: Record<string, string>): object {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config", namespace: WATCHED_NS }, data };
}

function report(label: string, ms: number): void {
  console.log(`[e2e timing] ${label}: ${ms.toFixed(0)} ms`);
}

beforeAll(async () => {
  const s = stack();
  report("stack start (startStack)", stack.startMs());
  const t = s.timings;
  console.log(
    `[e2e timing] stack phases: pki ${t.pkiMs.toFixed(0)} / etcd ${t.etcdMs.toFixed(0)} / kube-apiserver ${t.apiServerMs.toFixed(0)}` +
      ` / CRDs ${t.crdsMs.toFixed(0)} / nats ${t.natsMs.toFixed(0)} ms`,
  );
  const bins = stackBinaries();
  for (const [name, bin] of Object.entries(bins)) {
    const f = path.join(path.dirname(bin), "build-seconds");
    if (existsSync(f))
      console.log(`[e2e timing] cold build ${name}: ${readFileSync(f, "utf8").trim()} s (cache ${cacheDir()})`);
  }

  sink = await startHttpSink();
  await s.apply(rbacObjects());
  const sensorObj = sensorObject(sink.url);
  // the CRDs accept them, and argo-events' own validation passes
  await s.apply([eventSourceObject, sensorObj]);
  const lint = await s.lintObjects([eventSourceObject, sensorObj], { strict: true });
  expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);

  let t0 = performance.now();
  eventSource = await s.startEventSource(eventSourceObject, {
    serviceAccount: { namespace: HOOKS_NS, name: "configmap-watcher" },
  });
  report("eventsource start until its watch is established", performance.now() - t0);
  t0 = performance.now();
  sensor = await s.startSensor(sensorObj, { serviceAccount: { namespace: HOOKS_NS, name: "hook-sensor" } });
  report("sensor start until its JetStream consumer exists", performance.now() - t0);
});

afterAll(async () => {
  await sink?.close();
});

describe("e2e harness smoke", () => {
  it("the event source's token is a ServiceAccount token with only its RBAC", async () => {
    const file = await stack().kubeconfigForServiceAccount(HOOKS_NS, "configmap-watcher");
    const sa = stack().restClient(file);
    expect((await sa.request("GET", `/api/v1/namespaces/${WATCHED_NS}/configmaps`)).status).toBe(200);
    expect((await sa.request("GET", `/api/v1/namespaces/${HOOKS_NS}/secrets`)).status).toBe(403);
    expect((await sa.request("GET", "/api/v1/namespaces/default/configmaps")).status).toBe(403);
    const review = await sa.call<{ status?: { userInfo?: { username?: string } } }>(
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
    );
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${HOOKS_NS}:configmap-watcher`);
  });

  it("a new ConfigMap reaches the sink exactly once, with the event data as body", async () => {
    const t0 = performance.now();
    await stack().apply([configMap({ color: "blue" })]);
    const [first] = await sink.waitFor(1, 30_000);
    if (!first) throw new Error("no request");
    report("ConfigMap write -> sink first byte", first.receivedAtPerf - t0);
    await sink.waitQuiet(3_000);
    expect(sink.requests).toHaveLength(1);

    expect(first.method).toBe("POST");
    expect(first.path).toBe("/hooks/configmap");
    expect(first.headers.authorization).toBe(SINK_TOKEN);
    expect(first.headers["content-type"]).toBe("application/json");
    expect(first.headers["x-event-id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(first.headers["x-event-source"]).toBe("web-configmaps");
    expect(first.headers["x-event-subject"]).toBe("configmap-changed");
    expect(first.headers["x-event-type"]).toBe("resource");
    expect(first.headers["x-event-time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const body = first.json as {
      type: string;
      body: { metadata: { name: string; namespace: string; resourceVersion: string }; data: Record<string, string> };
      oldBody: unknown;
      group: string;
      version: string;
      resource: string;
    };
    expect(body.type).toBe("ADD");
    expect(body.body.metadata.name).toBe("app-config");
    expect(body.body.metadata.namespace).toBe(WATCHED_NS);
    expect(body.body.data).toEqual({ color: "blue" });
    expect(body.oldBody).toBeNull();
    expect(body).toMatchObject({ group: "", version: "v1", resource: "configmaps" });
    console.log(`[e2e] sink body (ADD): ${first.bodyText.slice(0, 400)}...`);
  });

  it("an update arrives as UPDATE with the old object", async () => {
    const before = sink.requests.length;
    const t0 = performance.now();
    await stack().apply([configMap({ color: "green" })]);
    const reqs = await sink.waitFor(before + 1, 30_000);
    const update = reqs[before];
    if (!update) throw new Error("no request");
    report("ConfigMap update -> sink first byte", update.receivedAtPerf - t0);
    await sink.waitQuiet(2_000);
    expect(sink.requests).toHaveLength(before + 1);
    const body = update.json as {
      type: string;
      body: { data: Record<string, string> };
      oldBody: { data: Record<string, string> };
    };
    expect(body.type).toBe("UPDATE");
    expect(body.body.data).toEqual({ color: "green" });
    expect(body.oldBody.data).toEqual({ color: "blue" });
    expect(eventSource.isRunning()).toBe(true);
    expect(sensor.isRunning()).toBe(true);
    // the pods' metrics listeners (":7777" in each pod's own network namespace)
    expect(await sensor.metrics()).toMatch(
      /^argo_events_action_triggered_total\{[^}]*trigger_name="notify"[^}]*\} 2$/m,
    );
    expect(await eventSource.metrics()).toMatch(/^argo_events_events_sent_total\{[^}]*\} 2$/m);
  });
});
