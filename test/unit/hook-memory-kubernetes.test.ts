// The HookMemory shards as custom resources (KubernetesShardStore), against a local HTTP server
// that answers the API paths as kube-apiserver does: a create of an existing shard is 409
// AlreadyExists, a merge patch carrying a stale resourceVersion is 409 Conflict. Two replicas
// (two stores, two HookSetMemory) writing one shard end with both their entries.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubernetesShardStore } from "../../src/runner/memory/kubernetes.js";
import { HookSetMemory } from "../../src/runner/memory/memory.js";
import { decodeEntry, type HookMemoryObject } from "../../src/runner/memory/shard.js";
import { hookSetFrom } from "../helpers/spec.js";
import { silent, uidsInShard } from "../helpers/memory.js";
import { kubeConfigFor } from "../helpers/kube-config.js";

const COLLECTION = "/apis/resource-hooks.io/v1alpha1/namespaces/hooks/hookmemories";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** RFC 7386, as the API server applies application/merge-patch+json. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: { [key: string]: Json } =
    target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

class FakeApiServer {
  readonly objects = new Map<string, HookMemoryObject>();
  readonly requests: Array<{
    method: string;
    path: string;
    watch?: boolean;
    contentType?: string;
    body?: Record<string, unknown>;
  }> = [];
  /** Open watches of the collection: every create and patch is streamed to them, as kube-apiserver does. */
  private readonly watchers = new Set<ServerResponse>();
  /** Answers for the next list requests (status codes) before the real one. */
  listFailures: number[] = [];
  private version = 100;
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }

  private notify(type: string, object: HookMemoryObject): void {
    for (const res of this.watchers) res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = "";
    for await (const chunk of req) text += String(chunk);
    const url = new URL(req.url ?? "/", "http://x");
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    const watch = url.searchParams.get("watch") === "true";
    this.requests.push({
      method: req.method ?? "",
      path: url.pathname,
      ...(watch ? { watch } : {}),
      ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
      ...(body ? { body } : {}),
    });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });
    if (url.pathname === COLLECTION && req.method === "GET" && watch) {
      res.writeHead(200, { "content-type": "application/json" });
      this.watchers.add(res);
      res.on("close", () => this.watchers.delete(res));
      return;
    }
    if (url.pathname === COLLECTION && req.method === "GET") {
      const failure = this.listFailures.shift();
      if (failure) return status(failure, "ServiceUnavailable", "the server is starting");
      const wanted = (url.searchParams.get("labelSelector") ?? "").split(",").filter(Boolean);
      const items = [...this.objects.values()].filter((o) =>
        wanted.every((pair) => {
          const [key, value] = pair.split("=");
          return o.metadata.labels?.[key!] === value;
        }),
      );
      return send(200, { kind: "HookMemoryList", items, metadata: { resourceVersion: String(this.version) } });
    }
    if (url.pathname === COLLECTION && req.method === "POST") {
      const object = body as unknown as HookMemoryObject;
      if (this.objects.has(object.metadata.name))
        return status(409, "AlreadyExists", `hookmemories "${object.metadata.name}" already exists`);
      const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.version) } };
      this.objects.set(object.metadata.name, stored);
      this.notify("ADDED", stored);
      return send(201, stored);
    }
    const name = decodeURIComponent(url.pathname.slice(COLLECTION.length + 1));
    const current = this.objects.get(name);
    if (!current) return status(404, "NotFound", `hookmemories "${name}" not found`);
    if (req.method === "GET") return send(200, current);
    if (req.method === "PATCH") {
      if (req.headers["content-type"] !== "application/merge-patch+json")
        return status(415, "UnsupportedMediaType", "not a merge patch");
      const precondition = (body?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (precondition !== undefined && precondition !== current.metadata.resourceVersion)
        return status(409, "Conflict", `the object has been modified; please apply your changes to the latest version`);
      const patched = mergePatch(current as unknown as Json, body as Json) as unknown as HookMemoryObject;
      patched.metadata.resourceVersion = String(++this.version);
      this.objects.set(name, patched);
      this.notify("MODIFIED", patched);
      return send(200, patched);
    }
    status(405, "MethodNotAllowed", req.method ?? "");
  }
}

const hookSet = hookSetFrom(
  [
    {
      name: "image",
      on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, changed: ["data.image"] },
      steps: [{ name: "say", log: { message: "hi" } }],
    },
  ],
  { metadata: { namespace: "argo-events" } },
);
const [u1, u2, u3] = uidsInShard(3, 3);
const entry = (fingerprint: string, resourceVersion: string) => ({
  fingerprint,
  resourceVersion,
  acceptedAt: "2026-12-01T10:00:00.000Z",
});

