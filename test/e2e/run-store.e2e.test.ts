// The HookRun store (--store kubernetes) on a real kube-apiserver, as the runner's generated
// ServiceAccount: the HookRun CRD and the RBAC come from `resource-hooks generate`, so what these
// tests exercise is exactly the access a deployed runner has. Create, create-if-absent,
// resourceVersion-conditional status updates (the replicas' claims rest on them), two store
// instances (two replicas) seeing each other's writes through their watch, and a fresh instance
// (a restarted runner) listing what is there.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  HOOKRUN_API_VERSION,
  HOOKRUN_KIND,
  LABEL_HOOK,
  LABEL_HOOKSET,
  LABEL_MANAGED_BY,
} from "../../src/model/constants.js";
import { runName } from "../../src/model/names.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { KubernetesRunStore } from "../../src/runner/store/kubernetes.js";
import { ConflictError, type RunChange } from "../../src/runner/store/types.js";
import { useStack } from "./harness.js";
import { applyHookSet, figure, generateHookSet, runnerKubeconfig, until, type DeployedHookSet } from "./hooks-env.js";
import { KubeApiError, type KubeObject } from "./stack.js";

const NS = "argo-events";
const HOOKSET = "store-e2e";
const stack = useStack();
const logger = pino({ level: "silent" });
const started: KubernetesRunStore[] = [];
let deployed: DeployedHookSet;
let runnerKubeconfigFile = "";
// kubectl keeps a discovery cache under $HOME/.kube.
const kubectlHome = mkdtempSync(path.join(tmpdir(), "rh-kubectl-home-"));

const HOOKRUNS = `/apis/resource-hooks.io/v1alpha1/namespaces/${NS}/hookruns`;

function hooksYaml(): string {
  return `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata:
  name: ${HOOKSET}
  namespace: ${NS}
spec:
  runner:
    url: http://127.0.0.1:1
  hooks:
    - name: h
      on:
        resource: {version: v1, resource: configmaps, namespace: web}
      steps:
        - name: s
          log: {message: "x"}
`;
}

/** A store as the runner builds it: the runner ServiceAccount's token, the hook set's label selector. */
async function storeAs(
  opts: { namespace?: string; hookSet?: string; start?: boolean } = {},
): Promise<KubernetesRunStore> {
  const kc = new KubeConfig();
  kc.loadFromFile(runnerKubeconfigFile);
  const store = new KubernetesRunStore(kc, opts.namespace ?? NS, opts.hookSet ?? HOOKSET, logger);
  if (opts.start !== false) {
    await store.start();
    started.push(store);
  }
  return store;
}

let seq = 0;
/** A run as the accept path builds it (name from hook set, hook and identity). */
function newRun(hookSet = HOOKSET, hook = "h"): HookRun {
  seq += 1;
  const identity = `uid-${seq}@${1000 + seq}`;
  const now = new Date();
  return {
    apiVersion: HOOKRUN_API_VERSION,
    kind: HOOKRUN_KIND,
    metadata: {
      name: runName(hookSet, hook, identity),
      namespace: NS,
      labels: { [LABEL_MANAGED_BY]: "resource-hooks", [LABEL_HOOKSET]: hookSet, [LABEL_HOOK]: hook },
    },
    spec: {
      hookSet,
      hook,
      eventId: `event-${seq}`,
      identity,
      acceptedAt: now.toISOString(),
      subject: "ConfigMap web/app-config",
      concurrency: "queue",
      deadline: new Date(now.getTime() + 3_600_000).toISOString(),
    },
    status: { phase: "Pending", attempts: 0, steps: [], conditions: [] },
  };
}

const onServer = (name: string): Promise<HookRun> => stack().admin.get<HookRun>(`${HOOKRUNS}/${name}`);

beforeAll(async () => {
  const s = stack();
  deployed = generateHookSet(s, HOOKSET, hooksYaml());
  await s.apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } }]);
  const t = performance.now();
  await applyHookSet(s, deployed, "store-e2e-token");
  figure("HookRun CRD + generated manifests applied, CRD Established (ms)", performance.now() - t);
  runnerKubeconfigFile = await runnerKubeconfig(s, deployed);
});

afterAll(() => {
  for (const store of started) store.stop();
  rmSync(kubectlHome, { recursive: true, force: true });
});

