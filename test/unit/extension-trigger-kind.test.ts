// The README's promise for trigger kinds, kept honest: a copy of src/ gets a throwaway kind in a
// folder of its own and ONE line in its registry, nothing else, and then the hooks.yaml schema
// and validation, the generator (watch and Lua filter row), the runner's Acceptor and explain
// all handle it. Any of those paths that still names the kinds it knows fails here. The copy runs
// in one child process through tsx, as a user's checkout would.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

/**
 * A kind that fires on every event of its watch, built only on what src/trigger shares. (Its
 * trigger type is exported, as the registry asks: the declarations tsc emits name it.)
 */
const ALWAYS_KIND = `
import type { CompiledExpression } from "../../expr/cel.js";
import type { WatchSelector } from "../../hookset/types.js";
import { objectOf } from "../event.js";
import { eventData, eventId, eventScope, fires, objectRef, skips, withWhen } from "../evaluation.js";
import type { TriggerKind } from "../kind.js";

export interface AlwaysTrigger {
  kind: "always";
  watch: WatchSelector;
  when?: CompiledExpression;
}
type AlwaysDocument = {
  always: { group?: string; version: string; resource: string; namespace?: string };
  when?: string;
};

const alwaysKind: TriggerKind<AlwaysTrigger, AlwaysDocument> = {
  kind: "always",
  schema: {
    always: {
      type: "object",
      additionalProperties: false,
      required: ["version", "resource"],
      properties: {
        group: { type: "string" },
        version: { type: "string" },
        resource: { type: "string" },
        namespace: { type: "string" },
      },
    },
  },
  build(on, ctx) {
    const when = ctx.when();
    const { group = "", version, resource, namespace = "" } = on.always;
    return { kind: "always", watch: { group, version, resource, namespace, labels: {} }, ...(when ? { when } : {}) };
  },
  variables: ["object", "oldObject", "event"],
  evaluate(trigger, event) {
    const data = eventData(event);
    const object = objectOf(data.body);
    const subject = objectRef(object, data);
    const outcome = {
      identity: eventId(event),
      ...(subject ? { subject } : {}),
      scope: { object: object ?? null, oldObject: objectOf(data.oldBody) ?? null, event: eventScope(event) },
    };
    if (data.resource !== trigger.watch.resource) return skips(outcome, "wrong_resource", "not the watched resource");
    return withWhen(trigger, fires(outcome, "always fires on " + String(data.type), "keep"), "keep");
  },
  eventTypes: () => ["ADD", "UPDATE", "DELETE"],
  permissions: () => [],
  luaFilter: { name: "always", source: "local function always(h, t, obj, old)\\n  return h.every == true\\nend" },
  filterRow: () => ({ every: true }),
  selectorParts: (_trigger, metadata) => [
    { part: "anything", wants: "any object", actual: String(metadata.name), matches: true },
  ],
  describe: () => "every event, always",
};

export default alwaysKind;
`;

/** Runs in the copy: every path that reaches the kinds, reported as JSON. */
const CHECK = `
import { pino } from "pino";
import { stringify } from "yaml";
import { explain, formatExplanation } from "./src/explain/index.js";
import { generate } from "./src/generate/index.js";
import { parseHookSet, SpecError } from "./src/hookset/load.js";
import { hookSetSchema } from "./src/hookset/schema.js";
import { Acceptor } from "./src/runner/accept.js";
import { RunIndex } from "./src/runner/run-index.js";
import { MemoryRunStore } from "./src/runner/store/memory.js";
import { eventFor } from "./src/simulate.js";

const settings = (data: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", namespace: "web", uid: "u-1", resourceVersion: "7" },
  data: { mode: data },
});
const hookSetOf = (always: unknown) =>
  stringify({
    apiVersion: "resource-hooks.io/v1alpha1",
    kind: "HookSet",
    metadata: { name: "ext", namespace: "argo-events" },
    spec: {
      runner: { store: "memory" },
      hooks: [
        {
          name: "every",
          on: { always, when: 'object.metadata.name == "settings"' },
          steps: [{ name: "say", log: { message: "changed: {{ object.metadata.name }}" } }],
        },
        {
          name: "data",
          on: { resource: { version: "v1", resource: "configmaps", namespace: "web" }, changed: ["data"] },
          steps: [{ name: "say", log: { message: "data" } }],
        },
      ],
    },
  });

const out: Record<string, unknown> = {};
const schema = hookSetSchema() as any;
out.onKeys = Object.keys(schema.properties.spec.properties.hooks.items.properties.on.properties);
out.onDescription = schema.properties.spec.properties.hooks.items.properties.on.description;
try {
  parseHookSet(hookSetOf({ version: "v1", resource: "configmaps", bogus: true }), "hooks.yaml");
} catch (err) {
  out.refused = err instanceof SpecError ? err.message : String(err);
}
const hookSet = parseHookSet(hookSetOf({ version: "v1", resource: "configmaps", namespace: "web" }), "hooks.yaml");
out.kinds = hookSet.hooks.map((h) => h.trigger.kind);

const files = generate(hookSet);
const objectOf = (path: string) => files.find((f) => f.path === path)?.objects[0] as any;
out.eventSource = objectOf("eventsources/ext.yaml");
out.scripts = objectOf("sensors/ext.yaml").spec.dependencies.map((d: any) => d.filters?.script);

const store = new MemoryRunStore();
const acceptor = new Acceptor({
  hookSet,
  store,
  index: new RunIndex(store),
  namespace: "argo-events",
  logger: pino({ level: "silent" }),
});
// The same state again: the resource hook sees no change, the new kind fires anyway.
const accepted = await acceptor.accept(
  hookSet.hooks,
  eventFor({ type: "UPDATE", object: settings("a"), oldObject: settings("a") }, "e1"),
);
out.accepted = accepted.runs.map((r) => ({ hook: r.hook, phase: r.phase, created: r.created }));
out.skipped = accepted.skipped.map((s) => s.hook);

const api = {
  async request<T>(_method: string, path: string): Promise<T> {
    if (path === "/api/v1/namespaces/web/configmaps/settings") return settings("a") as T;
    return { items: [] } as T;
  },
};
const explanation = await explain({ hookSet, hook: "every", object: "web/settings", api });
out.explanation = explanation;
out.text = formatExplanation(explanation);
console.log(JSON.stringify(out));
`;

