// The installation's credential key: read when its Secret exists, made once when it does not, and
// when two replicas make it at the same moment, the one the API server refused (409) takes the
// winner's key, so every replica signs and verifies with the same one.
import { describe, expect, it } from "vitest";
import { KubeApiError } from "../../src/k8s/types.js";
import { credentialKeyThrough } from "../../src/tenancy/key.js";

type Secret = { metadata: { name: string }; data: Record<string, string> };

function secretsServer(initial?: Secret, raceWinner?: Secret) {
  let stored = initial;
  const calls: string[] = [];
  return {
    calls,
    rest: {
      async request<T>(method: string, path: string, options: { body?: unknown } = {}): Promise<T> {
        calls.push(`${method} ${path}`);
        if (method === "GET") {
          if (!stored) throw new KubeApiError("not found", 404, "NotFound");
          return stored as T;
        }
        if (raceWinner) {
          // Another replica created it between our GET and our POST.
          stored = raceWinner;
          throw new KubeApiError("already exists", 409, "AlreadyExists");
        }
        stored = options.body as Secret;
        return stored as T;
      },
    },
  };
}

const secret = (bytes: number, fill: number): Secret => ({
  metadata: { name: "resource-hooks-credential-key" },
  data: { key: Buffer.alloc(bytes, fill).toString("base64") },
});

describe("the credential key", () => {
  it("is read from its Secret when it exists", async () => {
    const server = secretsServer(secret(32, 1));
    expect(Buffer.from(await credentialKeyThrough(server.rest, "rh"))).toEqual(Buffer.alloc(32, 1));
    expect(server.calls).toEqual(["GET /api/v1/namespaces/rh/secrets/resource-hooks-credential-key"]);
  });

  it("is made of 32 random bytes when there is none", async () => {
    const server = secretsServer();
    const key = await credentialKeyThrough(server.rest, "rh");
    expect(key).toHaveLength(32);
    expect(server.calls).toEqual([
      "GET /api/v1/namespaces/rh/secrets/resource-hooks-credential-key",
      "POST /api/v1/namespaces/rh/secrets",
    ]);
    expect(Buffer.from(await credentialKeyThrough(server.rest, "rh"))).toEqual(Buffer.from(key));
  });

  it("is the other replica's when its create won (409)", async () => {
    const server = secretsServer(undefined, secret(32, 9));
    expect(Buffer.from(await credentialKeyThrough(server.rest, "rh"))).toEqual(Buffer.alloc(32, 9));
  });

  it("is refused, saying what to do, when the Secret holds too few bytes", async () => {
    const server = secretsServer(secret(8, 1));
    await expect(credentialKeyThrough(server.rest, "rh")).rejects.toThrow(
      'Secret rh/resource-hooks-credential-key has no usable "key" (expected at least 16 bytes; ' +
        "delete the Secret to have a new key made)",
    );
  });
});