describe("KubernetesRunStore under the generated RBAC", () => {
  it("creates a HookRun (Pending), and a Skipped one with its status written through the status subresource", async () => {
    const store = await storeAs();
    const run = newRun();
    const t = performance.now();
    const { run: stored, created } = await store.create(run);
    figure("store.create of a Pending HookRun (ms)", performance.now() - t);
    expect(created).toBe(true);
    expect(stored.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(stored.status).toMatchObject({ phase: "Pending", attempts: 0, steps: [] });
    const server = await onServer(run.metadata.name);
    expect(server.spec).toMatchObject({
      hookSet: HOOKSET,
      hook: "h",
      identity: run.spec.identity,
      eventId: run.spec.eventId,
    });
    expect(server.metadata.labels).toMatchObject({ [LABEL_HOOKSET]: HOOKSET, [LABEL_HOOK]: "h" });
    expect(store.get(run.metadata.name)?.metadata.uid).toBe(stored.metadata.uid);
    // What users see before the run's first status write: the CRD's defaults make it Pending.
    expect(server.status).toMatchObject({ phase: "Pending", attempts: 0, steps: [] });
    const table = execFileSync(stack().binaries.kubectl, ["get", "hookruns", run.metadata.name, "-n", NS], {
      encoding: "utf8",
      env: { KUBECONFIG: stack().adminKubeconfig, PATH: "/usr/bin:/bin", HOME: kubectlHome },
    });
    expect(table.split("\n")[0]).toMatch(/^NAME\s+HOOK\s+OBJECT\s+PHASE\s+AGE$/);
    expect(table.split("\n")[1]).toMatch(
      new RegExp(`^${run.metadata.name}\\s+h\\s+ConfigMap web/app-config\\s+Pending\\s+\\d+s$`),
    );

    const skipped = newRun();
    skipped.status = {
      phase: "Skipped",
      reason: "NotFired",
      message: "baseline",
      attempts: 0,
      steps: [],
      conditions: [],
      completionTime: new Date().toISOString(),
    };
    const { run: storedSkipped } = await store.create(skipped);
    expect(storedSkipped.status).toMatchObject({ phase: "Skipped", reason: "NotFired" });
    expect((await onServer(skipped.metadata.name)).status).toMatchObject({
      phase: "Skipped",
      reason: "NotFired",
      message: "baseline",
    });
  });

  it("create-if-absent: a second create of the same name answers the existing run and writes nothing", async () => {
    const a = await storeAs();
    const b = await storeAs();
    const run = newRun();
    const first = await a.create(run);
    const rvBefore = (await onServer(run.metadata.name)).metadata.resourceVersion;
    // another replica, before its watch has seen the first create (it asks the API server)
    const again = await b.create({ ...run, spec: { ...run.spec, eventId: "redelivered-under-another-id" } });
    expect(again.created).toBe(false);
    expect(again.run.metadata.uid).toBe(first.run.metadata.uid);
    expect(again.run.spec.eventId).toBe(run.spec.eventId);
    const server = await onServer(run.metadata.name);
    expect(server.metadata.resourceVersion).toBe(rvBefore);
    const list = await stack().admin.get<{ items: HookRun[] }>(
      `${HOOKRUNS}?labelSelector=${encodeURIComponent(`${LABEL_HOOKSET}=${HOOKSET}`)}`,
    );
    expect(list.items.filter((r) => r.spec.identity === run.spec.identity)).toHaveLength(1);
  });

  it("status updates are conditional on the resourceVersion: a stale write is a ConflictError and changes nothing", async () => {
    const a = await storeAs();
    const b = await storeAs();
    const { run } = await a.create(newRun());
    // both replicas read the same version and try to claim it
    const claimA = {
      ...run,
      status: {
        ...run.status,
        phase: "Running" as const,
        attempts: 1,
        claim: { holder: "pod-a/1", expiresAt: new Date(Date.now() + 15_000).toISOString() },
      },
    };
    const claimB = {
      ...run,
      status: {
        ...run.status,
        phase: "Running" as const,
        attempts: 1,
        claim: { holder: "pod-b/1", expiresAt: new Date(Date.now() + 15_000).toISOString() },
      },
    };
    const won = await a.updateStatus(claimA);
    expect(won.metadata.resourceVersion).not.toBe(run.metadata.resourceVersion);
    await expect(b.updateStatus(claimB)).rejects.toBeInstanceOf(ConflictError);
    expect((await onServer(run.metadata.name)).status.claim?.holder).toBe("pod-a/1");

    // the winner goes on from the version it wrote; a step's output of any JSON type is kept
    const step = {
      name: "s",
      phase: "Succeeded" as const,
      attempts: 1,
      durationMs: 12,
      output: { status: 200, list: [1, "two", null], ok: true },
    };
    const next = await a.updateStatus({ ...won, status: { ...won.status, steps: [step] } });
    expect((await onServer(run.metadata.name)).status.steps).toEqual([step]);
    // a write from the version before that one is stale too
    await expect(a.updateStatus({ ...won, status: { ...won.status, phase: "Failed" } })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(next.status.steps).toEqual([step]);

    // a run deleted meanwhile: also a conflict (the claim is gone), not a crash
    await stack().admin.call("DELETE", `${HOOKRUNS}/${run.metadata.name}`);
    await expect(a.updateStatus(next)).rejects.toBeInstanceOf(ConflictError);
  });

  it("two store instances see each other's creates, status updates and deletes through their watch", async () => {
    const a = await storeAs();
    const b = await storeAs();
    // What B's listeners (the queue, the run index) are told, one entry per version: B's own
    // write is announced once when it answers and may be again when its watch delivers it.
    const seenByB: Array<[string, RunChange, string]> = [];
    const versions = new Set<string>();
    b.subscribe((run, change) => {
      const version = `${run.metadata.name}/${change}/${run.metadata.resourceVersion ?? ""}`;
      if (versions.has(version)) return;
      versions.add(version);
      seenByB.push([run.metadata.name, change, run.status.phase]);
    });

    const t0 = performance.now();
    const { run } = await a.create(newRun());
    const name = run.metadata.name;
    await until("B sees A's create", () => b.get(name), 20_000, 20);
    figure("A creates -> B's cache has it (ms)", performance.now() - t0);

    const t1 = performance.now();
    const running = await a.updateStatus({ ...run, status: { ...run.status, phase: "Running", attempts: 1 } });
    const seen = await until(
      "B sees A's status update",
      () => (b.get(name)?.status.phase === "Running" ? b.get(name) : undefined),
      20_000,
      20,
    );
    figure("A updates status -> B's cache has it (ms)", performance.now() - t1);
    expect(seen.metadata.resourceVersion).toBe(running.metadata.resourceVersion);

    // B writes from what its watch delivered; A sees it, and A's now stale copy conflicts
    const done = await b.updateStatus({
      ...seen,
      status: { ...seen.status, phase: "Succeeded", completionTime: new Date().toISOString() },
    });
    await until(
      "A sees B's update",
      () => (a.get(name)?.metadata.resourceVersion === done.metadata.resourceVersion ? true : undefined),
      20_000,
      20,
    );
    expect(a.get(name)?.status.phase).toBe("Succeeded");
    await expect(a.updateStatus(running)).rejects.toBeInstanceOf(ConflictError);

    await a.delete(name);
    await until("B sees A's delete", () => (b.get(name) === undefined ? true : undefined), 20_000, 20);
    expect(seenByB.filter(([n]) => n === name).map(([, change, phase]) => `${change}:${phase}`)).toEqual([
      "added:Pending",
      "modified:Running",
      "modified:Succeeded",
      "deleted:Succeeded",
    ]);
    await a.delete(name); // deleting what is gone is no error
  });

  it("a store sees only its hook set's runs, and a fresh instance (a restarted runner) lists them all", async () => {
    const a = await storeAs();
    const mine = await Promise.all([1, 2, 3].map(() => a.create(newRun())));
    const otherSet = await storeAs({ hookSet: "another-set" });
    const theirs = await otherSet.create(newRun("another-set"));
    // A watch delivers in resourceVersion order: once A has seen a later write of its own set
    // (by another instance), it has passed the other set's write.
    const b = await storeAs();
    const later = await b.create(newRun());
    await until("A sees the later write", () => a.get(later.run.metadata.name), 20_000, 20);
    expect(a.get(theirs.run.metadata.name)).toBeUndefined();
    mine.push(later);

    const fresh = await storeAs();
    const names = new Set([...fresh.list()].map((r) => r.metadata.name));
    for (const { run } of mine) expect(names.has(run.metadata.name)).toBe(true);
    expect(names.has(theirs.run.metadata.name)).toBe(false);
    expect([...fresh.list()].every((r) => r.metadata.labels[LABEL_HOOKSET] === HOOKSET)).toBe(true);
    figure("HookRuns a fresh store instance listed at start", names.size);
  });

  it("the generated RBAC grants HookRuns in the runner's namespace only", async () => {
    const elsewhere = await storeAs({ namespace: "web", start: false });
    const error = await elsewhere.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, "listing HookRuns in another namespace").toBeDefined();
    expect((error as { status?: number }).status).toBe(403);
    elsewhere.stop();
    // nor may it touch other kinds in its own namespace, e.g. the Leases the old store used
    const rest = stack().restClient(runnerKubeconfigFile);
    const leases = await rest.get<KubeObject>(`/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(leases).toBeInstanceOf(KubeApiError);
    expect((leases as KubeApiError).status).toBe(403);
  });
});
