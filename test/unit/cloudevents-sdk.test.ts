// What a CloudEvents client makes is what the runner takes: events built by the CloudEvents SDK
// (the `cloudevents` package) in binary and structured mode are accepted, and SDK-made events
// the runner must refuse (another specversion, no source, an unparsable time) get 400 with the
// reason. resource-hooks/testing builds its requests with the same SDK.
import { request as httpRequest } from "node:http";
import { CloudEvent, HTTP } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourceEventRequest, sendEvent, watchPathOf, type HookRequest } from "../../src/testing/index.js";
import { deployment } from "../helpers/objects.js";
import { startRunner, TOKEN, type Harness } from "../helpers/runner.js";
import { hookSetFrom } from "../helpers/spec.js";

const hookSet = hookSetFrom([
  {
    name: "image",
    on: {
      resource: { group: "apps", version: "v1", resource: "deployments", namespace: "web", name: "frontend" },
      changed: ["spec.template.spec.containers[0].image"],
    },
    steps: [{ name: "say", log: { message: "{{ object.metadata.name }}" } }],
  },
]);

let rv = 500;
function data() {
  rv += 2;
  return {
    type: "UPDATE",
    body: deployment({ image: `registry.example/frontend:${rv}`, resourceVersion: String(rv) }),
    oldBody: deployment({ image: `registry.example/frontend:${rv - 1}`, resourceVersion: String(rv - 1) }),
    group: "apps",
    version: "v1",
    resource: "deployments",
  };
}

/** The SDK's HTTP message of an event, with the runner's token. */
function request(event: CloudEvent<unknown>, mode: "binary" | "structured"): HookRequest {
  const message = mode === "binary" ? HTTP.binary(event) : HTTP.structured(event);
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  for (const [k, v] of Object.entries(message.headers)) headers[k.toLowerCase()] = String(v);
  return { headers, body: String(message.body), data: data() as never };
}

const attributes = () => ({ id: `sdk-${rv}`, source: "web", type: "resource", subject: "deployments-web" });

describe("CloudEvents made by the SDK", () => {
  let h: Harness;
  let path: string;
  beforeAll(async () => {
    h = await startRunner(hookSet);
    path = watchPathOf(hookSet, "image");
  });
  afterAll(() => h.runner.stop(100));

  for (const mode of ["binary", "structured"] as const) {
    it(`are accepted in ${mode} mode, and the hook fires`, async () => {
      const event = new CloudEvent({ ...attributes(), time: new Date().toISOString(), data: data() });
      const r = await sendEvent(h.runner.url, path, request(event, mode));
      expect(r.status).toBe(202);
      expect((r.body as { runs: Array<{ hook: string }> }).runs.map((x) => x.hook)).toEqual(["image"]);
    });

    it(`resource-hooks/testing makes them with the SDK in ${mode} mode`, async () => {
      const d = data();
      const built = resourceEventRequest(
        { object: d.body, oldObject: d.oldBody, group: "apps", version: "v1", resource: "deployments", mode },
        TOKEN,
      );
      if (mode === "structured") {
        expect(built.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
        expect(JSON.parse(built.body)).toMatchObject({
          specversion: "1.0",
          type: "resource",
          data: { type: "UPDATE" },
        });
      } else {
        expect(built.headers).toMatchObject({ "ce-specversion": "1.0", "ce-type": "resource" });
      }
      expect((await sendEvent(h.runner.url, path, built)).status).toBe(202);
    });
  }

  it("refuses another specversion and a missing source with 400 and the reason", async () => {
    const base = { ...attributes(), time: new Date().toISOString(), data: data() };
    // The SDK makes 0.3 events, and, unchecked, events without a source: the runner takes neither.
    const v03 = new CloudEvent({ ...base, specversion: "0.3" });
    const noSource = new CloudEvent({ ...base, source: "" }, false);
    for (const mode of ["binary", "structured"] as const) {
      for (const [event, reason] of [
        [v03, /specversion must be \\"1\.0\\", got \\"0\.3\\"/],
        [noSource, /source/],
      ] as const) {
        const r = await sendEvent(h.runner.url, path, request(event, mode));
        expect(r.status, `${mode} ${String(reason)}`).toBe(400);
        expect(JSON.stringify(r.body)).toMatch(reason);
      }
    }
  });

  it("refuses a ce-* header given twice instead of joining the values into one attribute", async () => {
    const valid = request(new CloudEvent({ ...attributes(), time: new Date().toISOString(), data: data() }), "binary");
    const url = new URL(`${h.runner.url}${path}`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: "POST" }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += String(c)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      for (const [name, value] of Object.entries(valid.headers)) req.setHeader(name, value);
      req.setHeader("ce-id", ["big1", "big2"]);
      req.end(valid.body);
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain("header ce-id is given 2 times");
  });

  it("an unparsable time: the SDK will not send one, and the runner refuses one sent by hand", async () => {
    const event = new CloudEvent({ ...attributes(), time: "yesterday", data: data() }, false);
    expect(() => HTTP.binary(event)).toThrow(/time/i);
    expect(() => HTTP.structured(event)).toThrow(/time/i);
    const valid = request(new CloudEvent({ ...attributes(), time: new Date().toISOString(), data: data() }), "binary");
    const r = await sendEvent(h.runner.url, path, { ...valid, headers: { ...valid.headers, "ce-time": "yesterday" } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/time/);
  });
});
