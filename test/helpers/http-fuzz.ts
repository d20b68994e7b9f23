// Hostile requests for the runner's trigger endpoint, as a fast-check property: CloudEvents in
// both modes with wrong types everywhere, missing and odd attributes, deep nesting, unicode,
// __proto__/constructor keys, odd content types, and bodies that are not JSON at all. The
// property: every answer is one of the documented statuses with a JSON reason, and the runner
// keeps answering. Used by test/unit/runner-fuzz.test.ts (seeded, a few thousand cases) and
// scripts/fuzz.ts (≥100,000).
import fc from "fast-check";
import { resourceEventRequest } from "../../src/testing/index.js";
import { deployment } from "./objects.js";

/** What the trigger endpoint may answer; 500 is never among them. */
export const DOCUMENTED_STATUSES = new Set([200, 202, 400, 401, 404, 413, 415, 429, 503]);

const hostileKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "$typeName",
  "toString",
  "",
  "a.b",
  "ключ",
  "\u0000",
  "metadata",
  "name",
  "uid",
);
const scalar = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("list"), tie("map")),
  list: fc.array(tie("value"), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), tie("value"), { maxKeys: 4 }),
})).value;

/** Nested lists `depth` deep around a value. */
function nest(depth: number, inner: string): string {
  return "[".repeat(depth) + inner + "]".repeat(depth);
}

/** Replaces the value at a random path of `base` (objects and lists) with `value`. */
function mutate(base: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || base === null || typeof base !== "object") return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(base)
    ? [...base]
    : { ...(base as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return value;
  const key = keys[path[0]! % keys.length]!;
  (copy as Record<string, unknown>)[key] = mutate((copy as Record<string, unknown>)[key], path.slice(1), value);
  return copy;
}

export interface FuzzRequest {
  headers: Record<string, string>;
  body: string;
}

export function fuzzRequests(token: string): fc.Arbitrary<FuzzRequest> {
  const valid = resourceEventRequest(
    {
      object: deployment({ image: "x:2", generation: 4 }),
      oldObject: deployment(),
      group: "apps",
      version: "v1",
      resource: "deployments",
    },
    token,
  );
  const data = fc
    .tuple(fc.array(fc.nat(20), { maxLength: 6 }), hostileValue, fc.boolean())
    .map(([path, value, keepValid]) => (keepValid ? valid.data : mutate(valid.data, path, value)));
  const contentType = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
    "application/x-www-form-urlencoded",
    "application/merge-patch+json",
  );
  const attribute = fc.oneof(
    fc.string({ minLength: 1, maxLength: 30 }),
    fc.constant(""),
    fc.string({ unit: "binary", maxLength: 10 }),
  );
  const binary = fc
    .record({
      contentType,
      id: fc.option(attribute, { nil: undefined }),
      source: fc.option(attribute, { nil: undefined }),
      type: fc.option(attribute, { nil: undefined }),
      specversion: fc.option(fc.constantFrom("1.0", "0.3", "2", ""), { nil: undefined }),
      time: fc.option(
        fc.constantFrom("2026-11-25T10:00:00Z", "2026-11-25T10:00:00.123456789+01:00", "yesterday", "", "9".repeat(40)),
        { nil: undefined },
      ),
      encoding: fc.option(fc.constantFrom("identity", "gzip", "br, gzip", "x"), { nil: undefined }),
      data,
      raw: fc.option(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.nat(400).map((d) => nest(d, "1")),
        ),
        { nil: undefined },
      ),
      auth: fc.constantFrom(
        `Bearer ${token}`,
        `bearer ${token}`,
        "Bearer wrong-token-0123456789",
        "",
        `Basic ${token}`,
      ),
    })
    .map(({ contentType: ct, id, source, type, specversion, time, encoding, data: d, raw, auth }): FuzzRequest => {
      const headers: Record<string, string> = { "content-type": ct };
      // Header values must be Latin-1 for fetch; unicode goes in percent-encoded, as a client would have to.
      const h = (v: string) => (/^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v));
      if (id !== undefined) headers["ce-id"] = h(id);
      if (source !== undefined) headers["ce-source"] = h(source);
      if (type !== undefined) headers["ce-type"] = h(type);
      if (specversion !== undefined) headers["ce-specversion"] = specversion;
      if (time !== undefined) headers["ce-time"] = time;
      if (encoding !== undefined) headers["content-encoding"] = encoding;
      if (auth) headers.authorization = auth;
      return { headers, body: raw ?? JSON.stringify(d) ?? "null" };
    });
  const structured = fc
    .record({
      id: fc.oneof(attribute, hostileValue),
      source: fc.oneof(attribute, hostileValue),
      type: fc.oneof(attribute, hostileValue),
      specversion: fc.oneof(fc.constant("1.0"), hostileValue),
      extra: fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), hostileValue, { maxKeys: 3 }),
      data: fc.oneof(
        data,
        data.map((d) => JSON.stringify(d) ?? "null"),
        hostileValue,
      ),
      deepId: fc.nat(300),
    })
    .map(({ id, source, type, specversion, extra, data: d, deepId }): FuzzRequest => {
      const envelope = JSON.stringify({ ...extra, specversion, id, source, type, data: d });
      const body = deepId > 250 ? envelope.replace(/^\{/, `{"deep":${nest(deepId * 10, "0")},`) : envelope;
      return { headers: { "content-type": "application/cloudevents+json", authorization: `Bearer ${token}` }, body };
    });
  return fc.oneof(binary, structured);
}

/** One request; resolves to the status, or throws when the answer is undocumented or not JSON. */
export async function sendFuzzRequest(url: string, request: FuzzRequest): Promise<number> {
  const response = await fetch(url, { method: "POST", headers: request.headers, body: request.body });
  const text = await response.text();
  if (!DOCUMENTED_STATUSES.has(response.status))
    throw new Error(`undocumented status ${response.status}: ${text.slice(0, 300)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`status ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (response.status >= 400 && typeof (parsed as { error?: unknown }).error !== "string")
    throw new Error(`status ${response.status} without an error reason: ${text.slice(0, 200)}`);
  return response.status;
}
