// explain against a real local HTTP server that answers the API paths it reads (the unit layer
// has no API server), with HookRuns made by the runner's own Acceptor from real events, read
// through RestClient with a kubeconfig as users have one (plain HTTP: client-node asks for
// insecure-skip-tls-verify to allow it).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { explain, formatExplanation, type Explanation } from "../../src/explain/index.js";
import { RestClient } from "../../src/k8s/rest.js";
import { Acceptor } from "../../src/runner/accept.js";
import type { HookRun } from "../../src/runner/hookrun.js";
import { HookSetMemory } from "../../src/runner/memory/memory.js";
import { LocalShardStore } from "../../src/runner/memory/store.js";
import { RunIndex } from "../../src/runner/run-index.js";
import { MemoryRunStore } from "../../src/runner/store/memory.js";
import { eventFor } from "../../src/simulate.js";
import { parseHookSet } from "../../src/hookset/load.js";
import type { KubeObject } from "../../src/trigger/index.js";
import { deployment } from "../helpers/objects.js";
import { kubeConfigFor } from "../helpers/kube-config.js";

const TOKEN = "kube-token-for-explain";
const HOOKS = {
  apiVersion: "resource-hooks.io/v1alpha1",
  kind: "HookSet",
  metadata: { name: "web", namespace: "argo-events" },
  spec: {
    runner: { url: "http://web-runner.argo-events.svc:8080" },
    hooks: [
      {
        name: "purge",
        on: {
          resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" },
          changed: ["spec.template.spec.containers[0].image"],
        },
        steps: [{ name: "tell", http: { url: "https://cdn.example.com/purge" } }],
      },
      {
        name: "payments",
        on: {
          resource: {
            group: "apps",
            version: "v1",
            resource: "deployments",
            namespace: "web",
            labels: { team: "payments" },
          },
        },
        steps: [{ name: "a", log: { message: "hi" } }],
      },
    ],
  },
};
const hookSet = parseHookSet(stringify(HOOKS), "hooks.yaml");
const image = (tag: string) => `registry.example/frontend:${tag}`;
const frontend = (tag: string, resourceVersion: string): KubeObject =>
  deployment({ image: image(tag), resourceVersion, generation: Number(resourceVersion) });

