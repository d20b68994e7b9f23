// Step types declare the external services they call; the runner derives its defaults and one
// generic override (--endpoint <name>=<url>) from the registry (issue 10 §5).
import { describe, expect, it } from "vitest";
import {
  createRuntime,
  DEFAULT_AWS_REGION,
  DEFAULT_ENDPOINTS,
  endpointDeclarations,
  resolveEndpoints,
} from "../../src/runner/runtime.js";
import { stepTypes } from "../../src/steps/registry.js";

describe("endpoints", () => {
  it("are declared by the step types, one name each", () => {
    const declared = endpointDeclarations();
    expect([...declared.keys()].sort()).toEqual(["cloudflare", "cloudfront", "fastly", "github"]);
    expect(declared.get("github")).toMatchObject({ stepType: "githubWorkflow", default: "https://api.github.com" });
    expect(declared.get("cloudfront")?.default).toBeUndefined();
    for (const type of stepTypes)
      for (const d of Object.values(type.endpoints ?? {})) expect(d.description).not.toBe("");
  });

  it("resolve to the defaults, with overrides by name", () => {
    expect(DEFAULT_ENDPOINTS).toEqual({
      github: "https://api.github.com",
      cloudflare: "https://api.cloudflare.com",
      fastly: "https://api.fastly.com",
    });
    expect(resolveEndpoints({ github: "https://ghe.example/api/v3", cloudfront: "http://127.0.0.1:4566" })).toEqual({
      github: "https://ghe.example/api/v3",
      cloudflare: "https://api.cloudflare.com",
      fastly: "https://api.fastly.com",
      cloudfront: "http://127.0.0.1:4566",
    });
  });

  it("refuse unknown names and URLs that are not http(s)", () => {
    expect(() => resolveEndpoints({ gitlab: "https://x" })).toThrow(
      'unknown endpoint "gitlab" (known: github, cloudflare, fastly, cloudfront)',
    );
    expect(() => resolveEndpoints({ github: "not a url" })).toThrow(/not a URL/);
    expect(() => resolveEndpoints({ github: "file:///etc/passwd" })).toThrow(/not an http\(s\) URL/);
  });

  it("reach the runtime; the AWS region stays separate (and the old awsRegion endpoint key still works)", () => {
    const runtime = createRuntime({ secretsDir: "/nonexistent", endpoints: { fastly: "http://127.0.0.1:1" } });
    expect(runtime.endpoints.fastly).toBe("http://127.0.0.1:1");
    expect(runtime.awsRegion).toBe(DEFAULT_AWS_REGION);
    expect(createRuntime({ secretsDir: "/x", awsRegion: "eu-west-1" }).awsRegion).toBe("eu-west-1");
    expect(createRuntime({ secretsDir: "/x", endpoints: { awsRegion: "eu-central-1" } }).awsRegion).toBe(
      "eu-central-1",
    );
  });
});
