// One Sensor per hook: a dependency on the hook's watch, filtered by the hook's own trigger rules
// (compiled to Lua from src/trigger), and an HTTP trigger that posts a binary-mode CloudEvent to
// the runner's /hooks/<name>.
import type { Hook, HookSet } from "../spec/types.js";
import { sensorFilterScript } from "../trigger/index.js";
import type { Sensor, TriggerParameter } from "./argo-types.js";
import { eventSourceName, hookSetLabels, sensorName } from "./names.js";
import type { Watch } from "./eventsource.js";
import { watchKey } from "./names.js";

const DEPENDENCY = "change";
/** Headroom over the hook's own worst case for the runner's queueing and the response. */
const TRIGGER_TIMEOUT_MARGIN_S = 15;

/** CloudEvent attributes (binary mode) taken from the Argo Events event context. */
const CONTEXT_HEADERS: Array<[header: string, contextKey: string]> = [
  ["ce-id", "id"],
  ["ce-source", "source"],
  ["ce-type", "type"],
  ["ce-subject", "subject"],
  ["ce-time", "time"],
];

export function triggerTimeoutSeconds(hook: Hook): number {
  return Math.ceil(hook.timeoutMs / 1000) + TRIGGER_TIMEOUT_MARGIN_S;
}

export function buildSensor(hookSet: HookSet, hook: Hook, watches: Map<string, Watch>): Sensor {
  const watch = watches.get(watchKey(hook.trigger.watch));
  if (!watch) throw new Error(`internal: no watch planned for hook ${hook.name}`);
  const dynamicHeaders: TriggerParameter[] = CONTEXT_HEADERS.map(([dest, contextKey]) => ({
    src: { dependencyName: DEPENDENCY, contextKey },
    dest,
  }));
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Sensor",
    metadata: {
      name: sensorName(hookSet, hook.name),
      namespace: hookSet.namespace,
      labels: { ...hookSetLabels(hookSet), "resource-hooks.io/hook": hook.name },
    },
    spec: {
      ...(hookSet.eventBusName !== "default" ? { eventBusName: hookSet.eventBusName } : {}),
      dependencies: [
        {
          name: DEPENDENCY,
          eventSourceName: eventSourceName(hookSet),
          eventName: watch.eventName,
          filters: { script: sensorFilterScript(hook.trigger) },
        },
      ],
      triggers: [
        {
          template: {
            name: "run-hook",
            http: {
              url: `${hookSet.runner.url}/hooks/${hook.name}`,
              method: "POST",
              headers: { "Content-Type": "application/json", "ce-specversion": "1.0" },
              dynamicHeaders,
              secureHeaders: [{ name: "Authorization", valueFrom: { secretKeyRef: { ...hookSet.runner.tokenSecret } } }],
              // dest "" makes this value the whole body; "@this" is the event data itself.
              payload: [{ src: { dependencyName: DEPENDENCY, dataKey: "@this", useRawData: true }, dest: "" }],
              timeout: triggerTimeoutSeconds(hook),
            },
          },
          // Only a failed trigger is retried or left unacknowledged, and without a status policy
          // every HTTP response counts as success: the runner answers 200 only when the run is done.
          atLeastOnce: true,
          // 2s, 4s … 32s between attempts: about 60s, longer than a dead runner's claim on a run
          // (src/runner/store.ts CLAIM_SECONDS), so a retry reaches a replica that can resume it.
          retryStrategy: { steps: 6, duration: "2s", factor: 2, jitter: 0.2 },
          policy: { status: { allow: [200] } },
        },
      ],
    },
  };
}
