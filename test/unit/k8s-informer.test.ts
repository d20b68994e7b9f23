// The informer (src/k8s/informer.ts) against a real local HTTP server that speaks the API server's
// list and watch protocol for one collection: lists with a resourceVersion, streamed watch events,
// bookmarks, 410 Gone as an ERROR event and as a status, watches the server ends and connections
// that break. The HookRun store and the steps' waits are built on it.
import type { ServerResponse } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Informer, type InformerHandlers, type InformerOptions } from "../../src/k8s/informer.js";
import { RestClient } from "../../src/k8s/rest.js";
import { KubeApiError, type KubeObject } from "../../src/k8s/types.js";
import { pollUntil } from "../helpers/poll.js";
import { startRecordingServer, type RecordedRequest, type RecordingServer } from "../helpers/recording-server.js";

const COLLECTION = "/apis/example.com/v1/namespaces/team-a/widgets";

const widget = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name, namespace: "team-a", resourceVersion },
});

interface OpenWatch {
  query: URLSearchParams;
  res: ServerResponse;
  closed: boolean;
  send(type: string, object: unknown): void;
}

/** One collection: lists answer `objects` at `resourceVersion`; watches stay open until the test ends them. */
class FakeCollection {
  objects: KubeObject[] = [];
  resourceVersion = "1";
  readonly watches: OpenWatch[] = [];
  /** The next watch is answered with this status instead of a stream; then `then` runs. */
  refuseNextWatch: { code: number; reason: string; then?: () => void } | undefined;

