// The log step, the registry, and every step schema: compiled by ajv and checked against the
// YAML examples of the README reference (valid ones pass, broken ones fail).
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { logStep } from "../../../src/steps/log/index.js";
import { hookSetSchema } from "../../../src/hookset/schema.js";
import { stepTypeByName, stepTypes } from "../../../src/steps/registry.js";
import { makeContext } from "./helpers.js";

describe("log", () => {
  it("logs the rendered message at the level", async () => {
    const { ctx, logLines } = makeContext({ scope: { object: { metadata: { name: "web" } } } });
    const outcome = await logStep.execute(
      { message: "{{ object.metadata.name }} changed", level: "warn", fields: { who: "{{ object.metadata.name }}" } },
      ctx,
    );
    expect(outcome.output).toEqual({ level: "warn", message: "web changed" });
    expect(logLines().at(-1)).toMatchObject({ level: 40, msg: "web changed", who: "web" });
    await logStep.execute({ message: "plain" }, ctx);
    expect(logLines().at(-1)).toMatchObject({ level: 30, msg: "plain" });
  });
});

const EXAMPLES: Record<string, string[]> = {
  http: [
    `
method: POST
url: https://hooks.example.com/deployed/{{ object.metadata.name }}
headers:
  Authorization: {secretKeyRef: {name: example-api, key: token}, prefix: "Bearer "}
  X-Cluster: prod
body:
  name: "{{ object.metadata.name }}"
  image: "{{ object.spec.template.spec.containers[0].image }}"
expectStatus: [2xx, 409]
`,
  ],
  kubernetes: [
    `
action: create
manifest:
  apiVersion: batch/v1
  kind: Job
  metadata:
    generateName: migrate-
    namespace: "{{ object.metadata.namespace }}"
  spec:
    backoffLimit: 0
    template:
      spec:
        restartPolicy: Never
        containers:
          - name: migrate
            image: "{{ object.spec.template.spec.containers[0].image }}"
            args: [migrate]
wait: {for: complete, timeout: 10m}
`,
    `
action: apply
manifest:
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: last-deploy, namespace: prod}
  data:
    image: "{{ object.spec.template.spec.containers[0].image }}"
`,
    `
action: patch
manifest:
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web-canary, namespace: prod}
patch:
  merge:
    spec:
      template:
        metadata:
          annotations:
            example.com/restartedAt: "{{ event.time }}"
wait: {for: rollout}
`,
    `
action: patch
manifest: {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: prod}}
patch:
  json:
    - {op: replace, path: /spec/replicas, value: 3}
`,
    `
action: delete
manifest: {apiVersion: batch/v1, kind: Job, metadata: {name: "smoke-{{ object.metadata.name }}", namespace: prod}}
wait: {for: deleted, timeout: 2m}
`,
  ],
  waitFor: [
    `
for: rollout
timeout: 10m
`,
    `
apiVersion: batch/v1
kind: Job
name: "{{ steps.migrate.output.name }}"
for: {condition: {type: Complete}}
`,
    `
apiVersion: v1
kind: Pod
namespace: prod
name: smoke
for: {expression: "object.status.phase == 'Succeeded'"}
`,
  ],
  githubWorkflow: [
    `
owner: acme
repo: site
workflow: deploy.yml
ref: main
inputs:
  image: "{{ object.spec.template.spec.containers[0].image }}"
token: {secretKeyRef: {name: github, key: token}}
`,
    `
dispatch: repository
owner: acme
repo: site
eventType: deployment-changed
clientPayload:
  name: "{{ object.metadata.name }}"
token: {env: GITHUB_TOKEN}
`,
  ],
  slack: [
    `
webhookUrl: {secretKeyRef: {name: slack, key: webhook-url}}
text: ":rocket: {{ object.metadata.namespace }}/{{ object.metadata.name }} rolled out"
`,
  ],
  cdnPurge: [
    `
provider: cloudflare
zoneId: 023e105f4ecef8ad9ca31a8372d0c353
files: ["https://shop.example.com/", "https://shop.example.com/{{ object.metadata.name }}"]
token: {secretKeyRef: {name: cloudflare, key: token}}
`,
    `
provider: fastly
serviceId: SU1Z0isxPaozGVKXdv0eY
keys: ["product-{{ object.metadata.name }}"]
soft: true
token: {secretKeyRef: {name: fastly, key: token}}
`,
    `
provider: cloudfront
distributionId: EDFDVBD6EXAMPLE
paths: ["/index.html", "/assets/*"]
accessKeyId: {secretKeyRef: {name: aws, key: access-key-id}}
secretAccessKey: {secretKeyRef: {name: aws, key: secret-access-key}}
`,
  ],
  log: [
    `
message: "{{ object.kind }} {{ object.metadata.name }} changed"
level: warn
`,
  ],
};

