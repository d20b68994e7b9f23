import { DEFAULT_CEL_COST_LIMIT } from "../../src/expr/cel.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { generate, render } from "../../src/generate/index.js";
import { diffOutput, writeOutput } from "../../src/cli/output-dir.js";
import type { EventSource, Sensor } from "../../src/generate/argo-types.js";
import { hookRunCrd } from "../../src/generate/hookrun-crd.js";
import { loadHookSetFile, parseHookSet } from "../../src/hookset/load.js";
import { hookSetSchema } from "../../src/hookset/schema.js";
import { hookSetFrom } from "../helpers/spec.js";

const root = join(import.meta.dirname, "../..");
const example = loadHookSetFile(join(root, "examples/hooks.yaml"));
const objectsOf = (kind: string) =>
  generate(example)
    .flatMap((f) => f.objects)
    .filter((o) => (o as { kind?: string }).kind === kind);

describe("generated Argo Events objects", () => {
  // The check against Argo Events' own JSON schema (unknown fields forbidden) needs the
  // argo-events Go module: test/e2e/argo-schema.e2e.test.ts. Here: the shape we rely on.
  it("one EventSource and one Sensor for the hook set: a dependency and a trigger per watch", () => {
    const [es] = objectsOf("EventSource") as EventSource[];
    const sensors = objectsOf("Sensor") as Sensor[];
    expect(sensors).toHaveLength(1);
    const watches = Object.keys(es!.spec.resource);
    const sensor = sensors[0]!;
    expect(sensor.metadata.name).toBe("web");
    expect(sensor.spec.dependencies.map((d) => [d.name, d.eventSourceName, d.eventName])).toEqual(
      watches.map((w) => [w, "web", w]),
    );
    expect(sensor.spec.triggers.map((t) => t.template.name)).toEqual(watches);
    for (const dep of sensor.spec.dependencies)
      expect(Object.keys(dep)).toEqual(["name", "eventSourceName", "eventName", "filters"]);
  });

  it("puts conditions in each trigger's template, and atLeastOnce, retryStrategy and the status policy on the trigger", () => {
    for (const trigger of (objectsOf("Sensor") as Sensor[])[0]!.spec.triggers) {
      expect(Object.keys(trigger).sort()).toEqual(["atLeastOnce", "policy", "retryStrategy", "template"]);
      expect(Object.keys(trigger.template)).toEqual(["name", "conditions", "http"]);
      // Without conditions a trigger waits for every dependency of the Sensor.
      expect(trigger.template.conditions).toBe(trigger.template.name);
      expect(trigger.atLeastOnce).toBe(true);
      expect(trigger.policy.status.allow).toEqual([200, 202]);
      expect(trigger.template.http.timeout).toBe(10);
      // About 5 minutes of retries: 5s, 10s … 160s.
      const { steps, duration, factor } = trigger.retryStrategy;
      const total = Array.from({ length: steps - 1 }, (_, i) => parseInt(duration) * factor ** i).reduce(
        (a, b) => a + b,
        0,
      );
      expect(total).toBeGreaterThanOrEqual(240);
      expect(total).toBeLessThanOrEqual(600);
    }
  });

  it("posts a binary CloudEvent per watch to /namespaces/<ns>/hooksets/<hook set>/watches/<watch>, the event data as the whole body, the token from a Secret", () => {
    const trigger = (objectsOf("Sensor") as Sensor[])[0]!.spec.triggers.find(
      (t) => t.template.name === "deployments-web",
    )!;
    const http = trigger.template.http;
    expect(http.url).toBe(
      "http://web-runner.argo-events.svc:8080/namespaces/argo-events/hooksets/web/watches/deployments-web",
    );
    expect(http.payload).toEqual([
      { src: { dependencyName: "deployments-web", dataKey: "@this", useRawData: true }, dest: "" },
    ]);
    expect(http.dynamicHeaders.map((h) => [h.dest, h.src.contextKey, h.src.dependencyName])).toEqual([
      ["ce-id", "id", "deployments-web"],
      ["ce-source", "source", "deployments-web"],
      ["ce-type", "type", "deployments-web"],
      ["ce-subject", "subject", "deployments-web"],
      ["ce-time", "time", "deployments-web"],
    ]);
    expect(http.headers["ce-specversion"]).toBe("1.0");
    expect(http.secureHeaders).toEqual([
      { name: "Authorization", valueFrom: { secretKeyRef: { name: "resource-hooks-token", key: "token" } } },
    ]);
  });

  it("asks the event source for ADDs and DELETEs too: catch-up reads replayed ADDs, DELETEs forget", () => {
    const hookSet = hookSetFrom([
      {
        name: "a",
        on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, events: ["add"] },
        steps: [{ name: "s", log: { message: "x" } }],
      },
      {
        name: "d",
        on: { resource: { version: "v1", resource: "secrets", namespace: "web" }, events: ["delete"] },
        steps: [{ name: "s", log: { message: "x" } }],
      },
      {
        name: "u",
        on: { resource: { version: "v1", resource: "services", namespace: "web" } },
        steps: [{ name: "s", log: { message: "x" } }],
      },
    ]);
    const es = generate(hookSet)[0]!.objects[0] as EventSource;
    expect(Object.entries(es.spec.resource).map(([name, w]) => [name, w.resource, w.eventTypes])).toEqual([
      ["configmaps-web", "configmaps", ["ADD", "DELETE"]],
      ["configmaps-web_changes", "configmaps", ["DELETE"]],
      ["secrets-web", "secrets", ["DELETE"]],
      ["services-web", "services", ["ADD", "DELETE"]],
      ["services-web_changes", "services", ["UPDATE", "DELETE"]],
    ]);
  });

  it("carries a replaying watch's UPDATEs on a stream of their own, past its replays, to the same runner endpoint", () => {
    // A replay of every object's ADD must not hold back a real change: the changes stream is a
    // trigger of its own, and Argo Events runs each trigger's events on a goroutine of its own.
    // Each UPDATE comes once: on the changes stream only (the runner's resync closes the gap
    // between the two informers' lists).
    const hookSet = hookSetFrom([
      {
        name: "u",
        on: { resource: { version: "v1", resource: "services", namespace: "web" }, changed: ["spec.ports"] },
        steps: [{ name: "s", log: { message: "x" } }],
      },
    ]);
    const [esFile, sensorFile] = generate(hookSet);
    const es = esFile!.objects[0] as EventSource;
    const sensor = sensorFile!.objects[0] as Sensor;
    expect(Object.entries(es.spec.resource).map(([name, w]) => [name, w.eventTypes])).toEqual([
      ["services-web", ["ADD", "DELETE"]],
      ["services-web_changes", ["UPDATE", "DELETE"]],
    ]);
    expect(sensor.spec.dependencies.map((d) => [d.name, d.eventName])).toEqual([
      ["services-web", "services-web"],
      ["services-web_changes", "services-web_changes"],
    ]);
    // the same filter on both
    expect(new Set(sensor.spec.dependencies.map((d) => d.filters?.script)).size).toBe(1);
    const url = `${hookSet.runner.url}/namespaces/${hookSet.namespace}/hooksets/${hookSet.name}/watches/services-web`;
    expect(sensor.spec.triggers.map((t) => [t.template.name, t.template.conditions, t.template.http?.url])).toEqual([
      ["services-web", "services-web", url],
      ["services-web_changes", "services-web_changes", url],
    ]);
  });

  it("never writes a secret value into a manifest; the placeholder token Secret only on request", () => {
    const text = [...render(generate(example), "examples/hooks.yaml").values()].join("\n");
    expect(text).not.toMatch(/hooks\.slack\.com|ghp_|AKIA/);
    expect(text).not.toContain("replace-me-with-a-random-token");
    expect(generate(example).map((f) => f.path)).not.toContain("manifests/token-secret.yaml");
    const withSecret = generate(example, { createTokenSecret: true });
    expect(JSON.stringify(withSecret.find((f) => f.path === "manifests/token-secret.yaml")!.objects)).toContain(
      "replace-me-with-a-random-token",
    );
    expect(
      (withSecret.find((f) => f.path === "manifests/kustomization.yaml")!.objects[0] as { resources: string[] })
        .resources,
    ).toContain("token-secret.yaml");
  });
});