  handle = (req: RecordedRequest, res: ServerResponse) => {
    const url = new URL(req.path, "http://fake");
    if (url.pathname === COLLECTION && url.searchParams.get("watch") === "true") {
      const refusal = this.refuseNextWatch;
      this.refuseNextWatch = undefined;
      if (refusal) {
        refusal.then?.();
        return status(refusal.code, refusal.reason);
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      const watch: OpenWatch = {
        query: url.searchParams,
        res,
        closed: false,
        send: (type, object) => res.write(`${JSON.stringify({ type, object })}\n`),
      };
      res.on("close", () => (watch.closed = true));
      this.watches.push(watch);
      return undefined;
    }
    if (url.pathname === COLLECTION)
      return { body: { kind: "WidgetList", metadata: { resourceVersion: this.resourceVersion }, items: this.objects } };
    const name = decodeURIComponent(url.pathname.slice(COLLECTION.length + 1));
    const found = this.objects.find((o) => o.metadata?.name === name);
    return found ? { body: found } : status(404, "NotFound");
  };

  async watch(n: number): Promise<OpenWatch> {
    return await pollUntil(`watch #${n}`, 5_000, async () => this.watches[n - 1], 10);
  }
}

function status(code: number, reason: string) {
  return { status: code, body: { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message: reason } };
}

let server: RecordingServer;
let api: FakeCollection;
let rest: RestClient;
let informer: Informer | undefined;

beforeAll(async () => {
  server = await startRecordingServer();
  // Plain HTTP: client-node allows it only with skipTLSVerify.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "fake", server: server.url, skipTLSVerify: true }],
    users: [{ name: "tester", token: "kube-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "tester" }],
    currentContext: "fake",
  });
  rest = new RestClient(kubeConfig);
});
beforeEach(() => {
  api = new FakeCollection();
  server.respondWith(api.handle);
  server.requests.length = 0;
});
afterEach(() => {
  informer?.stop();
  informer = undefined;
  for (const w of api.watches) w.res.destroy();
});
afterAll(async () => {
  await server.close();
});

interface Seen {
  lists: string[][];
  events: string[];
  retries: string[];
}

function start(options: Partial<InformerOptions> = {}, handlers: Partial<InformerHandlers> = {}): Seen {
  const seen: Seen = { lists: [], events: [], retries: [] };
  informer = new Informer(
    rest,
    {
      path: COLLECTION,
      labelSelector: "app=web",
      watchSeconds: () => 300,
      backoff: { initialMs: 50, maxMs: 200 },
      onRetry: (err, failed) => seen.retries.push(`${failed}: ${(err as Error).message}`),
      ...options,
    },
    {
      onList: (objects) => seen.lists.push(objects.map((o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`)),
      onEvent: (type, object) =>
        seen.events.push(`${type} ${object.metadata?.name}@${object.metadata?.resourceVersion}`),
      ...handlers,
    },
  );
  return seen;
}

const lists = () => server.requests.filter((r) => r.method === "GET" && !r.path.includes("watch=true"));

describe("informer", () => {
  it("lists, then watches from the list's resourceVersion with bookmarks, following every event", async () => {
    api.objects = [widget("a", "11"), widget("b", "12")];
    api.resourceVersion = "12";
    const seen = start();
    await informer!.list();
    expect(seen.lists).toEqual([["a@11", "b@12"]]);
    expect(lists()[0]!.path).toBe(`${COLLECTION}?labelSelector=app%3Dweb`);
    const running = informer!.run();
    const first = await api.watch(1);
    expect(Object.fromEntries(first.query)).toEqual({
      watch: "true",
      labelSelector: "app=web",
      resourceVersion: "12",
      allowWatchBookmarks: "true",
      timeoutSeconds: "300",
    });
    expect(server.requests.at(-1)!.headers.authorization).toBe("Bearer kube-token");
    first.send("ADDED", widget("c", "13"));
    first.send("MODIFIED", widget("a", "14"));
    first.send("BOOKMARK", { kind: "Widget", metadata: { resourceVersion: "20" } });
    first.send("DELETED", widget("b", "21"));
    await pollUntil("the events", 5_000, async () => (seen.events.length === 3 ? true : undefined), 10);
    expect(seen.events).toEqual(["ADDED c@13", "MODIFIED a@14", "DELETED b@21"]);
    informer!.stop();
    await running;
    await pollUntil("the watch closed", 5_000, async () => (first.closed ? true : undefined), 10);
    expect(api.watches).toHaveLength(1);
  });

  it("after a watch the server ends, watches again from the last resourceVersion it saw, without listing", async () => {
    api.resourceVersion = "5";
    const seen = start();
    await informer!.list();
    const running = informer!.run();
    const first = await api.watch(1);
    first.send("MODIFIED", widget("a", "6"));
    first.send("BOOKMARK", { kind: "Widget", metadata: { resourceVersion: "9" } });
    await pollUntil("the event", 5_000, async () => (seen.events.length === 1 ? true : undefined), 10);
    first.res.end();
    const second = await api.watch(2);
    expect(second.query.get("resourceVersion")).toBe("9");
    // A watch the server ended at once is not restarted in a busy loop.
    const [watch1, watch2] = server.requests.filter((r) => r.path.includes("watch=true"));
    expect(watch2!.receivedAt - watch1!.receivedAt).toBeGreaterThanOrEqual(900);
    expect(lists()).toHaveLength(1);
    expect(seen.retries).toEqual([]);
    informer!.stop();
    await running;
  });

  it("410 Gone, as an ERROR event or as the watch's status: lists again, then watches from the new list", async () => {
    api.objects = [widget("a", "3"), widget("b", "4")];
    api.resourceVersion = "4";
    const seen = start();
    await informer!.list();
    const running = informer!.run();
    const first = await api.watch(1);
    api.objects = [widget("a", "3"), widget("c", "40")];
    api.resourceVersion = "41";
    // The watch after that list is refused with 410: the informer lists again.
    api.refuseNextWatch = { code: 410, reason: "Expired", then: () => (api.resourceVersion = "42") };
    first.send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 4 (30)" });
    const second = await api.watch(2);
    expect(lists()).toHaveLength(3);
    expect(second.query.get("resourceVersion")).toBe("42");
    expect(seen.lists).toEqual([
      ["a@3", "b@4"],
      ["a@3", "c@40"],
      ["a@3", "c@40"],
    ]);
    expect(seen.events).toEqual([]);
    expect(seen.retries).toEqual([]);
    informer!.stop();
    await running;
  });

  it("a broken watch is retried with backoff: it lists again and watches from there", async () => {
    api.resourceVersion = "7";
    const seen = start();
    await informer!.list();
    const running = informer!.run();
    const first = await api.watch(1);
    api.resourceVersion = "8";
    first.res.destroy();
    const second = await api.watch(2);
    expect(second.query.get("resourceVersion")).toBe("8");
    expect(lists()).toHaveLength(2);
    expect(seen.retries).toHaveLength(1);
    expect(seen.retries[0]).toMatch(/^watch: WATCH \/apis\/example.com/);
    informer!.stop();
    await running;
  });

  it("a handler that throws fails the watch like the server would; a failure not retryable rejects run()", async () => {
    const seen = start(
      { retryable: (err) => !(err instanceof KubeApiError && err.status === 403) },
      {
        onEvent: () => {
          throw new Error("handler broke");
        },
      },
    );
    await informer!.list();
    const running = informer!.run();
    const first = await api.watch(1);
    api.refuseNextWatch = { code: 403, reason: "Forbidden" };
    first.send("ADDED", widget("a", "2"));
    await expect(running).rejects.toMatchObject({ status: 403, reason: "Forbidden" });
    expect(seen.retries).toEqual(["watch: handler broke"]);
    await pollUntil("the watch closed", 5_000, async () => (first.closed ? true : undefined), 10);
  });

  it("one object: read with a GET (404 is nothing), watched by name from its resourceVersion", async () => {
    const seen = start({ name: "x y", labelSelector: undefined });
    await informer!.list();
    expect(seen.lists).toEqual([[]]);
    expect(lists()[0]!.path).toBe(`${COLLECTION}/x%20y`);
    const running = informer!.run();
    const first = await api.watch(1);
    expect(Object.fromEntries(first.query)).toEqual({
      watch: "true",
      fieldSelector: "metadata.name=x y",
      allowWatchBookmarks: "true",
      timeoutSeconds: "300",
    });
    api.objects = [widget("x y", "15")];
    first.send("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    const second = await api.watch(2);
    expect(second.query.get("resourceVersion")).toBe("15");
    expect(seen.lists).toEqual([[], ["x y@15"]]);
    informer!.stop();
    await running;
  });

  it("an aborted signal ends list() and run() with its reason and closes the watch", async () => {
    const controller = new AbortController();
    start({ signal: controller.signal });
    await informer!.list();
    const running = informer!.run();
    const first = await api.watch(1);
    controller.abort(new Error("step timeout"));
    await expect(running).rejects.toThrow("step timeout");
    await pollUntil("the watch closed", 5_000, async () => (first.closed ? true : undefined), 10);
    await expect(informer!.list()).rejects.toThrow();
  });
});
