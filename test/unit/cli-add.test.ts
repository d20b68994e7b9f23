// `add` keeps every hook already in the file, in every layout a hooks.yaml can have: block and
// flow lists, JSON, comments, anchors and aliases. A property test over generated files in these
// layouts, the real CLI on the layouts that lost hooks before, and the write itself (one rename).
import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Document, isMap, isSeq, parse } from "yaml";
import { checkAppended, withHook } from "../../src/cli/append-hook.js";
import { parseHookSet } from "../../src/hookset/load.js";
import { cli } from "../helpers/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "rh-cli-add-styles-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Hook = { name: string; on: Record<string, unknown>; steps: Array<Record<string, unknown>> };

const hookSet = (hooks: Hook[]) => ({
  apiVersion: "resource-hooks.io/v1alpha1",
  kind: "HookSet",
  metadata: { name: "t" },
  spec: { runner: { url: "http://t-runner.argo-events.svc:8080" }, hooks },
});

const hookA: Hook = {
  name: "a",
  on: { resource: { version: "v1", resource: "configmaps" } },
  steps: [{ name: "s", log: { message: "x" } }],
};

const hooksOf = (text: string) => (parse(text) as { spec: { hooks: Hook[] } }).spec.hooks;

// Text YAML treats specially, anywhere in a value: indicators, comments, quotes, line breaks.
const awkward = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom("a: b", " # c", "- x", "{a}", "[1, 2]", "'q'", '"dq"', "multi\nline\n", "  lead", "trail  ", "*x"),
  fc.constantFrom("&x", "!tag", "%", "@", "`", "---", "...", "{{ object.metadata.name }}", "yes", "null", "0x10"),
);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const hookArb: fc.Arbitrary<Hook> = fc.record({
  name,
  on: fc.record(
    {
      resource: fc.record(
        { version: fc.constant("v1"), resource: fc.constant("configmaps"), name: awkward },
        {
          requiredKeys: ["version", "resource"],
        },
      ),
      changed: fc.array(awkward, { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ["resource"] },
  ),
  steps: fc.array(fc.record({ name, log: fc.record({ message: awkward }) }), { minLength: 1, maxLength: 3 }),
});

type Style = "block" | "flow-hooks" | "flow" | "json" | "comments" | "anchors" | "crlf" | "markers";

/** The file a user could have written for these hooks, in one layout. */
function render(hooks: Hook[], style: Style, indent: number, seed: number): string {
  if (style === "json") return JSON.stringify(hookSet(hooks), null, indent);
  if (style === "crlf") return render(hooks, "comments", indent, seed).replace(/\n/g, "\r\n");
  if (style === "markers") return `%YAML 1.2\n---\n${render(hooks, "comments", indent, seed)}...\n# after the end\n`;
  // Hooks that share their trigger object come out as an anchor and aliases (&a1 … *a1).
  const shared = style === "anchors" && hooks.length > 1 ? hooks.map((h) => ({ ...h, on: hooks[0]!.on })) : hooks;
  const doc = new Document(hookSet(shared), { aliasDuplicateObjects: style === "anchors" });
  const list = doc.getIn(["spec", "hooks"], true);
  if (style === "flow-hooks" && isSeq(list)) list.flow = true;
  if (style === "comments" && isSeq(list)) {
    doc.commentBefore = " my hooks";
    list.items.forEach((item, i) => {
      if ((seed + i) % 2 === 0 && isMap(item)) item.commentBefore = ` hook ${i}`;
      if ((seed + i) % 3 === 0 && isMap(item)) item.comment = " trailing";
    });
  }
  return doc.toString({ indent, ...(style === "flow" ? { collectionStyle: "flow" as const } : {}) });
}

describe("add keeps every earlier hook", () => {
  it("in block, flow, JSON, commented and anchored files: the earlier hooks read back equal, the new one last", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(hookArb, { maxLength: 4, selector: (h) => h.name }),
        hookArb,
        fc.constantFrom<Style>("block", "flow-hooks", "flow", "json", "comments", "anchors", "crlf", "markers"),
        fc.constantFrom(2, 4),
        fc.nat(),
        (hooks, added, style, indent, seed) => {
          const text = render(hooks, style, indent, seed);
          const before = hooksOf(text);
          const after = hooksOf(withHook(text, added));
          expect(after.slice(0, -1)).toEqual(before);
          expect(after.at(-1)).toEqual(added);
          if (style === "json") expect(() => JSON.parse(withHook(text, added)) as unknown).not.toThrow();
          // The new lines end as the file's do.
          if (style === "crlf") expect(withHook(text, added)).not.toMatch(/[^\r]\n/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the read-back refuses an edit that changed an earlier hook or anything but the list, naming it", () => {
    const before = new Document(hookSet([hookA, { ...hookA, name: "b" }])).toString();
    const added = { ...hookA, name: "c" };
    const changedA = new Document(hookSet([{ ...hookA, steps: [] }, { ...hookA, name: "b" }, added])).toString();
    expect(() => checkAppended(before, changedA, added)).toThrow("the edit would change spec.hooks[0]");
    const lost = new Document(hookSet([added])).toString();
    expect(() => checkAppended(before, lost, added)).toThrow("the edit would change spec.hooks[0]");
    const renamed = new Document({ ...hookSet([hookA, { ...hookA, name: "b" }, added]), kind: "X" }).toString();
    expect(() => checkAppended(before, renamed, added)).toThrow("the edit would change more than spec.hooks");
    const good = new Document(hookSet([hookA, { ...hookA, name: "b" }, added])).toString();
    expect(() => checkAppended(before, good, added)).not.toThrow();
  });
});

describe("the add command", { timeout: 120_000 }, () => {
  const flowText = [
    "apiVersion: resource-hooks.io/v1alpha1",
    "kind: HookSet",
    "metadata: {name: t}",
    "spec:",
    "  runner: {url: http://t-runner.argo-events.svc:8080}",
    "  hooks: [{name: a, on: {resource: {version: v1, resource: configmaps}}, steps: [{name: s, log: {message: x}}]}]",
    "",
  ].join("\n");
  const add = (file: string) => cli(["add", "-f", file, "--resource", "v1/configmaps", "--name", "c", "--log", "hi"]);

  it("a flow list keeps hook a and gets the new hook after it, every other byte as it was", () => {
    const file = join(tmp, "flow.yaml");
    writeFileSync(file, flowText);
    expect(add(file)).toEqual({ code: 0, stdout: `${file}: added hook c-configmaps\n`, stderr: "" });
    const updated = readFileSync(file, "utf8");
    expect(hooksOf(updated).map((h) => h.name)).toEqual(["a", "c-configmaps"]);
    const cut = flowText.indexOf("}]}]") + 3;
    expect(updated.slice(0, cut)).toBe(flowText.slice(0, cut));
    expect(updated.slice(cut)).toBe(
      ", {name: c-configmaps, on: {resource: {version: v1, resource: configmaps, name: c}}, " +
        "steps: [{name: log, log: {message: hi}}]}]\n",
    );
    expect(parseHookSet(updated, file).hooks.map((h) => h.name)).toEqual(["a", "c-configmaps"]);
  });

  it("a JSON file stays JSON, one hook per line as it had", () => {
    const file = join(tmp, "hooks.json");
    writeFileSync(file, `${JSON.stringify(hookSet([hookA]), null, 2)}\n`);
    expect(add(file).code).toBe(0);
    const updated = readFileSync(file, "utf8");
    const data = JSON.parse(updated) as { spec: { hooks: Hook[] } };
    expect(data.spec.hooks.map((h) => h.name)).toEqual(["a", "c-configmaps"]);
    expect(data.spec.hooks[0]).toEqual(hookA);
    expect(updated).toContain('    },\n      {\n        "name": "c-configmaps",');
  });

  it("writes through a rename: no temporary file left, a symlink still points at the file, the mode is kept", () => {
    const dir = mkdtempSync(join(tmp, "link-"));
    const real = join(dir, "real.yaml");
    const link = join(dir, "hooks.yaml");
    writeFileSync(real, flowText);
    chmodSync(real, 0o640);
    symlinkSync(real, link);
    expect(add(link).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(hooksOf(readFileSync(real, "utf8")).map((h) => h.name)).toEqual(["a", "c-configmaps"]);
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(["hooks.yaml", "real.yaml"]);
  });
});
