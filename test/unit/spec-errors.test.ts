// Every invalid example under test/fixtures/invalid names its exact expected messages in
// `# expect:` lines; the loader must produce exactly those, in order.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadHookSetFile, parseHookSet, SpecError } from "../../src/hookset/load.js";
import { stepTypes } from "../../src/steps/registry.js";

const dir = join(import.meta.dirname, "../fixtures/invalid");
const stepTypeList = stepTypes.map((t) => t.type).join(", ");

describe("invalid hooks.yaml", () => {
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()) {
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

// Files that are not one YAML document of text: the location and words are exact, and the
// bytes of a binary file are never echoed.
describe("files that are not one hooks.yaml", () => {
  const messages = (run: () => unknown): string[] => {
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(SpecError);
      return (err as SpecError).message.split("\n");
    }
    throw new Error("expected a SpecError");
  };
  const dir = mkdtempSync(join(tmpdir(), "rh-spec-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, bytes: Uint8Array | string): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it("an empty file, or one of blanks and comments, is 'the file is empty'", () => {
    const empty =
      "hooks.yaml:1:1: the file is empty: expected a HookSet (apiVersion: resource-hooks.io/v1alpha1, kind: HookSet)";
    expect(messages(() => parseHookSet("", "hooks.yaml"))).toEqual([empty]);
    expect(messages(() => parseHookSet("\n  \n# only a comment\n---\n", "hooks.yaml"))).toEqual([empty]);
    const path = file("empty.yaml", "");
    expect(messages(() => loadHookSetFile(path))).toEqual([
      `${path}:1:1: the file is empty: expected a HookSet (apiVersion: resource-hooks.io/v1alpha1, kind: HookSet)`,
    ]);
  });

  it("a binary file is 'not a text file' at its first non-text byte, without its bytes", () => {
    // A gzip header: invalid UTF-8 at byte 1 (0x8b).
    const gz = file("hooks.yaml.gz", Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef]));
    const [gzMessage, ...rest] = messages(() => loadHookSetFile(gz));
    expect(rest).toEqual([]);
    expect(gzMessage).toBe(`${gz}:1:2: not a text file: hooks.yaml is YAML in UTF-8 (byte 1 is not valid UTF-8)`);
    // Valid UTF-8 with a NUL on the third line: located by line and column.
    const nul = file(
      "nul.yaml",
      "apiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: \u0000\u0001\u0002}\n",
    );
    expect(messages(() => loadHookSetFile(nul))).toEqual([
      `${nul}:3:18: not a text file: hooks.yaml is YAML in UTF-8 (a control character, U+0000, is not allowed in YAML)`,
    ]);
    // Non-UTF-8 after some text: the position counts the text before it.
    const latin1 = file(
      "latin1.yaml",
      Buffer.concat([Buffer.from("kind: HookSet\n# caf"), Buffer.from([0xe9]), Buffer.from("\n")]),
    );
    expect(messages(() => loadHookSetFile(latin1))).toEqual([
      `${latin1}:2:6: not a text file: hooks.yaml is YAML in UTF-8 (byte 19 is not valid UTF-8)`,
    ]);
  });

  it("several YAML documents: refused at the second, with the count", () => {
    const one =
      "apiVersion: resource-hooks.io/v1alpha1\nkind: HookSet\nmetadata: {name: a}\nspec: {runner: {url: http://a-runner.argo-events.svc:8080}, hooks: [{name: h, on: {resource: {version: v1, resource: configmaps}}, steps: [{name: s, log: {message: hi}}]}]}\n";
    expect(messages(() => parseHookSet(`${one}---\n${one}`, "hooks.yaml"))).toEqual([
      'hooks.yaml:5:1: a second YAML document starts here (the file has 2): hooks.yaml holds exactly one HookSet; put each HookSet in a file of its own, or remove the "---" line',
    ]);
    // A leading "---" and a trailing one are one document.
    expect(parseHookSet(`---\n${one}---\n`, "hooks.yaml").hooks).toHaveLength(1);
  });
});

describe("what the new checks let through", () => {
  it("headers in a request body or a manifest are data; waits within their step's timeout; a when over data", () => {
    const text = `apiVersion: resource-hooks.io/v1alpha1
kind: HookSet
metadata: {name: web}
spec:
  runner: {url: http://web-runner.argo-events.svc:8080}
  hooks:
    - name: h
      on:
        resource: {group: apps, version: v1, resource: deployments}
        changed: ['data["feature-flags.json"]', spec.replicas, metadata.labels.team]
        when: object.spec.replicas
      steps:
        - name: call
          http:
            url: https://deploy.example.com/hook
            headers: {X-Auth-Token: "{{ object.metadata.annotations.token }}", Authorization: {secretKeyRef: {name: a, key: b}, prefix: "Bearer "}}
            body: {headers: {Authorization: "Bearer in-a-body-is-data"}}
        - name: cm
          timeout: 5m
          kubernetes:
            action: apply
            manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: web}, data: {headers: "X-Api-Key: 1"}}
            wait: {for: {expression: "true"}, timeout: 5m}
`;
    expect(parseHookSet(text, "hooks.yaml").hooks[0]!.steps).toHaveLength(2);
  });
});