describe("KubernetesShardStore", () => {
  const api = new FakeApiServer();
  beforeAll(() => api.start());
  afterAll(() => api.stop());
  beforeEach(() => {
    api.objects.clear();
    api.requests.length = 0;
  });
  const replicas: HookSetMemory[] = [];
  afterEach(() => {
    for (const r of replicas.splice(0)) r.stop();
  });
  /** A replica; `watching: false` learns what others wrote only from its own write conflicts. */
  const replica = (watching = true) => {
    const shards = new KubernetesShardStore(kubeConfigFor(api.url), "hooks", silent, 5_000);
    if (!watching) Object.assign(shards, { watch: undefined });
    const memory = new HookSetMemory({ hookSet, shards, namespace: "hooks", logger: silent, flushDelayMs: 60_000 });
    replicas.push(memory);
    return memory;
  };

  it("two replicas writing one shard: the second's create is refused, it reads, merges and patches only its entries", async () => {
    const a = replica();
    const b = replica();
    await a.start();
    await b.start();
    a.remember("image", u1!, entry("p:a1", "20"));
    b.remember("image", u2!, entry("p:b2", "21"));
    b.remember("image", u1!, entry("p:stale", "15"));
    await a.flush();
    await b.flush();
    const writesAndReads = api.requests.filter((r) => !r.watch);
    expect(writesAndReads.map((r) => `${r.method} ${r.path === COLLECTION ? "collection" : "shard"}`)).toEqual([
      "GET collection",
      "GET collection",
      "POST collection",
      "POST collection",
      "GET shard",
      "PATCH shard",
    ]);
    const patch = writesAndReads.at(-1)!;
    expect(patch.contentType).toBe("application/merge-patch+json");
    // Only what changes, under the resourceVersion it was computed from; B's stale u1 is dropped.
    expect(patch.body).toEqual({
      metadata: { resourceVersion: "101" },
      entries: { [u2!]: { image: expect.stringMatching(/^21 \S+ p:b2$/) } },
    });
    const [stored] = [...api.objects.values()];
    expect(stored!.metadata.labels).toMatchObject({
      "resource-hooks.io/hookset-namespace": "argo-events",
      "resource-hooks.io/hookset": "web",
    });
    expect(Object.keys(stored!.entries!).sort()).toEqual([u1!, u2!].sort());
    expect(decodeEntry(stored!.entries![u1!]!.image!)?.fingerprint).toBe("p:a1");
    // A restarted replica reads it all with one list.
    const c = replica();
    await c.start();
    expect([c.recall("image", u1!)?.fingerprint, c.recall("image", u2!)?.fingerprint]).toEqual(["p:a1", "p:b2"]);
  });

  it("a patch under a stale resourceVersion is 409: read again, merged, patched again", async () => {
    const a = replica();
    const b = replica(false);
    a.remember("image", u1!, entry("p:a1", "20"));
    await a.flush();
    await b.start();
    a.remember("image", u2!, entry("p:a2", "22"));
    await a.flush();
    b.remember("image", u3!, entry("p:b3", "23"));
    await b.flush();
    expect(api.requests.filter((r) => r.method === "PATCH")).toHaveLength(3);
    const [stored] = [...api.objects.values()];
    expect(Object.keys(stored!.entries!).sort()).toEqual([u1!, u2!, u3!].sort());
    expect(b.unwritten).toBe(0);
  });

  it("a replica sees what another wrote through its watch, with no write or conflict of its own", async () => {
    const a = replica();
    const b = replica();
    await a.start();
    await b.start();
    a.remember("image", u1!, entry("p:a1", "20"));
    await a.flush();
    for (let i = 0; i < 200 && b.recall("image", u1!)?.fingerprint !== "p:a1"; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(b.recall("image", u1!)?.fingerprint).toBe("p:a1");
    // b read nothing but its list and its watch.
    expect(api.requests.filter((r) => r.method !== "GET" || !r.watch).map((r) => r.method)).toEqual([
      "GET",
      "GET",
      "POST",
    ]);
  });

  it("a shard deleted behind the runner's back is created again", async () => {
    const a = replica();
    a.remember("image", u1!, entry("p:a1", "20"));
    await a.flush();
    api.objects.clear();
    a.remember("image", u2!, entry("p:a2", "21"));
    await a.flush();
    const [stored] = [...api.objects.values()];
    // What went with the deleted shard is gone (as deleted HookRuns would be): the batch starts anew.
    expect(Object.keys(stored!.entries!)).toEqual([u2!]);
    expect(a.unwritten).toBe(0);
  });

  it("the first list waits out an API server that is starting; one without the CRD fails at once", async () => {
    api.listFailures = [503, 503];
    const a = replica();
    await a.start();
    expect(api.requests.filter((r) => r.method === "GET" && !r.watch)).toHaveLength(3);
    api.listFailures = [404];
    await expect(replica().start()).rejects.toMatchObject({ status: 404 });
  });
});
