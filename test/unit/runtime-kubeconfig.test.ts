// A kubeconfig the user names is used or refused with the reason, never silently dropped (the
// runner would then run every kubernetes step against "no cluster").
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadKubeConfig } from "../../src/runner/runtime.js";

const dir = mkdtempSync(join(tmpdir(), "rh-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("loadKubeConfig with --kubeconfig", () => {
  it("loads a usable kubeconfig", () => {
    const file = write(
      "good",
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    expect(loadKubeConfig(file)?.getCurrentCluster()?.server).toBe("https://127.0.0.1:6443");
  });

  it("refuses a missing file, naming it", () => {
    const missing = join(dir, "nope");
    expect(() => loadKubeConfig(missing)).toThrow(`--kubeconfig ${missing}:`);
  });

  it("refuses a file that is not a kubeconfig", () => {
    const file = write("broken", "clusters: [this is: not: yaml");
    expect(() => loadKubeConfig(file)).toThrow(`--kubeconfig ${file}:`);
  });

  it("refuses a kubeconfig whose current context names no cluster", () => {
    const file = write("empty", stringify({ apiVersion: "v1", kind: "Config", clusters: [], contexts: [] }));
    expect(() => loadKubeConfig(file)).toThrow("its current context names no cluster");
  });
});
