// RestClient's reuse of the KubeConfig's credentials, against a real HTTP server on 127.0.0.1 and
// a KubeConfig whose auth plugin hands out a new token each time it is asked (as exec and OIDC
// plugins do when a token expires): one applyToHTTPSOptions serves requests for a while, a 401
// or the end of that while applies it again, and every request still gets its own headers.
import { KubeConfig, type User } from "@kubernetes/client-node";
import type https from "node:https";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RestClient } from "../../src/k8s/rest.js";
import { KubeApiError } from "../../src/k8s/types.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

let api: RecordingServer;
/** The tokens the server accepts. */
const valid = new Set<string>();

beforeAll(async () => {
  api = await startRecordingServer();
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.requests.length = 0;
  valid.clear();
  api.respondWith((req) =>
    valid.has(String(req.headers.authorization).replace(/^Bearer /, ""))
      ? { status: 200, body: { path: req.path } }
      : { status: 401, body: { kind: "Status", reason: "Unauthorized", message: "Unauthorized" } },
  );
});

/** A KubeConfig whose plugin issues token-1, token-2, ... one per applyToHTTPSOptions. */
function rotatingConfig(): { kubeConfig: KubeConfig; issued: () => number } {
  let issued = 0;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "local", server: api.url, skipTLSVerify: true }],
    users: [{ name: "me", authProvider: { name: "rotating", config: {} } }],
    contexts: [{ name: "local", cluster: "local", user: "me" }],
    currentContext: "local",
  });
  kubeConfig.addAuthenticator({
    isAuthProvider: (user: User) => user.authProvider?.name === "rotating",
    applyAuthentication: async (_user: User, opts: https.RequestOptions) => {
      issued++;
      opts.headers = { ...opts.headers, Authorization: `Bearer token-${issued}` };
    },
  });
  return { kubeConfig, issued: () => issued };
}

function client(kubeConfig: KubeConfig): { rest: RestClient; advance(ms: number): void } {
  let now = 0;
  const rest = new RestClient(kubeConfig, { now: () => now });
  return { rest, advance: (ms) => void (now += ms) };
}

describe("RestClient credentials", () => {
  it("applies the KubeConfig once for many requests, each with its own path, query and headers", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    const { rest } = client(kubeConfig);
    valid.add("token-1");
    await Promise.all([
      rest.request("GET", "/api/v1/namespaces/a/configmaps/x", { query: { resourceVersion: "0" } }),
      rest.request("POST", "/api/v1/namespaces/a/configmaps", { body: { a: 1 }, query: { fieldValidation: "Ignore" } }),
    ]);
    await rest.request("GET", "/api/v1/namespaces/b/configmaps/y");
    expect(issued()).toBe(1);
    const sent = (method: string, prefix: string) =>
      api.requests.find((r) => r.method === method && r.path.startsWith(prefix));
    const [get, post, last] = [
      sent("GET", "/api/v1/namespaces/a"),
      sent("POST", "/"),
      sent("GET", "/api/v1/namespaces/b"),
    ];
    expect(get).toMatchObject({ method: "GET", path: "/api/v1/namespaces/a/configmaps/x?resourceVersion=0" });
    expect(post).toMatchObject({ method: "POST", path: "/api/v1/namespaces/a/configmaps?fieldValidation=Ignore" });
    expect(post!.headers["content-type"]).toBe("application/json");
    expect(post!.json).toEqual({ a: 1 });
    expect(get!.headers["content-type"]).toBeUndefined();
    expect(last).toMatchObject({ method: "GET", path: "/api/v1/namespaces/b/configmaps/y" });
    for (const request of api.requests) {
      expect(request.headers.accept).toBe("application/json");
      expect(request.headers["user-agent"]).toBe("resource-hooks");
      expect(request.headers.authorization).toBe("Bearer token-1");
    }
  });

  it("applies the KubeConfig again once the credentials are 10 s old", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    const { rest, advance } = client(kubeConfig);
    valid.add("token-1").add("token-2");
    await rest.request("GET", "/a");
    advance(9_999);
    await rest.request("GET", "/b");
    expect(issued()).toBe(1);
    advance(1);
    await rest.request("GET", "/c");
    expect(issued()).toBe(2);
    expect(api.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer token-1",
      "Bearer token-1",
      "Bearer token-2",
    ]);
  });

  it("after a 401 with reused credentials applies the KubeConfig again and sends the request once more", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    const { rest } = client(kubeConfig);
    valid.add("token-1");
    await rest.request("GET", "/a");
    valid.delete("token-1"); // expired at the API server
    valid.add("token-2");
    await expect(rest.request("POST", "/b", { body: { n: 1 } })).resolves.toEqual({ path: "/b" });
    expect(issued()).toBe(2);
    const sent = api.requests.map((r) => [r.path, r.headers.authorization, r.bodyText]);
    expect(sent).toEqual([
      ["/a", "Bearer token-1", ""],
      ["/b", "Bearer token-1", '{"n":1}'],
      ["/b", "Bearer token-2", '{"n":1}'],
    ]);
  });

  it("answers a 401 with fresh credentials as is, and applies the KubeConfig again for the next request", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    const { rest } = client(kubeConfig);
    const refused = await rest.request("GET", "/a").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(KubeApiError);
    expect((refused as KubeApiError).status).toBe(401);
    expect(api.requests).toHaveLength(1);
    valid.add("token-2");
    await rest.request("GET", "/b");
    expect(issued()).toBe(2);
    // Sent once, with the new token: not first with the refused one.
    expect(api.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ["/a", "Bearer token-1"],
      ["/b", "Bearer token-2"],
    ]);
  });

  it("applies the KubeConfig again after a watch is refused with a 401", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    const { rest } = client(kubeConfig);
    valid.add("token-1");
    await rest.request("GET", "/a");
    valid.clear();
    const watch = await rest.watch("/api/v1/configmaps", {}, () => undefined);
    await expect(watch.done).rejects.toMatchObject({ status: 401 });
    valid.add("token-2");
    await rest.request("GET", "/b");
    expect(issued()).toBe(2);
    // Sent once, with the new token: not first with the refused one.
    expect(api.requests.filter((r) => r.path === "/b").map((r) => r.headers.authorization)).toEqual(["Bearer token-2"]);
  });

  it("does not keep a failed applyToHTTPSOptions", async () => {
    const { kubeConfig, issued } = rotatingConfig();
    let fail = true;
    kubeConfig.addAuthenticator({
      isAuthProvider: () => fail,
      applyAuthentication: async () => {
        throw new Error("exec plugin failed");
      },
    });
    // Custom authenticators are asked in order; put the failing one first.
    (kubeConfig as unknown as { custom_authenticators: unknown[] }).custom_authenticators.reverse();
    const { rest } = client(kubeConfig);
    await expect(rest.request("GET", "/a")).rejects.toThrow("exec plugin failed");
    fail = false;
    valid.add("token-1");
    await expect(rest.request("GET", "/b")).resolves.toEqual({ path: "/b" });
    expect(issued()).toBe(1);
  });
});
