// Every invalid example under test/fixtures/invalid names its exact expected messages in
// `# expect:` lines; the loader must produce exactly those, in order.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseHookSet, SpecError } from "../../src/spec/load.js";
import { stepTypes } from "../../src/steps/registry.js";

const dir = join(import.meta.dirname, "../fixtures/invalid");
const stepTypeList = stepTypes.map((t) => t.type).join(", ");

describe("invalid hooks.yaml", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
    it(file, () => {
      const text = readFileSync(join(dir, file), "utf8");
      const expected = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!.replace("STEP_TYPES", stepTypeList));
      expect(expected.length).toBeGreaterThan(0);
      let error: unknown;
      try {
        parseHookSet(text, "hooks.yaml");
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).message.split("\n")).toEqual(expected);
    });
  }
});