describe("watch sharing", () => {
  it("1,000 hooks over 3 distinct selectors: 1 EventSource, 1 Sensor with 6 triggers, far below etcd's 1.5 MiB", () => {
    const selectors = [
      { group: "apps", version: "v1", resource: "deployments", namespace: "web" },
      { version: "v1", resource: "configmaps", namespace: "web" },
      { group: "apps", version: "v1", resource: "deployments", labels: { team: "web" } },
    ];
    const hooks = Array.from({ length: 1000 }, (_, i) => {
      const base = selectors[i % 3]!;
      const resource = "labels" in base ? base : { ...base, name: `obj-${i}` };
      const changed =
        i % 3 === 1
          ? { changed: [`data["key-${i}.properties"]`] }
          : i % 3 === 0
            ? { changed: ["spec.template.spec.containers[0].image"] }
            : {};
      return { name: `hook-${i}`, on: { resource, ...changed }, steps: [{ name: "say", log: { message: "hi" } }] };
    });
    const files = generate(hookSetFrom(hooks));
    const objects = files.flatMap((f) => f.objects);
    const eventSources = objects.filter((o) => (o as EventSource).kind === "EventSource") as EventSource[];
    const sensors = objects.filter((o) => (o as Sensor).kind === "Sensor") as Sensor[];
    expect(eventSources).toHaveLength(1);
    expect(sensors).toHaveLength(1);
    // 3 watches, each with its changes stream
    expect(Object.keys(eventSources[0]!.spec.resource)).toHaveLength(6);
    expect(sensors[0]!.spec.triggers).toHaveLength(6);
    expect(new Set(sensors[0]!.spec.dependencies.map((d) => d.eventName))).toEqual(
      new Set(Object.keys(eventSources[0]!.spec.resource)),
    );
    const bytes = Buffer.byteLength(JSON.stringify(sensors[0]));
    console.log(
      `1,000 hooks over 3 selectors: 1 EventSource, 1 Sensor of ${(bytes / 1024).toFixed(1)} KiB with ${sensors[0]!.spec.triggers.length} triggers`,
    );
    expect(bytes).toBeLessThan(512 * 1024);
  });

  it("writes one filter row per distinct hook, not a copy of the code per hook", () => {
    const one = (n: number) =>
      hookSetFrom(
        Array.from({ length: n }, (_, i) => ({
          name: `h-${i}`,
          on: { resource: { version: "v1", resource: "configmaps", namespace: "web", name: `cm-${i}` } },
          steps: [{ name: "s", log: { message: "x" } }],
        })),
      );
    const size = (n: number) =>
      (generate(one(n)).find((f) => f.path.startsWith("sensors/"))!.objects[0] as Sensor).spec.dependencies[0]!.filters
        .script.length;
    const perHook = (size(101) - size(1)) / 100;
    expect(perHook).toBeLessThan(80);
  });
});

