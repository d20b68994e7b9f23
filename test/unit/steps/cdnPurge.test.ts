// cdnPurge against a real HTTP server on 127.0.0.1 standing in for the Cloudflare and Fastly APIs
// and for CloudFront. The real AWS endpoint cannot be reached from here, so the CloudFront fake
// speaks CloudFront's REST-XML API (POST /2020-05-31/distribution/{id}/invalidation, 201 with an
// <Invalidation> document) to the real @aws-sdk/client-cloudfront, and the test re-computes the
// request's SigV4 signature from the received request to prove it is well-formed.
import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cdnPurgeStep, type CdnPurgeConfig } from "../../../src/steps/cdnPurge/index.js";
import { classifyAwsError } from "../../../src/steps/cdnPurge/cloudfront.js";
import { failureOf, makeContext } from "./helpers.js";
import { startRecordingServer, type RecordingServer, type RecordedRequest } from "../../helpers/recording-server.js";

const CF_TOKEN = "cf-token-secret-value-123";
const FASTLY_TOKEN = "fastly-token-secret-456";
const AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const scope = { object: { metadata: { name: "web", namespace: "prod", labels: { site: "shop" } } } };
const secrets = {
  "cdn/cloudflare": CF_TOKEN,
  "cdn/fastly": FASTLY_TOKEN,
  "aws/id": AWS_KEY_ID,
  "aws/secret": AWS_SECRET,
};

let peer: RecordingServer;
beforeAll(async () => {
  peer = await startRecordingServer();
});
afterAll(async () => {
  await peer.close();
});

const context = (signal?: AbortSignal) =>
  makeContext({
    scope,
    secrets,
    ...(signal ? { signal } : {}),
    endpoints: {
      cloudflare: `${peer.url}/cf`,
      fastly: `${peer.url}/fastly`,
      cloudfront: `${peer.url}`,
      awsRegion: "us-east-1",
    },
  });

describe("cdnPurge: cloudflare", () => {
  const token = { secretKeyRef: { name: "cdn", key: "cloudflare" } };

  it("purges files with a Bearer token and returns the purge id", async () => {
    peer.respondWith(() => ({
      status: 200,
      body: { success: true, errors: [], messages: [], result: { id: "purge-1" } },
    }));
    const { ctx, logs } = context();
    const outcome = await cdnPurgeStep.execute(
      {
        provider: "cloudflare",
        zoneId: "zone123",
        files: ["https://shop.example.com/{{ object.metadata.name }}", "https://shop.example.com/"],
        token,
      },
      ctx,
    );
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/cf/client/v4/zones/zone123/purge_cache");
    expect(req.headers.authorization).toBe(`Bearer ${CF_TOKEN}`);
    expect(req.headers["idempotency-key"]).toBe(ctx.idempotencyKey);
    expect(req.json).toEqual({ files: ["https://shop.example.com/web", "https://shop.example.com/"] });
    expect(outcome.output).toEqual({ provider: "cloudflare", id: "purge-1" });
    expect(logs()).not.toContain(CF_TOKEN);
  });

  it("sends tags from a list template, and purge_everything", async () => {
    peer.respondWith(() => ({ status: 200, body: { success: true, result: { id: "purge-2" } } }));
    const { ctx } = context();
    await cdnPurgeStep.execute(
      { provider: "cloudflare", zoneId: "z", tags: "{{ [object.metadata.labels.site, 'all'] }}", token },
      ctx,
    );
    expect(peer.requests.at(-1)!.json).toEqual({ tags: ["shop", "all"] });
    await cdnPurgeStep.execute({ provider: "cloudflare", zoneId: "z", everything: true, token }, ctx);
    expect(peer.requests.at(-1)!.json).toEqual({ purge_everything: true });
  });

  it("reports Cloudflare's errors, retrying only 429/5xx", async () => {
    const { ctx } = context();
    peer.respondWith(() => ({
      status: 400,
      body: { success: false, errors: [{ code: 1012, message: "Request must contain one of ..." }] },
    }));
    const bad = await failureOf(
      cdnPurgeStep,
      { provider: "cloudflare", zoneId: "z", hosts: ["a.example.com"], token },
      ctx,
    );
    expect(bad.retryable).toBe(false);
    expect(bad.message).toContain("1012 Request must contain one of");
    peer.respondWith(() => ({
      status: 429,
      headers: { "retry-after": "2" },
      body: { success: false, errors: [{ code: 971, message: "throttled" }] },
    }));
    expect(
      await failureOf(cdnPurgeStep, { provider: "cloudflare", zoneId: "z", everything: true, token }, ctx),
    ).toMatchObject({
      retryable: true,
      retryAfterMs: 2000,
    });
    peer.respondWith(() => ({
      status: 200,
      body: { success: false, errors: [{ code: 10000, message: "Authentication error" }] },
    }));
    expect(
      (await failureOf(cdnPurgeStep, { provider: "cloudflare", zoneId: "z", everything: true, token }, ctx)).retryable,
    ).toBe(false);
  });

  it("checks for exactly one target", () => {
    const two = cdnPurgeStep.check!({ provider: "cloudflare", zoneId: "z", files: ["a"], tags: ["b"], token });
    expect(two).toEqual([
      { path: ["tags"], message: "give only one of files, prefixes, tags, hosts, everything, not files and tags" },
    ]);
    expect(cdnPurgeStep.check!({ provider: "cloudflare", zoneId: "z", token })[0]?.message).toContain("give one of");
    expect(cdnPurgeStep.check!({ provider: "cloudflare", zoneId: "z", prefixes: ["a.example.com/x"], token })).toEqual(
      [],
    );
  });
});

