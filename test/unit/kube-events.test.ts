// The runner's Kubernetes Events, against a local HTTP server standing in for kube-apiserver's
// events endpoint (the e2e suite checks them on the real one): where a success and a failure are
// said, and that a burst of successes is held to the rate limit while failures never are.
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HookRun } from "../../src/runner/hookrun.js";
import { KubeEventRecorder } from "../../src/runner/kube-events.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";
import { kubeConfigFor } from "../helpers/kube-config.js";

function run(name: string, phase: "Succeeded" | "Failed"): HookRun {
  return {
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookRun",
    metadata: { name, namespace: "hooks", uid: `uid-${name}`, labels: {} },
    spec: {
      hookSet: "web",
      hook: "purge",
      eventId: "e",
      identity: "i",
      acceptedAt: "2026-12-05T00:00:00.000Z",
      subject: "Deployment web/frontend",
      object: { apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "frontend", uid: "d-1" },
      concurrency: "queue",
      deadline: "2026-12-05T01:00:00.000Z",
    },
    status: {
      phase,
      attempts: 1,
      steps: [{ name: "call", phase, attempts: 1, ...(phase === "Failed" ? { error: "503" } : {}) }],
      conditions: [],
    },
  } as unknown as HookRun;
}

describe("Kubernetes Events of finished runs", () => {
  let api: RecordingServer;
  let clock = 0;
  let recorder: KubeEventRecorder;
  beforeEach(async () => {
    api = await startRecordingServer({ responder: () => ({ status: 201, body: {} }) });
    clock = 1_000_000;
    recorder = new KubeEventRecorder(kubeConfigFor(api.url), "runner-0", pino({ level: "silent" }), {
      successBurst: 3,
      successPerSecond: 2,
      now: () => clock,
    });
  });
  afterEach(async () => {
    await api.close();
  });

  const involved = () => api.requests.map((r) => (r.json as { involvedObject: { kind: string } }).involvedObject.kind);

  it("says a success on the triggering object only, and a failure on the object and on the HookRun", async () => {
    await recorder.record(run("ok", "Succeeded"));
    expect(api.requests.map((r) => r.path)).toEqual(["/api/v1/namespaces/web/events"]);
    expect(api.requests[0]!.json).toMatchObject({
      reason: "HookSucceeded",
      type: "Normal",
      involvedObject: { kind: "Deployment", name: "frontend", uid: "d-1" },
    });
    await recorder.record(run("bad", "Failed"));
    expect(involved().slice(1).sort()).toEqual(["Deployment", "HookRun"]);
    expect(api.requests.slice(1).map((r) => (r.json as { reason: string }).reason)).toEqual([
      "HookFailed",
      "HookFailed",
    ]);
  });

  it("holds a burst of successes to the bucket, refills it with time, and never limits failures", async () => {
    for (let i = 0; i < 10; i++) await recorder.record(run(`ok-${i}`, "Succeeded"));
    expect(api.requests).toHaveLength(3);
    for (let i = 0; i < 4; i++) await recorder.record(run(`bad-${i}`, "Failed"));
    expect(api.requests).toHaveLength(3 + 8);
    clock += 1_000; // two more tokens
    for (let i = 0; i < 5; i++) await recorder.record(run(`later-${i}`, "Succeeded"));
    expect(api.requests).toHaveLength(3 + 8 + 2);
  });
});
