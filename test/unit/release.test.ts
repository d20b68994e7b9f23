// The release workflow publishes the image that generated manifests name: a tag vX.Y.Z equal to
// package.json's version builds ghcr.io/<owner>/resource-hooks:X.Y.Z, and spec.runner.image
// defaults to ghcr.io/resource-hooks/resource-hooks:<package version>.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_RUNNER_IMAGE } from "../../src/model/constants.js";

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), "utf8");
const pkg = JSON.parse(read("package.json")) as { version: string };

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  id?: string;
}

describe("release workflow", () => {
  const wf = parse(read(".github/workflows/release.yml")) as {
    on: { push: { tags: string[] } };
    permissions: Record<string, string>;
    jobs: { image: { steps: Step[] }; npm: { needs: string; steps: Step[] }; chart: { needs: string; steps: Step[] } };
  };
  const steps = wf.jobs.image.steps;

  it("runs on version tags and may write packages", () => {
    expect(wf.on.push.tags).toEqual(["v*.*.*"]);
    expect(wf.permissions.packages).toBe("write");
  });

  it("refuses a tag that is not package.json's version, and tests before it pushes", () => {
    const checks = steps.findIndex((s) => s.run?.includes('require("./package.json").version'));
    const tests = steps.findIndex((s) => s.run?.includes("npm test") && s.run.includes("scripts/test-image.sh"));
    const push = steps.findIndex((s) => s.uses?.startsWith("docker/build-push-action"));
    expect(checks).toBeGreaterThanOrEqual(0);
    expect(tests).toBeGreaterThan(checks);
    expect(push).toBeGreaterThan(tests);
  });

  it("publishes ghcr.io/<owner>/resource-hooks with the semver tag the default image names", () => {
    const meta = steps.find((s) => s.uses?.startsWith("docker/metadata-action"))!;
    expect(meta.with?.images).toBe("ghcr.io/${{ github.repository_owner }}/resource-hooks");
    expect(String(meta.with?.tags)).toContain("type=semver,pattern={{version}}");
    // The project's repository owner is resource-hooks: the default image is what a release publishes.
    expect(DEFAULT_RUNNER_IMAGE).toBe(`ghcr.io/resource-hooks/resource-hooks:${pkg.version}`);
  });

  it("builds the repository's Dockerfile", () => {
    const build = steps.find((s) => s.uses?.startsWith("docker/build-push-action"))!;
    expect(build.with?.context).toBe(".");
    expect(read("Dockerfile")).toMatch(/ENTRYPOINT \["node", "\/app\/dist\/cli\/main.js"\]/);
  });

  it("publishes the CLI to the npm registry with provenance, after the image and the package check", () => {
    expect(wf.permissions["id-token"]).toBe("write");
    expect(wf.jobs.npm.needs).toBe("image");
    const npmSteps = wf.jobs.npm.steps;
    const check = npmSteps.findIndex((s) => s.run?.includes("scripts/test-package.sh"));
    const publish = npmSteps.findIndex((s) => s.run?.includes("npm publish --provenance"));
    expect(check).toBeGreaterThanOrEqual(0);
    expect(publish).toBeGreaterThan(check);
  });

  it("publishes the chart as an OCI artifact after the image, its version the tag's and package.json's", () => {
    expect(wf.jobs.chart.needs).toBe("image");
    const chartSteps = wf.jobs.chart.steps;
    const versions = chartSteps.findIndex((s) => s.run?.includes("appVersion"));
    const push = chartSteps.findIndex((s) => s.run?.includes('helm push "resource-hooks-${GITHUB_REF_NAME#v}.tgz"'));
    expect(versions).toBeGreaterThanOrEqual(0);
    expect(push).toBeGreaterThan(versions);
    const chart = parse(read("charts/resource-hooks/Chart.yaml")) as { version: string; appVersion: string };
    expect(chart).toMatchObject({ version: pkg.version, appVersion: pkg.version });
  });

  it("packs the CLI and only what it needs, with a command users can run", () => {
    const manifest = JSON.parse(read("package.json")) as { bin: Record<string, string>; files: string[] };
    expect(manifest.bin).toEqual({ "resource-hooks": "dist/cli/main.js" });
    expect(manifest.files).toEqual(["dist/**/*.js", "dist/**/*.d.ts", "schema/hooks.schema.json", "docs/*.md"]);
    expect(read("src/cli/main.ts").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});
