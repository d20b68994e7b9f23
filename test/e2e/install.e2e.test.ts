// Installing resource-hooks once per cluster, both ways, with the real tools: `helm lint` and
// `helm template` of charts/resource-hooks (helm v4 built from its Go module), `kustomize build` of
// config/, the two rendering the same objects, and both accepted by a real kube-apiserver, whose
// authorizer then gives the controller's ServiceAccount exactly the documented permissions.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, describe, expect, it } from "vitest";

import { useStack } from "./harness.js";
import { figure } from "./hooks-env.js";

const stack = useStack();
const home = mkdtempSync(path.join(tmpdir(), "rh-install-"));
const NS = "resource-hooks-system";
const SA = `system:serviceaccount:${NS}:resource-hooks`;
afterAll(() => rmSync(home, { recursive: true, force: true }));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function run(binary: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(binary, args, {
    encoding: "utf8",
    env: { KUBECONFIG: stack().adminKubeconfig, PATH: "/usr/bin:/bin", HOME: home },
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const helm = (...args: string[]) => run(stack().binaries.helm, args);
const kubectl = (...args: string[]) => run(stack().binaries.kubectl, args);
const objects = (yaml: string): Manifest[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
/** What both ways must agree on: everything but the labels each tool adds (helm.sh/chart, …). */
function comparable(o: Manifest): Manifest {
  const { labels: _labels, ...metadata } = o.metadata;
  const copy = JSON.parse(JSON.stringify({ ...o, metadata })) as Manifest;
  const template = (copy.spec as { template?: { metadata?: { labels?: unknown } } } | undefined)?.template;
  if (template?.metadata) delete template.metadata.labels;
  return copy;
}
const key = (o: Manifest) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

describe("the Helm chart and the kustomize base", () => {
  it("helm lint --strict passes", () => {
    const linted = helm("lint", "--strict", "charts/resource-hooks");
    expect(linted, linted.stdout + linted.stderr).toMatchObject({ status: 0 });
  });

  it("render the same objects (helm template --include-crds against kustomize build config/)", () => {
    const t = performance.now();
    const rendered = helm("template", "rh", "charts/resource-hooks", "-n", NS, "--include-crds");
    figure("helm template (ms)", performance.now() - t);
    expect(rendered, rendered.stderr).toMatchObject({ status: 0 });
    const built = run(stack().binaries.kustomize, ["build", "config"]);
    expect(built, built.stderr).toMatchObject({ status: 0 });
    // The namespace is the user's with helm (`-n`, `--create-namespace`); the base creates its own.
    const fromKustomize = objects(built.stdout).filter((o) => o.kind !== "Namespace");
    const fromHelm = objects(rendered.stdout);
    expect(fromHelm.map(key).sort()).toEqual(fromKustomize.map(key).sort());
    const byKey = new Map(fromHelm.map((o) => [key(o), comparable(o)]));
    for (const o of fromKustomize) expect(byKey.get(key(o)), key(o)).toEqual(comparable(o));
  });

  it("helm refuses values its schema does not allow, naming the value", () => {
    const refused = helm("template", "rh", "charts/resource-hooks", "--set", "replicas=0");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/replicas.*minimum/);
    const misspelt = helm("template", "rh", "charts/resource-hooks", "--set", "replica=3");
    expect(misspelt.status).not.toBe(0);
    expect(misspelt.stderr).toMatch(/replica/);
  });

  it("the opt-in ServiceMonitor and NetworkPolicy render only when asked for", () => {
    const plain = objects(helm("template", "rh", "charts/resource-hooks", "-n", NS).stdout).map((o) => o.kind);
    expect(plain).not.toContain("ServiceMonitor");
    expect(plain).not.toContain("NetworkPolicy");
    const opted = helm(
      ...["template", "rh", "charts/resource-hooks", "-n", NS],
      ...["--set", "serviceMonitor.enabled=true", "--set", "networkPolicy.enabled=true"],
      ...["--set", "watchedNamespaces={team-a,team-b}"],
    );
    const all = objects(opted.stdout);
    expect(all.map((o) => o.kind)).toEqual(expect.arrayContaining(["ServiceMonitor", "NetworkPolicy"]));
    const deployment = all.find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    const args = deployment.spec.template.spec.containers[0]!.args;
    expect(args[args.indexOf("--namespaces") + 1]).toBe("team-a,team-b");
  });
});

describe("kubectl apply -k config/ on a real kube-apiserver", () => {
  it("is accepted, and the CRDs become Established", async () => {
    const t = performance.now();
    const applied = kubectl("apply", "--server-side", "-k", "config");
    expect(applied, applied.stderr).toMatchObject({ status: 0 });
    await stack().crdsEstablished(
      ["hooksets.resource-hooks.io", "hookruns.resource-hooks.io", "hookmemories.resource-hooks.io"],
      60_000,
    );
    figure("kubectl apply -k config/ until the CRDs are Established (ms)", performance.now() - t);
  });

  it("gives the controller's ServiceAccount what it needs and no read of any tenant's Secret", () => {
    const canI = (...args: string[]) => kubectl("auth", "can-i", `--as=${SA}`, ...args).stdout.trim();
    expect(canI("watch", "hooksets.resource-hooks.io", "--all-namespaces")).toBe("yes");
    expect(canI("patch", "hooksets.resource-hooks.io", "--subresource=status", "-n", "team-a")).toBe("yes");
    expect(canI("create", "hookruns.resource-hooks.io", "-n", "team-a")).toBe("yes");
    expect(canI("patch", "sensors.argoproj.io", "-n", "team-a")).toBe("yes");
    expect(canI("create", "secrets", "-n", "team-a")).toBe("yes");
    expect(canI("impersonate", "serviceaccounts", "-n", "team-a")).toBe("yes");
    expect(canI("create", "subjectaccessreviews.authorization.k8s.io")).toBe("yes");
    expect(canI("update", "leases.coordination.k8s.io", "-n", NS)).toBe("yes");
    expect(canI("get", "secrets/resource-hooks-credential-key", "-n", NS)).toBe("yes");
    // Never: a tenant's Secrets, workloads or ConfigMaps, or its own namespace's other Secrets.
    expect(canI("get", "secrets", "-n", "team-a")).toBe("no");
    expect(canI("list", "secrets", "--all-namespaces")).toBe("no");
    expect(canI("patch", "secrets", "-n", "team-a")).toBe("no");
    expect(canI("get", "secrets/other", "-n", NS)).toBe("no");
    expect(canI("patch", "deployments.apps", "-n", "team-a")).toBe("no");
    expect(canI("get", "configmaps", "-n", "team-a")).toBe("no");
    expect(canI("update", "leases.coordination.k8s.io", "-n", "team-a")).toBe("no");
  });
});
