// The tenancy pieces against a stand-in API server (a recording server): the installation's key
// read, created, or read after another replica created it first (409); requests of a HookSet's
// steps carrying Impersonate-User of its ServiceAccount; secretKeyRefs read through the API as it,
// Forbidden said as such, env sources refused.
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RestClient } from "../../src/k8s/rest.js";
import { StepFailure } from "../../src/steps/types.js";
import { CREDENTIAL_KEY_BYTES, CREDENTIAL_KEY_SECRET } from "../../src/tenancy/credential.js";
import { impersonating, serviceAccountUser } from "../../src/tenancy/impersonation.js";
import { loadOrCreateCredentialKey } from "../../src/tenancy/key.js";
import { apiSecretReader } from "../../src/tenancy/secrets.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

let api: RecordingServer;
let config: KubeConfig;

beforeEach(async () => {
  api = await startRecordingServer();
  config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "c", server: api.url, skipTLSVerify: true }],
    users: [{ name: "runner", token: "runner-token" }],
    contexts: [{ name: "x", cluster: "c", user: "runner" }],
    currentContext: "x",
  });
});
afterEach(() => api.close());

const SECRET_PATH = `/api/v1/namespaces/rh/secrets/${CREDENTIAL_KEY_SECRET.name}`;
const stored = (key: Buffer) => ({
  status: 200,
  body: { data: { [CREDENTIAL_KEY_SECRET.key]: key.toString("base64") } },
});

describe("loadOrCreateCredentialKey", () => {
  it("reads the key when the Secret exists", async () => {
    const key = Buffer.alloc(32, 1);
    api.respondWith(stored(key));
    expect(await loadOrCreateCredentialKey(config, "rh")).toEqual(key);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${SECRET_PATH}`]);
  });

  it("creates it with random bytes when there is none", async () => {
    api.respondWith((req) => (req.method === "GET" ? { status: 404, body: {} } : { status: 201, body: {} }));
    const key = await loadOrCreateCredentialKey(config, "rh");
    expect(key).toHaveLength(CREDENTIAL_KEY_BYTES);
    const created = api.requests[1]!.json as { metadata: { name: string }; data: Record<string, string> };
    expect(created.metadata.name).toBe(CREDENTIAL_KEY_SECRET.name);
    expect(Buffer.from(created.data[CREDENTIAL_KEY_SECRET.key]!, "base64")).toEqual(key);
  });

  it("reads the winner's key when another replica created it first (409)", async () => {
    const winner = Buffer.alloc(32, 9);
    let gets = 0;
    api.respondWith((req) => {
      if (req.method === "POST") return { status: 409, body: { reason: "AlreadyExists" } };
      return gets++ === 0 ? { status: 404, body: {} } : stored(winner);
    });
    expect(await loadOrCreateCredentialKey(config, "rh")).toEqual(winner);
  });

  it("refuses a key too short, without showing it", async () => {
    api.respondWith(stored(Buffer.from("short")));
    await expect(loadOrCreateCredentialKey(config, "rh")).rejects.toThrow(/at least 16 bytes/);
  });
});

describe("a HookSet's steps act as its ServiceAccount", () => {
  it("send Impersonate-User with every request, in the HookSet's namespace by default", async () => {
    api.respondWith({ status: 200, body: { kind: "ConfigMap", metadata: { name: "x" } } });
    const as = await impersonating(config, "team-a", "hooks");
    await new RestClient(as).request("GET", "/api/v1/namespaces/team-a/configmaps/x");
    const request = api.requests.at(-1)!;
    expect(request.headers["impersonate-user"]).toBe(serviceAccountUser("team-a", "hooks"));
    expect(request.headers["impersonate-user"]).toBe("system:serviceaccount:team-a:hooks");
    expect(request.headers.authorization).toBe("Bearer runner-token");
    expect(as.getContextObject(as.getCurrentContext())?.namespace).toBe("team-a");
    // The runner's own config is untouched.
    expect(config.getCurrentUser()?.impersonateUser).toBeUndefined();
  });

  it("read secretKeyRefs from the HookSet's namespace; Forbidden and env sources are step failures", async () => {
    const read = apiSecretReader(await impersonating(config, "team-a", "hooks"), "team-a", "hooks");
    api.respondWith({ status: 200, body: { data: { token: Buffer.from("s3cret").toString("base64") } } });
    expect(await read({ secretKeyRef: { name: "api", key: "token" } })).toBe("s3cret");
    expect(api.requests.at(-1)!.path).toBe("/api/v1/namespaces/team-a/secrets/api");
    api.respondWith({ status: 403, body: { reason: "Forbidden", message: 'secrets "api" is forbidden' } });
    const forbidden = await read({ secretKeyRef: { name: "api", key: "token" } }).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(StepFailure);
    expect((forbidden as Error).message).toMatch(
      /^Forbidden: serviceaccount team-a\/hooks cannot get secret team-a\/api/,
    );
    await expect(read({ env: "HOME" })).rejects.toThrow(/not from the runner's environment/);
  });
});
