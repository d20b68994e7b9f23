// One Sensor per hook set: per stream of a watch (its own entry and its changes stream: see
// eventsource.ts) one dependency, filtered by the data-driven Lua filter of the watch's hooks
// (compiled in src/trigger), and one HTTP trigger that posts a binary-mode CloudEvent to the
// runner's /namespaces/<namespace>/hooksets/<hook set>/watches/<watch> (watchPath); a changes
// stream that hooks of several selectors share has one per shard of its objects (changesShards).
// Argo Events runs each trigger's events in order on a goroutine of its own, so a watch's streams
// and shards move independently. The runner evaluates every hook of the watch and answers once it
// has persisted the runs, so the trigger's timeout is short and independent of how long hooks run.
import type { HookSet } from "../hookset/types.js";
import { changesShards, watchFilter } from "../trigger/index.js";
import type { Sensor, SensorTrigger, TriggerParameter } from "./argo-types.js";
import type { Stream } from "../trigger/index.js";
import { watchStreams, type Watch } from "./eventsource.js";
import {
  changesStreamName,
  eventSourceName,
  hookSetLabels,
  sensorName,
  streamShardName,
  watchPath,
} from "../model/names.js";

/** Seconds the Sensor waits for the runner to accept an event: persisting runs takes milliseconds. */
export const TRIGGER_TIMEOUT_SECONDS = 10;

/**
 * Retries when the runner could not persist (5xx, timeout, unreachable): 5s, 10s … 160s between
 * the 7 attempts, about 5 minutes, enough for a runner rollout or a brief API server outage.
 */
export const TRIGGER_RETRY = { steps: 7, duration: "5s", factor: 2, jitter: 0.2 } as const;

/** CloudEvent attributes (binary mode) taken from the Argo Events event context. */
const CONTEXT_HEADERS: Array<[header: string, contextKey: string]> = [
  ["ce-id", "id"],
  ["ce-source", "source"],
  ["ce-type", "type"],
  ["ce-subject", "subject"],
  ["ce-time", "time"],
];

/**
 * The runner endpoint of one watch of a hook set: the route carries the HookSet's namespace, so
 * one runner can serve every HookSet of a cluster and two of one name never share a route.
 */
export function watchUrl(hookSet: HookSet, watchName: string): string {
  return `${hookSet.runner.url}${watchPath(hookSet, watchName)}`;
}

/** A Sensor dependency on a stream, and the trigger that posts its events. */
interface Dependency {
  name: string;
  /** The EventSource entry it reads. */
  eventName: string;
  script: string;
}

/**
 * A stream's dependencies: on a watch's changes stream one per shard (trigger/watch.ts
 * changesShards), each passing its share of the objects; otherwise one.
 */
function dependencies(watch: Watch, stream: Stream): Dependency[] {
  const shards = stream.eventName === changesStreamName(watch.eventName) ? changesShards(watch) : 1;
  return Array.from({ length: shards }, (_, index) => ({
    name: streamShardName(stream.eventName, index),
    eventName: stream.eventName,
    script: watchFilter(watch, shards > 1 ? { index, of: shards } : undefined),
  }));
}

function trigger(hookSet: HookSet, watch: Watch, dependency: string): SensorTrigger {
  const dynamicHeaders: TriggerParameter[] = CONTEXT_HEADERS.map(([dest, contextKey]) => ({
    src: { dependencyName: dependency, contextKey },
    dest,
  }));
  return {
    template: {
      name: dependency,
      // Without conditions a trigger waits for ALL dependencies of the Sensor (argo-events
      // v1.9.11 pkg/sensors/listener.go getDependencyExpression joins them with &&).
      conditions: dependency,
      http: {
        url: watchUrl(hookSet, watch.eventName),
        method: "POST",
        // No body in the answer: Argo Events never reads it, and only then can Go reuse the
        // connection (runner/http-answer.ts prefersMinimal).
        headers: { "Content-Type": "application/json", "ce-specversion": "1.0", Prefer: "return=minimal" },
        dynamicHeaders,
        secureHeaders: [{ name: "Authorization", valueFrom: { secretKeyRef: { ...hookSet.runner.tokenSecret } } }],
        // dest "" makes this value the whole body; "@this" is the event data itself.
        payload: [{ src: { dependencyName: dependency, dataKey: "@this", useRawData: true }, dest: "" }],
        timeout: TRIGGER_TIMEOUT_SECONDS,
      },
    },
    // Only a failed trigger is retried or left unacknowledged; the status policy makes every
    // answer but 200/202 a failure, and the runner answers 5xx only when it could not persist.
    atLeastOnce: true,
    retryStrategy: { ...TRIGGER_RETRY },
    policy: { status: { allow: [200, 202] } },
  };
}

export function buildSensor(hookSet: HookSet, watches: Map<string, Watch>): Sensor {
  const list = [...watches.values()].map((watch) => ({
    watch,
    dependencies: watchStreams(watch).flatMap((stream) => dependencies(watch, stream)),
  }));
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Sensor",
    metadata: { name: sensorName(hookSet), namespace: hookSet.namespace, labels: hookSetLabels(hookSet) },
    spec: {
      ...(hookSet.eventBusName !== "default" ? { eventBusName: hookSet.eventBusName } : {}),
      dependencies: list.flatMap(({ dependencies }) =>
        dependencies.map((d) => ({
          name: d.name,
          eventSourceName: eventSourceName(hookSet),
          eventName: d.eventName,
          filters: { script: d.script },
        })),
      ),
      triggers: list.flatMap(({ watch, dependencies }) => dependencies.map((d) => trigger(hookSet, watch, d.name))),
    },
  };
}