const BROKEN: Record<string, string[]> = {
  http: [
    "url: https://x.example.com\nmethod: FETCH",
    "url: https://x.example.com\nheaders: {A: {secretKeyRef: {name: s}}}",
    "url: https://x.example.com\nextra: 1",
  ],
  kubernetes: [
    "action: upsert\nmanifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}",
    "action: apply\nmanifest: {apiVersion: '{{ x }}', kind: ConfigMap, metadata: {name: a}}",
    "action: patch\nmanifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\npatch: {merge: {}, json: []}",
  ],
  waitFor: ["for: soon", "kind: Job\nfor: complete", "for: rollout\ntimeout: ten minutes"],
  githubWorkflow: [
    "owner: a\nrepo: b\nworkflow: x.yml\nref: main\ntoken: ghp_inline",
    "dispatch: repository\nowner: a\nrepo: b\ntoken: {env: T}",
  ],
  slack: ["webhookUrl: https://hooks.slack.com/services/x\ntext: hi"],
  cdnPurge: [
    "provider: akamai\ntoken: {env: T}",
    "provider: cloudfront\ndistributionId: E1\npaths: [/a]\naccessKeyId: {env: A}",
  ],
  log: ["message: hi\nlevel: debug"],
};

describe("schemas", () => {
  const ajv = new Ajv({ strict: false, allErrors: true });

  it("registers every step type once", () => {
    expect(stepTypes.map((t) => t.type)).toEqual([
      "http",
      "kubernetes",
      "waitFor",
      "githubWorkflow",
      "slack",
      "cdnPurge",
      "log",
    ]);
    expect(stepTypeByName("cdnPurge")).toBe(stepTypes[5]);
    expect(stepTypeByName("nope")).toBeUndefined();
  });

  for (const stepType of stepTypes) {
    it(`${stepType.type}: compiles with ajv, accepts the examples and rejects broken configs`, () => {
      const validate = ajv.compile(stepType.schema);
      expect(stepType.schema.description).toEqual(expect.any(String));
      for (const example of EXAMPLES[stepType.type] ?? []) {
        const config = parse(example) as unknown;
        expect(validate(config), `${example}\n${JSON.stringify(validate.errors)}`).toBe(true);
        expect(stepType.check?.(config) ?? [], example).toEqual([]);
      }
      for (const broken of BROKEN[stepType.type] ?? []) {
        const config = parse(broken) as unknown;
        const schemaOk = validate(config);
        const problems = schemaOk ? (stepType.check?.(config) ?? []) : [];
        expect(!schemaOk || problems.length > 0, broken).toBe(true);
      }
    });
  }

  it("the whole hooks.yaml schema compiles in ajv's strict mode (no unknown keywords but patternErrorMessage)", () => {
    // patternErrorMessage is the editors' (VS Code, yaml-language-server) message for a pattern.
    const strict = new Ajv({ strict: true, allowUnionTypes: true });
    strict.addKeyword("patternErrorMessage");
    expect(() => strict.compile(hookSetSchema())).not.toThrow();
  });
});
