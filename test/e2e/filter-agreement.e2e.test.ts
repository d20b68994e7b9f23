// The Sensor's Lua filter of each watch (one table row per hook), run by Argo Events v1.9.11's
// own filter code, against evaluate() over a generated corpus of realistic changes: the Sensor
// must pass every event that fires a hook of the watch or that a hook learns its memory from
// (ADD baselines, forgetting on DELETE), and, where Lua can decide (UPDATEs of hooks without `when`), reject
// exactly the others.
import { describe, expect, it } from "vitest";
import { evaluate, watchesOf, watchFilter } from "../../src/trigger/index.js";
import type { KubeObject, ResourceEvent } from "../../src/trigger/event.js";
import type { Hook, HookSet } from "../../src/hookset/types.js";
import { loadHookSetFile } from "../../src/hookset/load.js";
import { filtercheckBinary, runArgoFilters } from "../engine/filtercheck.js";
import { application, appUpdate, resourceResult } from "../helpers/applications.js";
import { CONFIGMAPS, configMap, deployment, DEPLOYMENTS, event, updateEvent } from "../helpers/objects.js";
import { hookSetFrom } from "../helpers/spec.js";

/** A small deterministic PRNG (mulberry32), so the corpus is the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(20261124);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const chance = (p: number) => rand() < p;

type Mutation = (o: KubeObject) => void;
const spec = (o: KubeObject) =>
  o.spec as {
    replicas: number;
    paused?: unknown;
    template: { spec: { containers: Array<{ image: string; args?: string[] }> } };
  };
const deploymentMutations: Array<[string, Mutation, boolean]> = [
  // [name, mutation, bumps generation]
  [
    "image",
    (o) => (spec(o).template.spec.containers[0]!.image = `registry.example/frontend:1.${Math.floor(rand() * 9)}.0`),
    true,
  ],
  ["sidecar-image", (o) => (spec(o).template.spec.containers[1]!.image = "registry.example/proxy:2.1"), true],
  ["replicas", (o) => (spec(o).replicas = 1 + Math.floor(rand() * 6)), true],
  [
    "args",
    (o) => (spec(o).template.spec.containers[1]!.args = ["--port", String(9000 + Math.floor(rand() * 9))]),
    true,
  ],
  ["paused-null", (o) => (spec(o).paused = null), false],
  ["label", (o) => (o.metadata!.labels = { ...o.metadata!.labels, tier: pick(["edge", "core"]) }), false],
  ["team-label", (o) => (o.metadata!.labels = { ...o.metadata!.labels, team: pick(["web", "shop"]) }), false],
  ["annotation", (o) => (o.metadata!.annotations = { ...o.metadata!.annotations, note: String(rand()) }), false],
  [
    "status",
    (o) =>
      (o.status = {
        ...(o.status as object),
        updatedReplicas: Math.floor(rand() * 3),
        readyReplicas: Math.floor(rand() * 3),
      }),
    false,
  ],
  [
    "observed",
    (o) => (o.status = { ...(o.status as object), observedGeneration: (o.metadata!.generation ?? 1) + 1 }),
    false,
  ],
];

function deploymentEvent(): ResourceEvent {
  const name = pick(["frontend", "frontend-canary", "backend"]);
  const namespace = pick(["web", "web", "shop"]);
  const labels = { app: name, team: pick(["web", "shop"]) };
  const before = deployment({ name, namespace, labels });
  const after = structuredClone(before);
  let bump = false;
  for (let i = 0; i < 1 + Math.floor(rand() * 3); i++) {
    const [, mutate, bumps] = pick(deploymentMutations);
    mutate(after);
    bump ||= bumps;
  }
  // A controller bumps generation on spec changes; sometimes it is missing altogether.
  if (bump) after.metadata!.generation = (before.metadata!.generation ?? 1) + 1;
  if (chance(0.05)) {
    delete before.metadata!.generation;
    delete after.metadata!.generation;
  }
  if (chance(0.08))
    return event("DELETE", chance(0.5) ? after : { Key: `${namespace}/${name}`, Obj: after }, DEPLOYMENTS);
  if (chance(0.08))
    return event("ADD", after, DEPLOYMENTS, chance(0.5) ? "2026-11-01T10:01:00Z" : "2026-11-24T12:00:00Z");
  return updateEvent(before, after, DEPLOYMENTS);
}

const X = { x: "y" };

function configMapEvent(): ResourceEvent {
  const name = pick(["app-config", "app-config-2", "other"]);
  const data: Record<string, string> = { "app.properties": "color=blue", other: "1" };
  const labelled = chance(0.3);
  const before = configMap({ ...data }, { name, namespace: pick(["web", "shop"]), ...(labelled ? { labels: X } : {}) });
  const after = structuredClone(before);
  const d = after.data as Record<string, string | null>;
  switch (pick(["change", "add", "remove", "other", "label", "none", "null"])) {
    case "change":
      d["app.properties"] = `color=${pick(["green", "red", "blue"])}`;
      break;
    case "add":
      d["new.key"] = "x";
      break;
    case "remove":
      delete d["app.properties"];
      break;
    case "other":
      d.other = String(Math.floor(rand() * 3));
      break;
    case "label":
      // gains or loses the label of the hooks that share the namespace's watch
      after.metadata!.labels = labelled ? { other: "z" } : X;
      break;
    case "null":
      d["app.properties"] = null;
      break;
    default:
      after.metadata!.resourceVersion = "9999";
  }
  if (chance(0.1))
    return event(
      pick(["ADD", "DELETE"] as const),
      after,
      CONFIGMAPS,
      chance(0.5) ? "2026-11-01T10:02:00Z" : "2026-11-24T12:00:00Z",
    );
  return updateEvent(before, after, CONFIGMAPS);
}

function applicationEvent(): ResourceEvent {
  const frontend = pick([
    resourceResult("Deployment", "frontend", "deployment.apps/frontend configured"),
    resourceResult("Deployment", "frontend", "deployment.apps/frontend unchanged"),
    resourceResult("Deployment", "frontend", "deployment.apps/frontend serverside-applied"),
    resourceResult("Deployment", "frontend", "deployment.apps/frontend created"),
    resourceResult("Deployment", "frontend", "pruned", { status: "Pruned" }),
    resourceResult("Deployment", "frontend", "invalid", { status: "SyncFailed" }),
    resourceResult("Job", "frontend", "job.batch/frontend created", { hookType: "PostSync" }),
  ]);
  const results = [
    frontend,
    resourceResult("Service", "frontend", pick(["service/frontend unchanged", "service/frontend configured"])),
  ];
  const phase = pick(["Succeeded", "Succeeded", "Failed", "Error", "Running"] as const);
  const name = pick(["web", "web", "shop"]);
  const revisions = chance(0.2)
    ? ["1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"]
    : undefined;
  const before = pick([
    application({ phase: "Running", name, ...(revisions ? { revisions } : {}) }),
    application({ phase: "Succeeded", name, results, ...(revisions ? { revisions } : {}) }),
    application({
      phase: "Succeeded",
      name,
      results,
      startedAt: "2026-11-24T11:00:00Z",
      finishedAt: "2026-11-24T11:00:05Z",
    }),
  ]);
  const after = application({
    phase,
    name,
    results,
    health: pick(["Healthy", "Progressing"]),
    ...(revisions ? { revisions } : {}),
  });
  return appUpdate(before, after);
}

const example = loadHookSetFile("examples/hooks.yaml");
const extra = hookSetFrom([
  {
    name: "any-deploy",
    on: { resource: { group: "apps", version: "v1", resource: "deployments" } },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "prefix",
    on: {
      resource: { group: "apps", version: "v1", resource: "deployments", namePrefix: "front" },
      events: ["add", "update", "delete"],
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "cm-any",
    on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, events: ["add", "update", "delete"] },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "cm-paths",
    on: {
      resource: { version: "v1", resource: "configmaps", name: "app-config" },
      changed: ['data["app.properties"]', "data.other"],
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  // Label selectors within cm-any's namespace: they share its watch, and gaining or losing the
  // label is an ADD or a DELETE to them (trigger/selection.ts).
  {
    name: "cm-labelled-add",
    on: { resource: { version: "v1", resource: "configmaps", namespace: "web", labels: X }, events: ["add"] },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "cm-labelled-paths",
    on: {
      resource: { version: "v1", resource: "configmaps", namespace: "web", labels: X },
      changed: ['data["app.properties"]'],
      events: ["update", "delete"],
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "cm-deletes",
    on: { resource: { version: "v1", resource: "configmaps", name: "other" }, events: ["delete"] },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "paused",
    on: {
      resource: { group: "apps", version: "v1", resource: "deployments" },
      changed: ["spec.paused", "spec.template.spec.containers"],
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "scaled-up",
    on: {
      resource: { group: "apps", version: "v1", resource: "deployments" },
      changed: ["spec.replicas"],
      when: "object.spec.replicas > oldObject.spec.replicas",
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
  {
    name: "argo-all",
    on: {
      argocd: {
        application: "web",
        resources: [{ kind: "Deployment", name: "frontend" }],
        changedOnly: false,
        phases: ["Succeeded", "Failed", "Error"],
      },
    },
    steps: [{ name: "s", log: { message: "x" } }],
  },
]);
const hookSet: HookSet = { ...example, hooks: [...example.hooks, ...extra.hooks] };
const watches = [...watchesOf(hookSet).values()];

describe("the Sensor's filter in Argo Events agrees with evaluate()", () => {
  it("over a generated corpus of changes, one filter per watch", () => {
    const binary = filtercheckBinary();
    const events = [
      ...Array.from({ length: 600 }, deploymentEvent),
      ...Array.from({ length: 300 }, configMapEvent),
      ...Array.from({ length: 300 }, applicationEvent),
    ];
    const cases: Array<{
      hooks: Hook[];
      event: ResourceEvent;
      fires: boolean;
      needed: boolean;
      transition: boolean;
      script: string;
    }> = [];
    let pairs = 0;
    for (const event of events) {
      for (const watch of watches) {
        const w = watch.selector;
        // The event source only sends a Sensor dependency the events of its watch.
        if (w.group !== event.data.group || w.resource !== event.data.resource) continue;
        // The runner remembers nothing yet: UPDATEs are judged on the change, ADDs as creations or baselines.
        const evaluations = watch.hooks.map((hook) => evaluate(hook.trigger, event, {}));
        pairs += evaluations.length;
        const fires = evaluations.some((e) => e.decision.fires);
        // ADD baselines and DELETE forgetting must reach the runner, also when a hook sees an
        // UPDATE of the shared watch as one (the object gained or lost its labels); an UPDATE that
        // fires nothing may stop in the Sensor even when the runner would remember it (that only
        // saves work).
        const seenAs = evaluations.map((e) => (e.scope.event as { kind?: unknown }).kind);
        const needed = fires || evaluations.some((e, i) => e.remember !== "keep" && seenAs[i] !== "UPDATE");
        const transition = seenAs.some((kind) => kind !== event.data.type);
        cases.push({ hooks: watch.hooks, event, fires, needed, transition, script: watchFilter(watch) });
      }
    }
    const results = runArgoFilters(
      binary,
      cases.map((c) => ({ script: c.script, data: c.event.data })),
    );
    let fired = 0;
    let passedMore = 0;
    const transitions = cases.filter((c) => c.transition).length;
    const disagreements: string[] = [];
    cases.forEach((c, i) => {
      const lua = results[i]!;
      if (c.fires) fired++;
      const names = c.hooks.map((h) => h.name).join(",");
      // Lua cannot evaluate `when`; ADDs and DELETEs of selected objects always pass (memory is the runner's).
      const luaMayPassMore = c.hooks.some((h) => h.trigger.when) || c.event.data.type !== "UPDATE" || c.transition;
      if (lua.error) disagreements.push(`${names}: Lua error ${lua.error}`);
      else if (c.needed && !lua.pass)
        disagreements.push(
          `${names}: a hook fires or must remember, but the Sensor drops it: ${JSON.stringify(c.event.data).slice(0, 300)}`,
        );
      else if (!c.needed && lua.pass) {
        if (luaMayPassMore) passedMore++;
        else
          disagreements.push(
            `${names}: the Sensor passes what no hook needs: ${JSON.stringify(c.event.data).slice(0, 300)}`,
          );
      }
    });
    console.log(
      `filter agreement: ${cases.length} (watch, event) pairs over ${pairs} (hook, event) pairs, ${fired} fire; the Sensor passed ${passedMore} more that only the runner can reject (when / ADD / DELETE); ${transitions} seen by a hook as an ADD or DELETE; ${disagreements.length} disagreements`,
    );
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(fired).toBeGreaterThan(100);
    expect(cases.length - fired).toBeGreaterThan(300);
    expect(transitions).toBeGreaterThan(50);
  });
});
