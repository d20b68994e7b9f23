// The README a newcomer reads top to bottom stays short, and every relative link of the README and
// docs/ reaches a file (and, with #anchor, a heading of it, as GitHub spells anchors).
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseHookSet } from "../../src/hookset/load.js";

const ROOT = path.join(import.meta.dirname, "../..");
const files = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const withoutCode = (text: string) => text.replace(/```[\s\S]*?```/g, "");

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to "-", repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutCode(readFileSync(file, "utf8")).matchAll(/^#{1,6} (.+)$/gm)) {
    let slug = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    if (n) slug += `-${n}`;
    out.add(slug);
  }
  return out;
}

describe("the documentation", () => {
  it("keeps the README to what a newcomer reads in five minutes (at most 250 lines)", () => {
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(250);
  });

  it("has no broken relative link in the README or docs/", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      // Inline code is no link, even when it looks like one.
      const text = withoutCode(readFileSync(path.join(ROOT, file), "utf8")).replace(/`[^`\n]*`(?!\])/g, (c) =>
        c.replace(/[[\]()]/g, " "),
      );
      for (const m of text.matchAll(/\[([^\]]*)\]\(([^)\s]+)\)/g)) {
        const target = m[2]!;
        if (/^[a-z]+:/.test(target)) continue;
        checked++;
        const [p, anchor] = target.split("#");
        const dest = p ? path.join(ROOT, path.dirname(file), p) : path.join(ROOT, file);
        if (!existsSync(dest)) broken.push(`${file}: ${target}: no such file`);
        else if (anchor !== undefined && (statSync(dest).isDirectory() || !anchors(dest).has(anchor)))
          broken.push(`${file}: ${target}: no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});

describe("README's HookSet resource", () => {
  it("is examples/hookset.yaml, which validates, read as kubectl reads it (YAML 1.1) with its `on` key", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("\n## On a cluster\n"), readme.indexOf("\n## Quickstart\n"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const file = readFileSync(path.join(ROOT, "examples/hookset.yaml"), "utf8");
    expect(parse(block, { version: "1.1" })).toEqual(parse(file, { version: "1.1" }));
    const hook = (parse(file, { version: "1.1" }) as { spec: { hooks: Array<Record<string, unknown>> } }).spec
      .hooks[0]!;
    expect(Object.keys(hook)).toContain("on");
    expect(parseHookSet(file, "examples/hookset.yaml").hooks.map((h) => h.name)).toEqual(["notify-on-image-change"]);
  });
});