/** A local API server: the live objects by path, HookRuns listed by label selector. */
class FakeApiServer {
  readonly objects = new Map<string, unknown>();
  runs: HookRun[] = [];
  readonly seen: Array<{ path: string; query: string; authorization: string | undefined }> = [];
  private server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.seen.push({ path: url.pathname, query: url.search, authorization: req.headers.authorization });
      const send = (status: number, body: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${TOKEN}`)
        return send(401, { kind: "Status", reason: "Unauthorized", message: "Unauthorized" });
      if (url.pathname === "/apis/resource-hooks.io/v1alpha1/namespaces/argo-events/hookruns") {
        const wanted = (url.searchParams.get("labelSelector") ?? "")
          .split(",")
          .filter(Boolean)
          .map((kv) => kv.split("="));
        return send(200, {
          kind: "HookRunList",
          items: this.runs.filter((r) => wanted.every(([k, v]) => r.metadata.labels[k!] === v)),
        });
      }
      const object = this.objects.get(url.pathname);
      if (object) return send(200, object);
      return send(404, { kind: "Status", reason: "NotFound", message: `${url.pathname} not found` });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const PATH = "/apis/apps/v1/namespaces/web/deployments/frontend";

describe("explain", () => {
  const api = new FakeApiServer();
  let rest: RestClient;
  let handledFingerprint = "";

  beforeAll(async () => {
    await api.start();
    rest = new RestClient(kubeConfigFor(api.url, TOKEN));
    // The runner's own accept path makes the HookRuns: first served, a baseline, then a change
    // to 1.5.0 whose run failed. All in one instant of a frozen clock: the later state must win
    // by the object's history, not by the runs' names.
    const store = new MemoryRunStore();
    const memory = new HookSetMemory({
      hookSet,
      shards: new LocalShardStore(),
      namespace: "argo-events",
      logger: pino({ level: "silent" }),
    });
    const index = new RunIndex(store, memory);
    const frozen = new Date("2026-12-01T10:00:00.000Z");
    const acceptor = new Acceptor({
      hookSet,
      store,
      index,
      memory,
      namespace: "argo-events",
      logger: pino({ level: "silent" }),
      now: () => frozen,
    });
    await acceptor.recordFirstServed();
    await acceptor.accept(hookSet.hooks, eventFor({ type: "ADD", object: frontend("1.4.0", "3") }, "e1"));
    const accepted = await acceptor.accept(
      hookSet.hooks,
      eventFor({ type: "UPDATE", object: frontend("1.5.0", "4"), oldObject: frontend("1.4.0", "3") }, "e2"),
    );
    const fired = accepted.runs.find((r) => r.hook === "purge" && r.phase === "Pending")!;
    const run = store.get(fired.name)!;
    await store.updateStatus({
      ...run,
      status: {
        ...run.status,
        phase: "Failed",
        reason: "StepFailed",
        message: "step tell failed",
        attempts: 1,
        steps: [
          {
            name: "tell",
            phase: "Failed",
            attempts: 3,
            durationMs: 10,
            error: "POST https://cdn.example.com/purge: 503 Service Unavailable",
          },
        ],
      },
    });
    handledFingerprint = store.get(fired.name)!.spec.fingerprint!;
    api.runs = [...store.list()].map((r) => JSON.parse(JSON.stringify(r)) as HookRun);
  });
  afterAll(() => api.stop());

  it("the live object changed since the last handled state: fires, with both fingerprints and the failed run", async () => {
    api.objects.set(PATH, frontend("1.6.0", "9"));
    const e = await explain({ hookSet, hook: "purge", object: "web/frontend", api: rest });
    expect(e.object).toMatchObject({ kind: "Deployment", namespace: "web", name: "frontend", resourceVersion: "9" });
    expect(e.selector).toEqual([
      { part: "namespace", wants: "web", actual: "web", matches: true },
      { part: "name", wants: "frontend", actual: "frontend", matches: true },
    ]);
    expect(e.firstServedAt).toBeDefined();
    expect(e.lastHandled).toMatchObject({ fingerprint: handledFingerprint, phase: "Failed" });
    expect(e.fingerprint).not.toBe(handledFingerprint);
    expect(e.decision).toEqual({
      basis:
        "the live object against the last handled state (as the runner judges it when the event source replays it)",
      fires: true,
      reason: `frontend changed while the event source was away (fingerprint ${handledFingerprint} → ${e.fingerprint})`,
    });
    // The baseline is the hook's memory, not a run.
    expect(e.runs.map((r) => r.phase)).toEqual(["Failed"]);
    expect(e.runs[0]!.failedSteps).toEqual([
      { name: "tell", error: "POST https://cdn.example.com/purge: 503 Service Unavailable" },
    ]);
    // It read with the kubeconfig's credentials, HookRuns by the hook's labels.
    expect(api.seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(api.seen.some((s) => s.query.includes(encodeURIComponent("resource-hooks.io/hook=purge")))).toBe(true);
    const text = formatExplanation(e);
    expect(text).toContain(`last handled: fingerprint ${handledFingerprint}`);
    expect(text).toContain("    step tell failed: POST https://cdn.example.com/purge: 503 Service Unavailable");
    expect(text).toContain(`  FIRES  frontend changed while the event source was away`);
  });

  it("the live object is in the handled state: skips as already handled, with the reason code", async () => {
    api.objects.set(PATH, frontend("1.5.0", "4"));
    const e = await explain({ hookSet, hook: "purge", object: "web/frontend", api: rest });
    expect(e.decision).toMatchObject({
      fires: false,
      reason: `frontend was already handled in this state (fingerprint ${handledFingerprint}): a replayed ADD`,
      code: "already_handled",
    });
  });

  it("names the selector part that does not match, and decides with the same words as simulate", async () => {
    api.objects.set(PATH, frontend("1.5.0", "4"));
    const e = await explain({ hookSet, hook: "payments", object: "web/frontend", api: rest });
    expect(e.selector).toEqual([
      { part: "namespace", wants: "web", actual: "web", matches: true },
      { part: "label team", wants: "payments", actual: "web", matches: false },
    ]);
    expect(e.decision).toMatchObject({ fires: false, reason: "label team=payments is not set", code: "not_selected" });
    expect(formatExplanation(e)).toContain("MISMATCH  label team: wants payments, object has web");
  });

  it("an old/new pair is decided as an UPDATE against the memory", async () => {
    const e = await explain({
      hookSet,
      hook: "purge",
      object: "web/frontend",
      api: rest,
      pair: { oldObject: frontend("1.5.0", "4"), object: frontend("1.7.0", "5") },
    });
    expect(e.decision).toMatchObject({ fires: true, reason: "spec.template.spec.containers[0].image changed" });
  });

  it("an object remembered only by its baseline: the memory entry is what the hook last handled", async () => {
    // A runner that has only seen the event source's first ADD of frontend: a baseline, which is
    // an entry in a HookMemory shard, not a HookRun.
    const shards = new LocalShardStore();
    const store = new MemoryRunStore();
    const memory = new HookSetMemory({ hookSet, shards, namespace: "argo-events", logger: pino({ level: "silent" }) });
    const index = new RunIndex(store, memory);
    const logger = pino({ level: "silent" });
    const acceptor = new Acceptor({ hookSet, store, index, memory, namespace: "argo-events", logger });
    await acceptor.recordFirstServed();
    await acceptor.accept(hookSet.hooks, eventFor({ type: "ADD", object: frontend("1.4.0", "3") }, "b1"));
    await memory.flush();
    const saved = { runs: api.runs, objects: new Map(api.objects) };
    try {
      api.runs = [...store.list()].map((r) => JSON.parse(JSON.stringify(r)) as HookRun);
      const shardPaths: string[] = [];
      for (const shard of await shards.list({ namespace: "argo-events", name: "web" })) {
        const path = `/apis/resource-hooks.io/v1alpha1/namespaces/argo-events/hookmemories/${shard.metadata.name}`;
        api.objects.set(path, shard);
        shardPaths.push(path);
      }
      expect(shardPaths.length).toBeGreaterThan(0);
      api.objects.set(PATH, frontend("1.4.0", "3"));
      const e = await explain({ hookSet, hook: "purge", object: "web/frontend", api: rest });
      expect(e.runs).toEqual([]);
      expect(e.lastHandled).toMatchObject({ run: expect.stringMatching(/^hookmemory\//), phase: "" });
      expect(e.decision).toMatchObject({ fires: false, code: "already_handled" });
      expect(formatExplanation(e)).toContain(
        `last handled: fingerprint ${e.lastHandled!.fingerprint} (memory hookmemory/`,
      );
      // It read exactly the shard the runner keeps this object's entry in.
      expect(
        api.seen
          .filter((x) => x.path.includes("/hookmemories/"))
          .map((x) => x.path)
          .at(-1),
      ).toSatisfy((p: string) => shardPaths.includes(p));
      // A changed live object fires against that entry, as the runner's replay would.
      api.objects.set(PATH, frontend("1.6.0", "9"));
      const changed = await explain({ hookSet, hook: "purge", object: "web/frontend", api: rest });
      expect(changed.decision).toMatchObject({ fires: true });
    } finally {
      api.runs = saved.runs;
      api.objects.clear();
      for (const [k, v] of saved.objects) api.objects.set(k, v);
      memory.stop();
    }
  });

  it("an object that does not exist: says so, and still lists what it can", async () => {
    const e: Explanation = await explain({ hookSet, hook: "purge", object: "web/nothing", api: rest });
    expect(e.object).toBeNull();
    expect(e.objectError).toBe(
      "not found: no deployments web/nothing (GET /apis/apps/v1/namespaces/web/deployments/nothing)",
    );
    expect(e.decision).toBeNull();
    expect(formatExplanation(e)).toContain("object: not found: no deployments web/nothing");
  });

  it("refuses an unknown hook and a malformed --object", async () => {
    await expect(explain({ hookSet, hook: "nope", object: "web/frontend", api: rest })).rejects.toThrow(
      'no hook "nope" in HookSet web (hooks: purge, payments)',
    );
    await expect(explain({ hookSet, hook: "purge", object: "a/b/c", api: rest })).rejects.toThrow(
      "expected <namespace>/<name>",
    );
  });

  it("the CLI: resource-hooks explain with a kubeconfig file, as an e2e test would call it", async () => {
    api.objects.set(PATH, frontend("1.6.0", "9"));
    const dir = mkdtempSync(join(tmpdir(), "rh-explain-"));
    try {
      const hooksFile = join(dir, "hooks.yaml");
      writeFileSync(hooksFile, stringify(HOOKS));
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(
        kubeconfig,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "local", cluster: { server: api.url, "insecure-skip-tls-verify": true } }],
          users: [{ name: "me", user: { token: TOKEN } }],
          contexts: [{ name: "local", context: { cluster: "local", user: "me" } }],
          "current-context": "local",
        }),
      );
      const root = join(import.meta.dirname, "../..");
      // Asynchronously: the API server answering it lives in this process.
      const r = await promisify(execFile)(
        process.execPath,
        [
          "--import",
          "tsx",
          join(root, "src/cli/main.ts"),
          "explain",
          "purge",
          "--object",
          "web/frontend",
          "-f",
          hooksFile,
          "--kubeconfig",
          kubeconfig,
          "-o",
          "json",
        ],
        { cwd: root, encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      const e = JSON.parse(r.stdout) as Explanation;
      expect(e.decision).toMatchObject({ fires: true });
      expect(e.lastHandled?.fingerprint).toBe(handledFingerprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A child process through tsx: slow on a loaded machine, the timeout only guards a hang.
  }, 60_000);
});
