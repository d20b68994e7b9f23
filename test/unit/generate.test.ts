import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { diffOutput, generate, render, writeOutput } from "../../src/generate/index.js";
import type { EventSource, Sensor } from "../../src/generate/argo-types.js";
import { loadHookSetFile } from "../../src/spec/load.js";
import { hookSetSchema } from "../../src/spec/schema.js";
import { argoValidators } from "../helpers/argo-schema.js";
import { hookSetFrom } from "../helpers/spec.js";

const root = join(import.meta.dirname, "../..");
const example = loadHookSetFile(join(root, "examples/hooks.yaml"));
const objectsOf = (kind: string) => generate(example).flatMap((f) => f.objects).filter((o) => (o as { kind?: string }).kind === kind);

describe("generated Argo Events objects", () => {
  it("validate against Argo Events' own schema, with no unknown fields", () => {
    const { EventSource: validateEventSource, Sensor: validateSensor } = argoValidators();
    const eventSources = objectsOf("EventSource");
    const sensors = objectsOf("Sensor");
    expect(eventSources).toHaveLength(1);
    expect(sensors).toHaveLength(example.hooks.length);
    for (const es of eventSources) expect(validateEventSource(es), JSON.stringify(validateEventSource.errors)).toBe(true);
    for (const s of sensors) expect(validateSensor(s), JSON.stringify(validateSensor.errors)).toBe(true);
  });

  it("the strict schema check does catch a misspelt field", () => {
    const { Sensor: validateSensor } = argoValidators();
    const sensor = structuredClone(objectsOf("Sensor")[0]) as Sensor;
    const dep = sensor.spec.dependencies[0] as unknown as Record<string, unknown>;
    dep.eventname = dep.eventName;
    expect(validateSensor(sensor)).toBe(false);
    // atLeastOnce in the template is silently ignored by Argo Events: it must sit on the trigger.
    const misplaced = structuredClone(objectsOf("Sensor")[0]) as Sensor;
    (misplaced.spec.triggers[0]!.template as unknown as Record<string, unknown>).atLeastOnce = true;
    expect(validateSensor(misplaced)).toBe(false);
  });

  it("puts atLeastOnce, retryStrategy and the status policy on the trigger", () => {
    for (const sensor of objectsOf("Sensor") as Sensor[]) {
      const trigger = sensor.spec.triggers[0]!;
      expect(trigger.atLeastOnce).toBe(true);
      expect(trigger.policy.status.allow).toEqual([200]);
      expect(trigger.retryStrategy.steps).toBeGreaterThan(0);
      expect(Object.keys(trigger.template)).toEqual(["name", "http"]);
    }
  });

  it("posts a binary CloudEvent with the event data as the whole body and the token from a Secret", () => {
    const sensor = (objectsOf("Sensor") as Sensor[]).find((s) => s.metadata.name === "web-purge-cdn-on-image-change")!;
    const http = sensor.spec.triggers[0]!.template.http;
    expect(http.url).toBe("http://resource-hooks.argo-events.svc:8080/hooks/purge-cdn-on-image-change");
    expect(http.payload).toEqual([{ src: { dependencyName: "change", dataKey: "@this", useRawData: true }, dest: "" }]);
    expect(http.dynamicHeaders.map((h) => [h.dest, h.src.contextKey])).toEqual([
      ["ce-id", "id"],
      ["ce-source", "source"],
      ["ce-type", "type"],
      ["ce-subject", "subject"],
      ["ce-time", "time"],
    ]);
    expect(http.headers["ce-specversion"]).toBe("1.0");
    expect(http.secureHeaders).toEqual([{ name: "Authorization", valueFrom: { secretKeyRef: { name: "resource-hooks-token", key: "token" } } }]);
    // 11m step (no retries) + 60s step with 2 retries and 1s+2s backoff, + margin.
    const hook = example.hooks.find((h) => h.name === "purge-cdn-on-image-change")!;
    expect(hook.timeoutMs).toBe(11 * 60_000 + 3 * 60_000 + 3_000);
    expect(http.timeout).toBe(Math.ceil(hook.timeoutMs / 1000) + 15);
  });

  it("never writes a secret value into a manifest", () => {
    const text = [...render(generate(example), "examples/hooks.yaml").values()].join("\n");
    expect(text).not.toMatch(/hooks\.slack\.com|ghp_|AKIA/);
    expect(text).toContain("replace-me-with-a-random-token");
  });
});

