// The runner's own manifests: Deployment, Service, RBAC, the ConfigMap carrying hooks.yaml and
// a placeholder token Secret, written only on request (generate's createTokenSecret; the runner
// refuses to start with the placeholder).
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Secret,
  V1Service,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { HookSet } from "../hookset/types.js";
import { stepTypeByName } from "../steps/registry.js";
import type { PermissionNeed } from "../steps/types.js";
import { eventTypesOf, resyncs, triggerKind, watchesOf } from "../trigger/index.js";
import {
  ANNOTATION_CONFIG_HASH,
  HOOKMEMORY_PLURAL,
  HOOKRUN_GROUP,
  HOOKRUN_PLURAL,
  RUNNER_PORT,
} from "../model/constants.js";
import { shortHash } from "../model/hash.js";
import { hookSetLabels, runnerConfigMapName, runnerName, runnerService } from "../model/names.js";
import { rbacFor, type RbacObject } from "./rbac.js";

export const PLACEHOLDER_TOKEN = "Bearer replace-me-with-a-random-token";
export const SECRETS_DIR = "/etc/resource-hooks/secrets";
const CONFIG_DIR = "/etc/resource-hooks/config";
const TOKEN_DIR = "/etc/resource-hooks/token";

/** The pod of every runner, generated or installed: a non-root user, the runtime's seccomp profile. */
export const RUNNER_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  seccompProfile: { type: "RuntimeDefault" },
};
export const RUNNER_CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/**
 * The runner container's resources. Node sizes V8's heap from the memory limit (a 256 MiB old
 * generation under 512Mi), and the e2e harness runs the runner under the same limit.
 */
export const RUNNER_RESOURCES = { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "512Mi" } } as const;

/** What every runner container has: its pod's name and namespace, its port and its probes. */
export function runnerContainerBasics(): Pick<V1Container, "env" | "ports" | "readinessProbe" | "livenessProbe"> {
  return {
    env: [
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ],
    ports: [{ name: "http", containerPort: RUNNER_PORT }],
    readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
  };
}

export type RunnerObject = RbacObject | V1Deployment | V1Service | V1ConfigMap | V1Secret;

/** Everything the runner's ServiceAccount needs: its triggers, resyncs, steps, HookRuns and their Events. */
export function runnerNeeds(hookSet: HookSet): PermissionNeed[] {
  const needs: PermissionNeed[] = [];
  for (const hook of hookSet.hooks) {
    const { watch } = hook.trigger;
    needs.push(...triggerKind(hook.trigger).permissions(hook.trigger));
    for (const step of hook.steps) {
      const stepType = stepTypeByName(step.type);
      if (stepType?.permissions) needs.push(...stepType.permissions(step.config, { watch }));
    }
  }
  // The resync lists what a watch whose UPDATEs come on one stream watches (runner/resync.ts).
  for (const plan of watchesOf(hookSet).values()) {
    if (!resyncs(eventTypesOf(plan))) continue;
    const { group, resource, namespace } = plan.selector;
    needs.push({ group, resource, ...(namespace ? { namespace } : {}), verbs: ["list"] });
  }
  if (hookSet.runner.store === "kubernetes") {
    const namespace = hookSet.namespace;
    needs.push(
      {
        group: HOOKRUN_GROUP,
        resource: HOOKRUN_PLURAL,
        namespace,
        verbs: ["get", "list", "watch", "create", "delete", "patch", "update"],
      },
      { group: HOOKRUN_GROUP, resource: `${HOOKRUN_PLURAL}/status`, namespace, verbs: ["get", "patch", "update"] },
      // The hooks' memory: listed at start, written as resourceVersion-conditional merge patches.
      {
        group: HOOKRUN_GROUP,
        resource: HOOKMEMORY_PLURAL,
        namespace,
        verbs: ["get", "list", "watch", "create", "patch"],
      },
      // An Event on the HookRun when a run ends.
      { group: "", resource: "events", namespace, verbs: ["create", "patch"] },
    );
  }
  return needs;
}

function referencedSecrets(hookSet: HookSet): string[] {
  const names = new Set<string>();
  for (const hook of hookSet.hooks) {
    for (const step of hook.steps) {
      for (const ref of stepTypeByName(step.type)?.secrets?.(step.config) ?? []) names.add(ref.name);
    }
  }
  return [...names].sort();
}

export function buildRunnerManifests(hookSet: HookSet): RunnerObject[] {
  const service = runnerService(hookSet);
  // The Deployment, its ServiceAccount and roles carry the HookSet's name, so two HookSets in one
  // namespace never collide; the Service keeps the name spec.runner.url gives it.
  const runner = runnerName(hookSet);
  const labels = {
    ...hookSetLabels(hookSet),
    "app.kubernetes.io/name": "resource-hooks",
    "app.kubernetes.io/instance": runner,
  };
  const selector = { "app.kubernetes.io/name": "resource-hooks", "app.kubernetes.io/instance": runner };
  const namespace = hookSet.namespace;
  const configMap: V1ConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: runnerConfigMapName(hookSet), namespace, labels },
    data: { "hooks.yaml": hookSet.source },
  };
  const tokenSecret: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: hookSet.runner.tokenSecret.name, namespace, labels },
    type: "Opaque",
    stringData: { [hookSet.runner.tokenSecret.key]: PLACEHOLDER_TOKEN },
  };
  const secretVolumes: V1Volume[] = referencedSecrets(hookSet).map((name) => ({
    name: `secret-${name}`,
    secret: { secretName: name },
  }));
  const secretMounts: V1VolumeMount[] = referencedSecrets(hookSet).map((name) => ({
    name: `secret-${name}`,
    mountPath: `${SECRETS_DIR}/${name}`,
    readOnly: true,
  }));
  const configHash = shortHash(hookSet.source, 16);
  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: runner, namespace, labels },
    spec: {
      replicas: hookSet.runner.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: { [ANNOTATION_CONFIG_HASH]: configHash } },
        spec: {
          serviceAccountName: runner,
          automountServiceAccountToken: true,
          securityContext: RUNNER_POD_SECURITY,
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: "runner",
              image: hookSet.runner.image,
              args: [
                "serve",
                "-f",
                `${CONFIG_DIR}/hooks.yaml`,
                "--port",
                String(RUNNER_PORT),
                "--token-file",
                `${TOKEN_DIR}/${hookSet.runner.tokenSecret.key}`,
                "--secrets-dir",
                SECRETS_DIR,
                "--store",
                hookSet.runner.store,
              ],
              ...runnerContainerBasics(),
              resources: RUNNER_RESOURCES,
              securityContext: RUNNER_CONTAINER_SECURITY,
              volumeMounts: [
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                { name: "token", mountPath: TOKEN_DIR, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                ...secretMounts,
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: runnerConfigMapName(hookSet) } },
            { name: "token", secret: { secretName: hookSet.runner.tokenSecret.name } },
            { name: "tmp", emptyDir: {} },
            ...secretVolumes,
          ],
        },
      },
    },
  };
  const svc: V1Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service.name, namespace, labels },
    spec: { selector, ports: [{ name: "http", port: service.port, targetPort: "http" }] },
  };
  return [
    ...rbacFor({ name: runner, namespace }, runnerNeeds(hookSet), labels),
    configMap,
    tokenSecret,
    deployment,
    svc,
  ];
}