describe("cdnPurge: fastly", () => {
  const token = { env: "FASTLY_TOKEN" };
  const fastly = () =>
    makeContext({ scope, secrets: { "env:FASTLY_TOKEN": FASTLY_TOKEN }, endpoints: { fastly: `${peer.url}/fastly` } });

  it("purges one surrogate key (soft) and returns its id", async () => {
    peer.respondWith(() => ({ status: 200, body: { status: "ok", id: "108-1391560174-974124" } }));
    const { ctx } = fastly();
    const outcome = await cdnPurgeStep.execute(
      {
        provider: "fastly",
        serviceId: "SU1Z0isxPaozGVKXdv0eY",
        keys: ["site-{{ object.metadata.labels.site }}"],
        soft: true,
        token,
      },
      ctx,
    );
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/fastly/service/SU1Z0isxPaozGVKXdv0eY/purge/site-shop");
    expect(req.headers["fastly-key"]).toBe(FASTLY_TOKEN);
    expect(req.headers["fastly-soft-purge"]).toBe("1");
    expect(outcome.output).toEqual({ provider: "fastly", id: "108-1391560174-974124" });
  });

  it("batches several keys in the Surrogate-Key header", async () => {
    peer.respondWith((req) => ({
      status: 200,
      body: Object.fromEntries(
        String(req.headers["surrogate-key"])
          .split(" ")
          .map((k, i) => [k, `id-${i}`]),
      ),
    }));
    const { ctx } = fastly();
    const outcome = await cdnPurgeStep.execute(
      { provider: "fastly", serviceId: "svc", keys: ["a", "b", "c"], token },
      ctx,
    );
    const req = peer.requests.at(-1)!;
    expect(req.path).toBe("/fastly/service/svc/purge");
    expect(req.headers["surrogate-key"]).toBe("a b c");
    expect(req.headers["fastly-soft-purge"]).toBeUndefined();
    expect(outcome.output).toEqual({ provider: "fastly", ids: { a: "id-0", b: "id-1", c: "id-2" } });
  });

  it("purges everything and single URLs", async () => {
    peer.respondWith(() => ({ status: 200, body: { status: "ok" } }));
    const { ctx } = fastly();
    expect(
      (await cdnPurgeStep.execute({ provider: "fastly", serviceId: "svc", all: true, token }, ctx)).output,
    ).toEqual({ provider: "fastly" });
    expect(peer.requests.at(-1)!.path).toBe("/fastly/service/svc/purge_all");
    peer.respondWith(() => ({ status: 200, body: { status: "ok", id: "url-id" } }));
    const outcome = await cdnPurgeStep.execute(
      {
        provider: "fastly",
        serviceId: "svc",
        url: "https://www.example.com/{{ object.metadata.name }}/index.html",
        token,
      },
      ctx,
    );
    expect(peer.requests.at(-1)!.path).toBe("/fastly/purge/www.example.com/web/index.html");
    expect(outcome.output).toEqual({ provider: "fastly", id: "url-id" });
  });

  it("classifies Fastly's errors and keeps the token out of them", async () => {
    const { ctx } = fastly();
    peer.respondWith((req) => ({
      status: 401,
      body: { msg: "Provided credentials are missing or invalid", detail: String(req.headers["fastly-key"]) },
    }));
    const denied = await failureOf(cdnPurgeStep, { provider: "fastly", serviceId: "svc", all: true, token }, ctx);
    expect(denied.retryable).toBe(false);
    expect(denied.message).toContain("Provided credentials are missing or invalid");
    expect(denied.message).not.toContain(FASTLY_TOKEN);
    peer.respondWith(() => ({ status: 503, body: { msg: "unavailable" } }));
    expect(
      (await failureOf(cdnPurgeStep, { provider: "fastly", serviceId: "svc", all: true, token }, ctx)).retryable,
    ).toBe(true);
  });

  it("checks targets and soft purge_all", () => {
    expect(
      cdnPurgeStep.check!({ provider: "fastly", serviceId: "s", keys: ["a"], all: true, token })[0]?.message,
    ).toContain("give only one");
    expect(cdnPurgeStep.check!({ provider: "fastly", serviceId: "s", all: true, soft: true, token })[0]?.path).toEqual([
      "soft",
    ]);
    expect(cdnPurgeStep.secrets!({ provider: "fastly", serviceId: "s", all: true, token })).toEqual([]);
  });
});