describe("watch sharing", () => {
  it("1,000 hooks over 3 distinct selectors make 3 watches", () => {
    const selectors = [
      { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
      { version: "v1", resource: "configmaps", namespace: "web" },
      { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
    ];
    const hooks = Array.from({ length: 1000 }, (_, i) => {
      const base = selectors[i % 3]!;
      const resource = "labels" in base ? base : { ...base, name: `obj-${i}` };
      return { name: `hook-${i}`, on: { resource }, steps: [{ name: "say", log: { message: "hi" } }] };
    });
    const files = generate(hookSetFrom(hooks));
    const es = files.flatMap((f) => f.objects).find((o) => (o as EventSource).kind === "EventSource") as EventSource;
    expect(Object.keys(es.spec.resource)).toHaveLength(3);
    expect(files.filter((f) => f.path.startsWith("sensors/"))).toHaveLength(1000);
    const eventNames = new Set((files.flatMap((f) => f.objects).filter((o) => (o as Sensor).kind === "Sensor") as Sensor[]).map((s) => s.spec.dependencies[0]!.eventName));
    expect(eventNames).toEqual(new Set(Object.keys(es.spec.resource)));
  });

  it("unions the event types of the hooks sharing a watch", () => {
    const hookSet = hookSetFrom([
      { name: "a", on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, events: ["add"] }, steps: [{ name: "s", log: { message: "x" } }] },
      { name: "b", on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, events: ["delete", "update"] }, steps: [{ name: "s", log: { message: "x" } }] },
    ]);
    const es = generate(hookSet)[0]!.objects[0] as EventSource;
    expect(Object.values(es.spec.resource).map((w) => w.eventTypes)).toEqual([["ADD", "UPDATE", "DELETE"]]);
  });
});

describe("RBAC", () => {
  it("lets the event source get/list/watch exactly the watched resources", () => {
    const rbac = generate(example).find((f) => f.path === "manifests/eventsource-rbac.yaml")!.objects as Array<{ kind: string; metadata: { namespace?: string }; rules?: unknown }>;
    const roles = rbac.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
    expect(roles.map((r) => [r.kind, r.metadata.namespace, r.rules])).toEqual([
      ["ClusterRole", undefined, [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] }]],
      ["Role", "argocd", [{ apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list", "watch"] }]],
      [
        "Role",
        "web",
        [
          { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
          { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["get", "list", "watch"] },
        ],
      ],
    ]);
  });

  it("gives the runner only what its steps, Events and run store need", () => {
    const rbac = generate(example).find((f) => f.path === "manifests/runner-rbac.yaml")!.objects as Array<{ kind: string; metadata: { namespace?: string }; rules?: unknown }>;
    const roles = rbac.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
    expect(roles.map((r) => [r.kind, r.metadata.namespace ?? "", r.rules])).toMatchSnapshot();
    const all = JSON.stringify(roles);
    expect(all).not.toContain('"*"');
    expect(all).not.toContain("secrets");
  });
});

describe("files and --check", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("the checked-in eventsources/, sensors/ and manifests/ are current for examples/hooks.yaml", () => {
    const diff = diffOutput(root, render(generate(example), "examples/hooks.yaml"));
    expect(diff).toEqual({ changed: [], stale: [] });
  });

  it("--check reports changed and stale files, generate fixes both", () => {
    const dir = mkdtempSync(join(tmpdir(), "rh-gen-"));
    dirs.push(dir);
    const rendered = render(generate(example), "examples/hooks.yaml");
    writeOutput(dir, rendered);
    expect(diffOutput(dir, rendered)).toEqual({ changed: [], stale: [] });
    writeFileSync(join(dir, "sensors/web-announce-scaling.yaml"), "# Generated by resource-hooks from x\nchanged: true\n");
    writeFileSync(join(dir, "sensors/web-removed-hook.yaml"), "# Generated by resource-hooks from x\n");
    writeFileSync(join(dir, "sensors/hand-written.yaml"), "kind: Sensor\n");
    expect(diffOutput(dir, rendered)).toEqual({ changed: ["sensors/web-announce-scaling.yaml"], stale: ["sensors/web-removed-hook.yaml"] });
    writeOutput(dir, rendered);
    expect(diffOutput(dir, rendered)).toEqual({ changed: [], stale: [] });
    expect(existsSync(join(dir, "sensors/hand-written.yaml"))).toBe(true);
  });

  it("writes YAML that parses back to the generated objects", () => {
    for (const [path, text] of render(generate(example), "examples/hooks.yaml")) {
      const file = generate(example).find((f) => f.path === path)!;
      expect(text.split(/^---$/m).map((d) => parse(d))).toEqual(JSON.parse(JSON.stringify(file.objects)));
    }
  });

  it("schema/hooks.schema.json is the schema the loader uses", () => {
    expect(JSON.parse(readFileSync(join(root, "schema/hooks.schema.json"), "utf8"))).toEqual(hookSetSchema());
  });
});