describe("RBAC", () => {
  it("lets the event source get/list/watch exactly the watched resources", () => {
    const rbac = generate(example).find((f) => f.path === "manifests/eventsource-rbac.yaml")!.objects as Array<{
      kind: string;
      metadata: { namespace?: string };
      rules?: unknown;
    }>;
    const roles = rbac.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
    expect(roles.map((r) => [r.kind, r.metadata.namespace, r.rules])).toEqual([
      [
        "ClusterRole",
        undefined,
        [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] }],
      ],
      [
        "Role",
        "argocd",
        [{ apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list", "watch"] }],
      ],
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
    const rbac = generate(example).find((f) => f.path === "manifests/runner-rbac.yaml")!.objects as Array<{
      kind: string;
      metadata: { namespace?: string };
      rules?: unknown;
    }>;
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
    writeFileSync(join(dir, "sensors/web.yaml"), "# Generated by resource-hooks from x\nchanged: true\n");
    writeFileSync(join(dir, "sensors/web-removed-hook.yaml"), "# Generated by resource-hooks from x\n");
    writeFileSync(join(dir, "sensors/hand-written.yaml"), "kind: Sensor\n");
    expect(diffOutput(dir, rendered)).toEqual({
      changed: ["sensors/web.yaml"],
      stale: ["sensors/web-removed-hook.yaml"],
    });
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

describe("HookRun CRD", () => {
  const crd = generate(example).find((f) => f.path === "manifests/hookrun-crd.yaml")!.objects[0] as ReturnType<
    typeof hookRunCrd
  >;
  const version = (crd.spec.versions as Array<Record<string, unknown>>)[0]!;
  const schema = (
    version.schema as {
      openAPIV3Schema: { properties: Record<string, { properties: Record<string, Record<string, unknown>> }> };
    }
  ).openAPIV3Schema;

  it("is generated into manifests/ and listed in the kustomization", () => {
    expect(crd).toEqual(hookRunCrd(crd.metadata.labels));
    expect(crd.metadata.name).toBe("hookruns.resource-hooks.io");
    expect(crd.spec).toMatchObject({
      group: "resource-hooks.io",
      scope: "Namespaced",
      names: { kind: "HookRun", plural: "hookruns" },
    });
    const kustomization = generate(example).find((f) => f.path === "manifests/kustomization.yaml")!.objects[0] as {
      resources: string[];
    };
    expect(kustomization.resources).toContain("hookrun-crd.yaml");
  });

  it("prints HOOK, OBJECT, PHASE, AGE and has a status subresource", () => {
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
    expect(
      (version.additionalPrinterColumns as Array<{ name: string; jsonPath: string }>).map((c) => [
        c.name.toUpperCase(),
        c.jsonPath,
      ]),
    ).toEqual([
      ["HOOK", ".spec.hook"],
      ["OBJECT", ".spec.subject"],
      ["PHASE", ".status.phase"],
      ["AGE", ".metadata.creationTimestamp"],
    ]);
  });

  it("declares the spec and status fields the runner writes", () => {
    expect(Object.keys(schema.properties.spec!.properties)).toEqual([
      "hookSet",
      "hook",
      "eventId",
      "identity",
      "acceptedAt",
      "subject",
      "object",
      "fingerprint",
      "concurrency",
      "deadline",
      "context",
    ]);
    const status = schema.properties.status!.properties;
    expect(status.phase).toEqual({
      type: "string",
      enum: ["Pending", "Running", "Succeeded", "Failed", "Skipped", "Superseded"],
      default: "Pending",
    });
    // A run has no status until its first write (the status subresource drops one sent on create):
    // the API server serves it defaulted, as Pending.
    expect((schema.properties.status as { default?: unknown }).default).toEqual({});
    expect([status.attempts!.default, status.steps!.default, status.conditions!.default]).toEqual([0, [], []]);
    expect(Object.keys(status)).toEqual([
      "phase",
      "reason",
      "message",
      "attempts",
      "startTime",
      "completionTime",
      "nextRetryAt",
      "observedGeneration",
      "claim",
      "cancelRequested",
      "deadline",
      "steps",
      "conditions",
    ]);
    const stepOutput = (status.steps as { items: { properties: Record<string, Record<string, unknown>> } }).items
      .properties.output!;
    expect(stepOutput["x-kubernetes-preserve-unknown-fields"]).toBe(true);
  });
});

describe("spec fields for the run model", () => {
  it("defaults: concurrency queue, deadline 1h, retention 7 days and 100 per hook, CEL cost: the expression engine's default", () => {
    const hookSet = hookSetFrom([
      {
        name: "h",
        on: { resource: { version: "v1", resource: "configmaps" } },
        steps: [{ name: "s", log: { message: "x" } }],
      },
    ]);
    expect(hookSet.hooks[0]).toMatchObject({ concurrency: "queue", deadlineMs: 3_600_000 });
    expect(hookSet.runner.retention).toEqual({ ttlMs: 7 * 24 * 3_600_000, keepPerHook: 100 });
    expect(hookSet.celCostLimit).toBe(DEFAULT_CEL_COST_LIMIT);
  });

  it("reads what is given", () => {
    const hookSet = parseHookSet(
      stringify({
        apiVersion: "resource-hooks.io/v1alpha1",
        kind: "HookSet",
        metadata: { name: "web" },
        spec: {
          runner: { url: "http://web-runner.argo-events.svc:8080", retention: { ttl: "24h", keepPerHook: 5 } },
          limits: { celCost: 5000 },
          hooks: [
            {
              name: "h",
              concurrency: "replace",
              deadline: "168h",
              on: { resource: { version: "v1", resource: "configmaps" } },
              steps: [{ name: "s", log: { message: "x" } }],
            },
          ],
        },
      }),
      "hooks.yaml",
    );
    expect(hookSet.hooks[0]).toMatchObject({ concurrency: "replace", deadlineMs: 168 * 3_600_000 });
    expect(hookSet.runner.retention).toEqual({ ttlMs: 24 * 3_600_000, keepPerHook: 5 });
    expect(hookSet.celCostLimit).toBe(5000);
  });

  it("grants the runner exactly its HookRun and HookMemory verbs in its own namespace, and no Leases", () => {
    const rbac = generate(example).find((f) => f.path === "manifests/runner-rbac.yaml")!.objects as Array<{
      kind: string;
      metadata: { namespace?: string };
      rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    }>;
    const rules = rbac
      .filter((o) => o.kind === "Role" && o.metadata.namespace === "argo-events")
      .flatMap((r) => r.rules ?? []);
    expect(rules.filter((r) => r.apiGroups[0] === "resource-hooks.io")).toEqual([
      {
        apiGroups: ["resource-hooks.io"],
        resources: ["hookmemories"],
        verbs: ["get", "list", "watch", "create", "patch"],
      },
      {
        apiGroups: ["resource-hooks.io"],
        resources: ["hookruns"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
      { apiGroups: ["resource-hooks.io"], resources: ["hookruns/status"], verbs: ["get", "update", "patch"] },
    ]);
    expect(JSON.stringify(rbac)).not.toContain("leases");
    const memory = generate(
      hookSetFrom(
        [
          {
            name: "h",
            on: { resource: { version: "v1", resource: "configmaps" } },
            steps: [{ name: "s", log: { message: "x" } }],
          },
        ],
        { runner: { store: "memory" } },
      ),
    );
    const memoryRbac = JSON.stringify(memory.find((f) => f.path === "manifests/runner-rbac.yaml")!.objects);
    expect(memoryRbac).not.toContain("hookruns");
    expect(memoryRbac).not.toContain("hookmemories");
  });
});

describe("deploying with kustomize (issue 11)", () => {
  const kustomization = (files: ReturnType<typeof generate>, path: string) =>
    files.find((f) => f.path === path)!.objects[0] as Record<string, unknown>;

  it("the manifests kustomization sets no namespace: Roles in other namespaces keep theirs", () => {
    const k = kustomization(generate(example), "manifests/kustomization.yaml");
    expect(k).not.toHaveProperty("namespace");
    const roles = generate(example)
      .flatMap((f) => f.objects)
      .filter((o) => (o as { kind: string }).kind === "Role") as Array<{ metadata: { namespace: string } }>;
    expect(new Set(roles.map((r) => r.metadata.namespace))).toEqual(new Set(["argo-events", "web", "argocd"]));
  });

  it("a root kustomization deploys everything: manifests, the EventSource and the Sensor", () => {
    expect(kustomization(generate(example), "kustomization.yaml")).toEqual({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: ["manifests", "eventsources/web.yaml", "sensors/web.yaml"],
    });
  });

  it("every object carries the managed-by label, and all but the shared CRD the hookset label", () => {
    for (const o of generate(example).flatMap((f) => f.objects) as Array<{
      kind: string;
      metadata?: { labels?: Record<string, string> };
    }>) {
      if (o.kind === "Kustomization") continue;
      expect(o.metadata?.labels?.["app.kubernetes.io/managed-by"], o.kind).toBe("resource-hooks");
      if (o.kind !== "CustomResourceDefinition")
        expect(o.metadata?.labels?.["resource-hooks.io/hookset"], o.kind).toBe("web");
    }
  });

  it("two HookSets in one namespace share no object name but the CRD; each Sensor posts to its own runner's Service", () => {
    const hooks = [
      {
        name: "h",
        on: { resource: { version: "v1", resource: "configmaps" } },
        steps: [{ name: "s", log: { message: "x" } }],
      },
    ];
    const names = (name: string) =>
      new Set(
        generate(hookSetFrom(hooks, { metadata: { name } }))
          .flatMap((f) => f.objects)
          .filter((o) => (o as { kind: string }).kind !== "Kustomization")
          .map((o) => {
            const x = o as { kind: string; metadata: { name: string; namespace?: string } };
            return `${x.kind}/${x.metadata.namespace ?? ""}/${x.metadata.name}`;
          }),
      );
    const a = names("alpha");
    const shared = [...names("beta")].filter((n) => a.has(n));
    expect(shared).toEqual([
      "CustomResourceDefinition//hookruns.resource-hooks.io",
      "CustomResourceDefinition//hookmemories.resource-hooks.io",
    ]);
    expect(a).toContain("Service/argo-events/alpha-runner");
    const sensor = generate(hookSetFrom(hooks, { metadata: { name: "alpha" } }))
      .flatMap((f) => f.objects)
      .find((o) => (o as { kind: string }).kind === "Sensor");
    expect(JSON.stringify(sensor)).toContain(
      '"url":"http://alpha-runner.argo-events.svc:8080/namespaces/argo-events/hooksets/alpha/watches/',
    );
  });

  it("refuses a hooks.yaml that does not fit a ConfigMap, naming the limit and the size", () => {
    const big = { ...example, source: "x".repeat(1024 * 1024) };
    expect(() => generate(big)).toThrow(
      /hooks\.yaml is 1048576 bytes; .* at most 1 MiB \(1048576 bytes, less its metadata\)/,
    );
  });
});

describe("spec.serviceAccountName", () => {
  const hooks = [
    {
      name: "h",
      on: { resource: { version: "v1", resource: "configmaps", namespace: "web" } },
      steps: [{ name: "s", log: { message: "x" } }],
    },
  ];
  const withAccount = (name?: string) =>
    parseHookSet(
      stringify({
        apiVersion: "resource-hooks.io/v1alpha1",
        kind: "HookSet",
        metadata: { name: "web" },
        spec: { ...(name ? { serviceAccountName: name } : {}), hooks },
      }),
      "hooks.yaml",
    );

  it("runs the EventSource as the named ServiceAccount and grants it nothing", () => {
    const files = generate(withAccount("team-hooks"));
    const eventSource = files.find((f) => f.path.startsWith("eventsources/"))!.objects[0] as EventSource;
    expect(eventSource.spec.template).toEqual({ serviceAccountName: "team-hooks" });
    expect(files.map((f) => f.path)).not.toContain("manifests/eventsource-rbac.yaml");
    const kustomization = files.find((f) => f.path === "manifests/kustomization.yaml")!.objects[0] as {
      resources: string[];
    };
    expect(kustomization.resources).not.toContain("eventsource-rbac.yaml");
  });

  it("without it, generates <name>-eventsource with exactly the watch rights", () => {
    const files = generate(withAccount());
    const eventSource = files.find((f) => f.path.startsWith("eventsources/"))!.objects[0] as EventSource;
    expect(eventSource.spec.template).toEqual({ serviceAccountName: "web-eventsource" });
    expect(files.map((f) => f.path)).toContain("manifests/eventsource-rbac.yaml");
  });

  it("must be a ServiceAccount name", () => {
    expect(() => withAccount("Team_Hooks")).toThrow(/spec\.serviceAccountName: .*lowercase DNS subdomain/);
  });
});