describe("cdnPurge: cloudfront (fake CloudFront REST-XML endpoint, real AWS SDK)", () => {
  const config: CdnPurgeConfig = {
    provider: "cloudfront",
    distributionId: "EDFDVBD6EXAMPLE",
    paths: ["/index.html", "/{{ object.metadata.name }}/*"],
    accessKeyId: { secretKeyRef: { name: "aws", key: "id" } },
    secretAccessKey: { secretKeyRef: { name: "aws", key: "secret" } },
  };

  function invalidationXml(id: string, reference: string, paths: string[]): string {
    return `<?xml version="1.0" encoding="UTF-8"?>
<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Id>${id}</Id>
  <Status>InProgress</Status>
  <CreateTime>2026-01-01T00:00:00.000Z</CreateTime>
  <InvalidationBatch>
    <Paths><Quantity>${paths.length}</Quantity><Items>${paths.map((p) => `<Path>${p}</Path>`).join("")}</Items></Paths>
    <CallerReference>${reference}</CallerReference>
  </InvalidationBatch>
</Invalidation>`;
  }

  function errorXml(code: string, message: string): string {
    return `<?xml version="1.0"?>
<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>4b3e8f1c-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>`;
  }

  /** Re-computes AWS Signature Version 4 for a received request (service cloudfront): [sent, computed]. */
  function sigV4(req: RecordedRequest, secret: string): [string, string] {
    const auth = String(req.headers.authorization);
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/cloudfront\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    expect(match, auth).not.toBeNull();
    const [, keyId, date, region, signedHeaders, signature] = match!;
    expect(keyId).toBe(AWS_KEY_ID);
    const amzDate = String(req.headers["x-amz-date"]);
    expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
    expect(amzDate.slice(0, 8)).toBe(date);
    const names = signedHeaders!.split(";");
    expect(names).toEqual(expect.arrayContaining(["host", "x-amz-date"]));
    const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");
    const hmac = (key: Buffer | string, text: string): Buffer =>
      createHmac("sha256", key).update(text, "utf8").digest();
    const [path, query = ""] = req.path.split("?");
    const canonicalQuery = query.split("&").filter(Boolean).sort().join("&");
    const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n]).trim().replace(/\s+/g, " ")}\n`).join("");
    const payloadHash = (req.headers["x-amz-content-sha256"] as string | undefined) ?? sha256(req.bodyText);
    const canonicalRequest = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join(
      "\n",
    );
    const scopeText = `${date}/${region}/cloudfront/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scopeText, sha256(canonicalRequest)].join("\n");
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), "cloudfront"), "aws4_request");
    return [signature!, createHmac("sha256", key).update(stringToSign, "utf8").digest("hex")];
  }

  it("creates an invalidation with CallerReference = idempotency key, signed with SigV4", async () => {
    peer.respondWith((req) => {
      const reference = /<CallerReference>([^<]*)<\/CallerReference>/.exec(req.bodyText)?.[1] ?? "";
      const paths = [...req.bodyText.matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => m[1]!);
      return {
        status: 201,
        headers: {
          "content-type": "text/xml",
          location: `${peer.url}/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation/I2J0I21PCUYOIK`,
        },
        body: invalidationXml("I2J0I21PCUYOIK", reference, paths),
      };
    });
    const { ctx, logs } = context();
    const outcome = await cdnPurgeStep.execute(config, ctx);
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation");
    expect(req.bodyText).toContain(`<CallerReference>${ctx.idempotencyKey}</CallerReference>`);
    expect(req.bodyText).toContain("<Quantity>2</Quantity>");
    expect(req.bodyText).toContain("<Path>/index.html</Path><Path>/web/*</Path>");
    const [sent, computed] = sigV4(req, AWS_SECRET);
    expect(computed).toBe(sent);
    expect(sigV4(req, "not-the-secret")[1]).not.toBe(sent);
    expect(outcome.output).toEqual({ provider: "cloudfront", id: "I2J0I21PCUYOIK", status: "InProgress" });
    expect(JSON.stringify(outcome.output) + logs()).not.toContain(AWS_SECRET);
  });

  it("maps CloudFront errors: NoSuchDistribution is final, TooManyInvalidationsInProgress and 5xx are retried", async () => {
    const { ctx } = context();
    peer.respondWith(() => ({
      status: 404,
      headers: { "content-type": "text/xml" },
      body: errorXml("NoSuchDistribution", "The specified distribution does not exist."),
    }));
    const missing = await failureOf(cdnPurgeStep, config, ctx);
    expect(missing.retryable).toBe(false);
    expect(missing.message).toContain("NoSuchDistribution");
    peer.respondWith(() => ({
      status: 400,
      headers: { "content-type": "text/xml" },
      body: errorXml("TooManyInvalidationsInProgress", "Too many"),
    }));
    expect((await failureOf(cdnPurgeStep, config, ctx)).retryable).toBe(true);
    peer.respondWith(() => ({
      status: 503,
      headers: { "content-type": "text/xml" },
      body: errorXml("ServiceUnavailable", "later"),
    }));
    expect((await failureOf(cdnPurgeStep, config, ctx)).retryable).toBe(true);
    expect(classifyAwsError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).retryable).toBe(
      true,
    );
    expect(
      classifyAwsError({ name: "AccessDenied", $fault: "client", $metadata: { httpStatusCode: 403 } }).retryable,
    ).toBe(false);
  });

  it("stops when ctx.signal aborts", async () => {
    peer.respondWith(() => undefined);
    const controller = new AbortController();
    const { ctx } = context(controller.signal);
    setTimeout(() => controller.abort(new Error("shutdown")), 100);
    const failure = await failureOf(cdnPurgeStep, config, ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toContain("aborted");
  });

  it("lists its secrets and checks paths", () => {
    expect(
      cdnPurgeStep.secrets!({
        ...config,
        sessionToken: { secretKeyRef: { name: "aws", key: "session" } },
      } as CdnPurgeConfig),
    ).toEqual([
      { name: "aws", key: "id" },
      { name: "aws", key: "secret" },
      { name: "aws", key: "session" },
    ]);
    expect(cdnPurgeStep.check!({ ...config, paths: ["index.html"] } as CdnPurgeConfig)[0]?.path).toEqual(["paths", 0]);
  });
});
