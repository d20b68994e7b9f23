// The HookSet CRD on a real kube-apiserver, through the real kubectl: the API server accepts the
// definition (it refuses a non-structural schema in apiextensions.k8s.io/v1), stores
// examples/hooks.yaml as a HookSet without pruning a field of it (as YAML with `on` quoted), `kubectl explain` documents
// hooks.yaml's fields, the printer columns read the status subresource, and an obviously wrong
// HookSet is refused by `kubectl apply` with the field path.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { BARE_ON_MESSAGE, hookSetCrd } from "../../src/generate/hookset-crd.js";
import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";

const NS = "argo-events";
const stack = useStack();
// kubectl keeps a discovery cache under $HOME/.kube.
const dir = mkdtempSync(path.join(tmpdir(), "rh-hookset-crd-"));
const example = parse(readFileSync("examples/hooks.yaml", "utf8")) as { metadata: { name: string }; spec: unknown };

function kubectl(args: string[], input?: unknown): { status: number; stdout: string; stderr: string } {
  // Objects go as JSON: YAML would need `on` quoted for kubectl (see below).
  const text = input === undefined || typeof input === "string" ? input : JSON.stringify(input);
  // kubectl reads a file that starts with "{" as JSON, anything else as YAML.
  const file = path.join(dir, text?.startsWith("{") ? "input.json" : "input.yaml");
  if (text !== undefined) writeFileSync(file, text);
  const r = spawnSync(stack().binaries.kubectl, input === undefined ? args : [...args, "-f", file], {
    encoding: "utf8",
    env: { KUBECONFIG: stack().adminKubeconfig, PATH: "/usr/bin:/bin", HOME: dir },
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const hookSet = (name: string, spec: unknown) => ({
  apiVersion: "resource-hooks.io/v1alpha1",
  kind: "HookSet",
  metadata: { name, namespace: NS },
  spec,
});
const hook = (extra: Record<string, unknown>) => ({
  name: "h",
  on: { resource: { version: "v1", resource: "configmaps", namespace: "web" } },
  ...extra,
});
const log = { name: "say", log: { message: "hello" } };

beforeAll(async () => {
  await stack().apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]);
  const t = performance.now();
  const applied = kubectl(["apply"], hookSetCrd());
  expect(applied, applied.stderr).toMatchObject({ status: 0 });
  await stack().crdsEstablished(["hooksets.resource-hooks.io"]);
  figure("HookSet CRD applied until Established (ms)", performance.now() - t);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the HookSet CRD on kube-apiserver", () => {
  it("is accepted as a structural schema and Established", async () => {
    const crd = await stack().admin.get<{ status: { conditions: Array<{ type: string; status: string }> } }>(
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/hooksets.resource-hooks.io",
    );
    const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
    expect(conditions).toMatchObject({ Established: "True", NamesAccepted: "True" });
    expect(conditions.NonStructuralSchema).toBeUndefined();
  });

  it("stores examples/hooks.yaml as a HookSet with its spec whole (nothing pruned)", () => {
    // As JSON: exactly the file's content.
    const applied = kubectl(["apply", "-n", NS], JSON.stringify(example));
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    expect(applied.stderr).toBe("");
    const stored = JSON.parse(kubectl(["get", "hookset", example.metadata.name, "-n", NS, "-o", "json"]).stdout) as {
      spec: unknown;
    };
    expect(stored.spec).toEqual(example.spec);
    // The short name works too.
    expect(kubectl(["get", "hs", "-n", NS, "-o", "name"]).stdout.trim()).toBe(`hookset.resource-hooks.io/web`);
  });

  it("as YAML, needs `on` quoted: kubectl reads YAML 1.1, where a bare on: key is the boolean true", () => {
    // kubectl (sigs.k8s.io/yaml) turns the key into "true"; the CRD declares that key and a CEL
    // rule on it (self.__true__) refuses the HookSet, naming the field and saying what to write.
    const bare = kubectl(["apply", "--dry-run=server", "-n", NS], readFileSync("examples/hooks.yaml", "utf8"));
    // kubectl's message quotes the whole object first: print what it says about it.
    const said = /is invalid: .*/s.exec(bare.stderr)?.[0] ?? bare.stderr;
    console.log(`[e2e] kubectl apply of examples/hooks.yaml as it is (exit ${bare.status}):\n${said.trim()}`);
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toContain(`spec.hooks[0].true: Invalid value: "object": ${BARE_ON_MESSAGE}`);
    expect(bare.stderr).not.toMatch(/unknown field/);
    const quoted = readFileSync("examples/hooks.yaml", "utf8").replace(/^(\s+)on:/gm, '$1"on":');
    const applied = kubectl(["apply", "-n", NS], quoted);
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    expect(applied.stdout).toMatch(/hookset.resource-hooks.io\/web (unchanged|configured)/);
    const stored = JSON.parse(kubectl(["get", "hookset", "web", "-n", NS, "-o", "json"]).stdout) as { spec: unknown };
    expect(stored.spec).toEqual(example.spec);
  });

  it("shows READY, HOOKS, WATCHES, LAST RUN and AGE from the status subresource", () => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const status = {
      status: {
        observedGeneration: 1,
        hooks: 6,
        watches: 4,
        lastRunTime: now,
        conditions: [
          { type: "Accepted", status: "True", reason: "Valid", message: "", lastTransitionTime: now },
          { type: "Ready", status: "True", reason: "Applied", message: "", lastTransitionTime: now },
        ],
      },
    };
    const patched = kubectl([
      "patch",
      "hookset",
      "web",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify(status),
    ]);
    expect(patched, patched.stderr).toMatchObject({ status: 0 });
    const table = kubectl(["get", "hooksets", "-n", NS]).stdout.split("\n");
    console.log(`[e2e] kubectl get hooksets:\n${table.join("\n")}`);
    expect(table[0]).toMatch(/^NAME\s+READY\s+HOOKS\s+WATCHES\s+LAST RUN\s+AGE$/);
    expect(table[1]).toMatch(/^web\s+True\s+6\s+4\s+\d+s\s+\d+s$/);
  });

  it("documents hooks.yaml's fields in kubectl explain", () => {
    const explained = kubectl(["explain", "hookset.spec.hooks.on"]);
    expect(explained, explained.stderr).toMatchObject({ status: 0 });
    console.log(`[e2e] kubectl explain hookset.spec.hooks.on:\n${explained.stdout}`);
    expect(explained.stdout).toContain("What fires the hook");
    for (const field of ["argocd", "changed", "events", "resource", "when"])
      expect(explained.stdout).toMatch(new RegExp(`^\\s+${field}\\s+<`, "m"));
    const steps = kubectl(["explain", "hookset.spec.hooks.steps.kubernetes.action"]).stdout;
    expect(steps).toContain("ENUM:");
  });

  it("refuses an obviously wrong HookSet with the field path", () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ["a hook without steps", hookSet("no-steps", { hooks: [hook({})] }), /spec\.hooks\[0\]\.steps: Required value/],
      [
        "a bad enum",
        hookSet("bad-enum", { hooks: [hook({ concurrency: "sometimes", steps: [log] })] }),
        /spec\.hooks\[0\]\.concurrency: Unsupported value: "sometimes"/,
      ],
      [
        "a hook name that is no DNS label",
        hookSet("bad-name", { hooks: [hook({ name: "Purge_CDN", steps: [log] })] }),
        /spec\.hooks\[0\]\.name: Invalid value: "Purge_CDN"/,
      ],
      [
        "a misspelt step type",
        hookSet("typo", { hooks: [hook({ steps: [{ name: "say", lgo: { message: "x" } }] })] }),
        /unknown field "spec\.hooks\[0\]\.steps\[0\]\.lgo"/,
      ],
      [
        "an inline secret",
        hookSet("inline", {
          hooks: [hook({ steps: [{ name: "tell", slack: { webhookUrl: "https://hooks.example", text: "x" } }] })],
        }),
        /spec\.hooks\[0\]\.steps\[0\]\.slack\.webhookUrl: Invalid value: "string"/,
      ],
      [
        "waitFor's apiVersion without its kind",
        hookSet("half-ref", {
          hooks: [hook({ steps: [{ name: "w", waitFor: { for: "rollout", apiVersion: "v1" } }] })],
        }),
        /spec\.hooks\[0\]\.steps\[0\]\.waitFor: Invalid value: "object": apiVersion needs kind/,
      ],
      [
        "a Cloudflare purge with Fastly's keys",
        hookSet("mixed-purge", {
          hooks: [
            hook({
              steps: [
                {
                  name: "p",
                  cdnPurge: { provider: "cloudflare", zoneId: "z", keys: ["k"], token: { env: "CF_TOKEN" } },
                },
              ],
            }),
          ],
        }),
        /spec\.hooks\[0\]\.steps\[0\]\.cdnPurge/,
      ],
    ];
    for (const [what, object, expected] of cases) {
      const r = kubectl(["apply"], object);
      console.log(`[e2e] kubectl apply of ${what} (exit ${r.status}):\n${r.stderr.trim()}`);
      expect(r.status, what).not.toBe(0);
      expect(r.stderr, what).toMatch(expected);
    }
    const names = kubectl(["get", "hooksets", "-n", NS, "-o", "name"]).stdout.trim();
    expect(names).toBe("hookset.resource-hooks.io/web");
  });
});