interface Report {
  onKeys: string[];
  onDescription: string;
  refused: string;
  kinds: string[];
  eventSource: unknown;
  scripts: string[];
  accepted: Array<{ hook: string; phase: string; created: boolean }>;
  skipped: string[];
  explanation: {
    watches: string;
    selector: unknown[];
    decision: { fires: boolean; reason: string } | null;
  };
  text: string;
}

describe("a new trigger kind is one folder and one registry line", () => {
  let dir = "";
  let report: Report;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "resource-hooks-kind-"));
    cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
    cpSync(join(root, "package.json"), join(dir, "package.json"));
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
    mkdirSync(join(dir, "src/trigger/always"));
    writeFileSync(join(dir, "src/trigger/always/index.ts"), ALWAYS_KIND);

    // The one line: after the last entry of the registry, an entry of the same shape.
    const registryPath = join(dir, "src/trigger/registry.ts");
    const lines = readFileSync(registryPath, "utf8").split("\n");
    const entry = /^(\s*)\(await import\("\.\/[a-z]+\/index\.js"\)\)\.default,$/;
    const last = lines.map((line) => entry.test(line)).lastIndexOf(true);
    expect(last).toBeGreaterThan(0);
    const indent = entry.exec(lines[last]!)![1]!;
    lines.splice(last + 1, 0, `${indent}(await import("./always/index.js")).default,`);
    writeFileSync(registryPath, lines.join("\n"));

    writeFileSync(join(dir, "check.ts"), CHECK);
    const r = await promisify(execFile)(process.execPath, ["--import", "tsx", join(dir, "check.ts")], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    report = JSON.parse(r.stdout) as Report;
    // One child process through tsx: slow on a loaded machine, the timeout only guards a hang.
  }, 60_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the schema offers the kind's fields under on, and validation accepts and refuses by its schema", () => {
    expect(report.onKeys).toContain("always");
    expect(report.onDescription).toMatch(/^What fires the hook: exactly one of .+ or always\.$/);
    expect(report.refused).toContain("spec.hooks[0].on.always");
    expect(report.refused).toContain("bogus");
    expect(report.kinds).toEqual(["always", "resource"]);
  });

  it("the generator emits its watch and its row and function in the watch's Lua filter", () => {
    expect(report.eventSource).toMatchObject({
      spec: { resource: { "configmaps-web": { group: "", version: "v1", resource: "configmaps", namespace: "web" } } },
    });
    // one watch and its changes stream, both with the watch's filter
    expect(report.scripts).toHaveLength(2);
    expect(report.scripts[1]).toBe(report.scripts[0]);
    const script = report.scripts[0]!;
    expect(script).toContain("local function always(h, t, obj, old)");
    expect(script).toContain("local fns = {always=always, resource=resource}");
    expect(script).toContain('{fn="always",every=true}');
  });

  it("the runner's Acceptor fires it", () => {
    expect(report.accepted).toEqual([{ hook: "every", phase: "Pending", created: true }]);
    expect(report.skipped).toEqual(["data"]);
  });

  it("explain describes its watch and selection in the kind's words, and decides with its evaluate()", () => {
    expect(report.explanation.watches).toBe(
      'v1/configmaps in web, every event, always, when object.metadata.name == "settings"',
    );
    expect(report.explanation.selector).toEqual([
      { part: "namespace", wants: "web", actual: "web", matches: true },
      { part: "anything", wants: "any object", actual: "settings", matches: true },
    ]);
    expect(report.explanation.decision).toMatchObject({ fires: true, reason: "always fires on ADD, and when holds" });
    expect(report.text).toContain("hook every: v1/configmaps in web, every event, always");
  });
});
