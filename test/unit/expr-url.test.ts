// URL templates (issue 9, finding 10): a value from a watched object cannot change the host, path,
// query or fragment of the URL it lands in; {{+ expr }} inserts a value as it is, on purpose.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExpressionError } from "../../src/expr/cel.js";
import {
  encodeReserved,
  encodeUriComponentStrict,
  parseTemplate,
  renderUrl,
  urlComponentAt,
  urlTemplateProblems,
} from "../../src/expr/template.js";
import { githubWorkflowStep } from "../../src/steps/githubWorkflow/index.js";
import { httpStep, type HttpConfig } from "../../src/steps/http/index.js";
import { executeScrubbed, failureOf, makeContext } from "./steps/helpers.js";
import { startRecordingServer, type RecordingServer } from "../helpers/recording-server.js";

const hostile = (name: string, labels: Record<string, string> = {}) => ({
  object: { metadata: { name, namespace: "prod", labels } },
});

describe("renderUrl", () => {
  it("percent-encodes every reserved character of a value (RFC 6570 {var})", () => {
    expect(renderUrl("https://api.example.com/objects/{{ object.metadata.name }}", hostile("../../x"))).toBe(
      "https://api.example.com/objects/..%2F..%2Fx",
    );
    expect(
      renderUrl(
        "https://api.example.com/o?team={{ object.metadata.labels.team }}",
        hostile("w", { team: "?admin=1&x=" }),
      ),
    ).toBe("https://api.example.com/o?team=%3Fadmin%3D1%26x%3D");
    expect(renderUrl("https://api.example.com/o/{{ object.metadata.labels.t }}/x", hostile("w", { t: "#frag" }))).toBe(
      "https://api.example.com/o/%23frag/x",
    );
    expect(renderUrl("http://127.0.0.1:8080{{ object.metadata.name }}", hostile("@evil.example/"))).toBe(
      "http://127.0.0.1:8080%40evil.example%2F",
    );
    expect(renderUrl("https://x.example/{{ object.metadata.name }}", hostile("a b!'()*é"))).toBe(
      "https://x.example/a%20b%21%27%28%29%2A%C3%A9",
    );
    expect(renderUrl("https://x.example/{{ object.metadata.name }}", hostile("\ud800lone"))).toBe(
      "https://x.example/%EF%BF%BDlone",
    );
    // ":" stays in a path segment (an image tag), not in the authority or the query.
    expect(
      renderUrl("https://x.example/img/{{ object.metadata.name }}?tag={{ object.metadata.name }}", hostile("app:1.2")),
    ).toBe("https://x.example/img/app:1.2?tag=app%3A1.2");
    expect(renderUrl("https://x.example{{ object.metadata.name }}/", hostile(":81"))).toBe("https://x.example%3A81/");
  });

  it("refuses a value that makes a whole path segment . or ..", () => {
    for (const name of ["..", "."]) {
      expect(() => renderUrl("https://x.example/api/{{ object.metadata.name }}/delete", hostile(name))).toThrow(
        ExpressionError,
      );
    }
    // An encoded dot in the value is data: its % is encoded in turn.
    expect(renderUrl("https://x.example/api/{{ object.metadata.name }}/delete", hostile(".%2e"))).toBe(
      "https://x.example/api/.%252e/delete",
    );
    expect(() =>
      renderUrl(
        "https://x.example/api/{{ object.metadata.labels.a }}{{ object.metadata.labels.b }}/x",
        hostile("w", { a: ".", b: "." }),
      ),
    ).toThrow(/step up/);
    // Dots inside a longer segment, or in the query, are ordinary characters.
    expect(
      renderUrl("https://x.example/api/{{ object.metadata.name }}.json?v={{ object.metadata.name }}", hostile("..")),
    ).toBe("https://x.example/api/...json?v=..");
  });

  it("inserts {{+ expr }} as it is, encoding only what a URL cannot hold (RFC 6570 {+var})", () => {
    const scope = {
      steps: { lookup: { output: { base: "https://hooks.example.com/v1/", path: "a/b?c=d#e", odd: "x y%41%zz" } } },
    };
    expect(renderUrl("{{+ steps.lookup.output.base }}deploy/{{ steps.lookup.output.path }}", scope)).toBe(
      "https://hooks.example.com/v1/deploy/a%2Fb%3Fc%3Dd%23e",
    );
    expect(renderUrl("https://x.example/{{+ steps.lookup.output.path }}", scope)).toBe("https://x.example/a/b?c=d#e");
    expect(renderUrl("https://x.example/{{+ steps.lookup.output.odd }}", scope)).toBe(
      "https://x.example/x%20y%41%25zz",
    );
    expect(parseTemplate("{{+ a }}x").parts[0]).toMatchObject({ raw: true });
    expect(encodeReserved("ü/?")).toBe("%C3%BC/?");
    expect(encodeUriComponentStrict("~-._")).toBe("~-._");
  });

  it("knows which component a placeholder lands in", () => {
    expect(urlComponentAt("")).toBe("start");
    expect(urlComponentAt("https://host")).toBe("authority");
    expect(urlComponentAt("https://host:80/a")).toBe("path");
    expect(urlComponentAt("https://host/a?b=")).toBe("query");
    expect(urlComponentAt("https://host/a?b=c#")).toBe("fragment");
    expect(urlComponentAt("www.example.com/")).toBe("path");
    expect(urlComponentAt("mailto:")).toBe("path");
  });

  it("tells the author to write {{+ }} for a URL that begins with a placeholder", () => {
    expect(urlTemplateProblems("{{ steps.a.output.url }}/x")[0]).toMatch(/\{\{\+ steps\.a\.output\.url \}\}/);
    expect(urlTemplateProblems("{{+ steps.a.output.url }}/x")).toEqual([]);
    expect(urlTemplateProblems("https://x/{{ a }}")).toEqual([]);
    expect(httpStep.check!({ url: "{{ steps.a.output.url }}" })).toEqual([
      { path: ["url"], message: expect.stringMatching(/\{\{\+/) },
    ]);
  });
});

describe("URLs built from templates, against a real server recording the path", () => {
  let peer: RecordingServer;
  beforeAll(async () => {
    peer = await startRecordingServer({ responder: () => ({ status: 200, body: {} }) });
  });
  afterAll(() => peer.close());

  const http = (url: string): HttpConfig => ({ method: "GET", url });

  it.each([
    ["../../x", "/hooks/..%2F..%2Fx/run"],
    ["?admin=1&x=", "/hooks/%3Fadmin%3D1%26x%3D/run"],
    ["#frag", "/hooks/%23frag/run"],
  ])("an object named %j stays inside its path segment", async (name, path) => {
    const { ctx } = makeContext({ scope: hostile(name) });
    await executeScrubbed(httpStep, http(`${peer.url}/hooks/{{ object.metadata.name }}/run`), ctx);
    expect(peer.requests.at(-1)!.path).toBe(path);
  });

  it("a label lands in its query value, and cannot add parameters or a fragment", async () => {
    const { ctx } = makeContext({ scope: hostile("web", { team: "a&admin=1#x" }) });
    await executeScrubbed(httpStep, http(`${peer.url}/q?team={{ object.metadata.labels.team }}&fixed=1`), ctx);
    const url = new URL(peer.requests.at(-1)!.path, peer.url);
    expect(url.searchParams.get("team")).toBe("a&admin=1#x");
    expect(url.searchParams.get("admin")).toBeNull();
    expect(url.searchParams.get("fixed")).toBe("1");
  });

  it("@other-host right after host:port does not retarget the request", async () => {
    const { ctx } = makeContext({ scope: hostile("@127.0.0.2:1/") });
    const failure = await failureOf(httpStep, http(`${peer.url}{{ object.metadata.name }}`), ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/not a valid URL/);
  });

  it("a .. object name fails the step instead of going up a level", async () => {
    const before = peer.requests.length;
    const { ctx } = makeContext({ scope: hostile("..") });
    const failure = await failureOf(httpStep, http(`${peer.url}/api/{{ object.metadata.name }}/delete`), ctx);
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(/^url: .*path segment "\.\."/);
    expect(peer.requests.length).toBe(before);
  });

  it("githubWorkflow refuses owner/repo/workflow values that leave their segment", async () => {
    const { ctx } = makeContext({
      scope: hostile(".."),
      secrets: { "gh/token": "ghp_0123456789" },
      endpoints: { github: peer.url },
    });
    const failure = await failureOf(
      githubWorkflowStep,
      {
        owner: "acme",
        repo: "{{ object.metadata.name }}",
        workflow: "deploy.yml",
        ref: "main",
        token: { secretKeyRef: { name: "gh", key: "token" } },
      },
      ctx,
    );
    expect(failure.message).toBe('repo: ".." cannot be a URL path segment');
    const { ctx: slash } = makeContext({
      scope: hostile("a/b"),
      secrets: { "gh/token": "ghp_0123456789" },
      endpoints: { github: peer.url },
    });
    peer.respondWith(() => ({ status: 204 }));
    await executeScrubbed(
      githubWorkflowStep,
      {
        owner: "acme",
        repo: "{{ object.metadata.name }}",
        workflow: "deploy.yml",
        ref: "main",
        token: { secretKeyRef: { name: "gh", key: "token" } },
      },
      slash,
    );
    expect(peer.requests.at(-1)!.path).toBe("/repos/acme/a%2Fb/actions/workflows/deploy.yml/dispatches");
  });
});
