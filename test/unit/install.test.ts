// The installation (config/ and the chart): the checked-in files are what src/install generates,
// the controller's ClusterRole never lets it read a tenant's Secret or act beyond the HookSets'
// objects, and the chart's values file passes the chart's own values schema.
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { installFiles } from "../../src/install/files.js";
import { toKubernetesYaml } from "../../src/model/yaml.js";
import { installClusterRules, installManifests, installNamespaceRules } from "../../src/install/manifests.js";

describe("the installation's files", () => {
  it("config/ and the chart's crds/ and files/ are current (npx tsx scripts/install-manifests.ts)", () => {
    for (const [path, text] of installFiles()) expect(readFileSync(path, "utf8"), path).toBe(text);
  });

  it("config/kustomization.yaml lists every file of config/", () => {
    const files = [...installFiles().keys()].filter(
      (p) => p.startsWith("config/") && !p.endsWith("kustomization.yaml"),
    );
    const { resources } = parse(installFiles().get("config/kustomization.yaml")!) as { resources: string[] };
    expect(resources.map((r) => `config/${r}`).sort()).toEqual(files.sort());
  });
});

describe("the controller's permissions", () => {
  const rules = installClusterRules();
  const verbsOn = (group: string, resource: string) =>
    rules.filter((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource)).flatMap((r) => r.verbs);

  it("never read, list, watch or change a tenant's Secret: it only creates token Secrets", () => {
    expect(verbsOn("", "secrets")).toEqual(["create"]);
  });

  it("has no wildcard and touches no Deployment, ConfigMap or workload of a tenant", () => {
    for (const rule of [...rules, ...installNamespaceRules()]) {
      expect(rule.verbs).not.toContain("*");
      expect(rule.resources).not.toContain("*");
      expect(rule.apiGroups).not.toContain("*");
    }
    expect(rules.flatMap((r) => r.resources)).not.toEqual(expect.arrayContaining(["deployments"]));
    expect(rules.flatMap((r) => r.resources)).not.toEqual(expect.arrayContaining(["configmaps"]));
  });

  it("acts as a HookSet's ServiceAccount by impersonating it, and reads only its own key Secret by name", () => {
    expect(verbsOn("", "serviceaccounts")).toEqual(["impersonate"]);
    const keyRead = installNamespaceRules().find((r) => r.resources?.includes("secrets") && r.verbs.includes("get"));
    expect(keyRead).toMatchObject({ verbs: ["get"], resourceNames: ["resource-hooks-credential-key"] });
  });
});

describe("the controller Deployment", () => {
  const deployment = installManifests().find((o) => o.kind === "Deployment") as {
    spec: { replicas: number; template: { spec: { containers: Array<{ args: string[] }> } } };
  };

  it("runs two replicas of `controller`, pointing its HookSets' Sensors at its own Service in its namespace", () => {
    expect(deployment.spec.replicas).toBe(2);
    const args = deployment.spec.template.spec.containers[0]!.args;
    expect(args[0]).toBe("controller");
    expect(args[args.indexOf("--runner-url") + 1]).toBe("http://resource-hooks.$(POD_NAMESPACE).svc:8080");
  });
});

describe("the chart's values", () => {
  const schema = JSON.parse(readFileSync("charts/resource-hooks/values.schema.json", "utf8")) as object;
  const validate = new Ajv({ strict: false }).compile(schema);
  const values = parse(readFileSync("charts/resource-hooks/values.yaml", "utf8")) as Record<string, unknown>;

  it("values.yaml passes values.schema.json", () => {
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
  });

  it("the schema refuses a misspelt key, zero replicas and a namespace that is not a DNS label", () => {
    expect(validate({ ...values, replica: 3 })).toBe(false);
    expect(validate({ ...values, replicas: 0 })).toBe(false);
    expect(validate({ ...values, watchedNamespaces: ["Team_A"] })).toBe(false);
  });
});

describe("YAML as kubectl, Helm and Argo CD read it (YAML 1.1)", () => {
  it("keeps the CRD's `on` a key named on, and 1.1 booleans strings", () => {
    const text = installFiles().get("config/crds/hooksets.resource-hooks.io.yaml")!;
    const crd = parse(text, { version: "1.1" }) as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: unknown } } } } }> };
    };
    const hookProperties = (
      crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties as {
        hooks: { items: { properties: Record<string, unknown> } };
      }
    ).hooks.items.properties;
    expect(Object.keys(hookProperties)).toContain("on");
    expect(toKubernetesYaml({ labels: { enabled: "yes", mode: "off" } })).toBe(
      'labels:\n  enabled: "yes"\n  mode: "off"\n',
    );
  });
});
