// The parts of Argo Events v1.9 EventSource and Sensor that resource-hooks writes. No maintained
// TypeScript model of Argo Events exists on npm; test/e2e/argo-schema.e2e.test.ts checks every
// generated object against Argo Events' own JSON schema, unknown fields included.
import type { V1ObjectMeta } from "@kubernetes/client-node";

export interface ArgoSelector {
  key: string;
  operation?: string;
  value: string;
}

export interface ResourceEventSourceEntry {
  namespace: string;
  group: string;
  version: string;
  resource: string;
  eventTypes: ("ADD" | "UPDATE" | "DELETE")[];
  filter?: { labels?: ArgoSelector[] };
}

export interface EventSource {
  apiVersion: "argoproj.io/v1alpha1";
  kind: "EventSource";
  metadata: V1ObjectMeta;
  spec: {
    eventBusName?: string;
    template?: { serviceAccountName?: string };
    resource: Record<string, ResourceEventSourceEntry>;
  };
}

export interface TriggerParameter {
  src: { dependencyName: string; contextKey?: string; dataKey?: string; useRawData?: boolean };
  dest: string;
}

export interface SensorTrigger {
  template: {
    name: string;
    /** The dependency expression this trigger waits for (one dependency name here). */
    conditions: string;
    http: {
      url: string;
      method: "POST";
      headers: Record<string, string>;
      dynamicHeaders: TriggerParameter[];
      secureHeaders: { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }[];
      payload: TriggerParameter[];
      timeout: number;
    };
  };
  atLeastOnce: boolean;
  retryStrategy: { steps: number; duration: string; factor: number; jitter: number };
  policy: { status: { allow: number[] } };
}

export interface Sensor {
  apiVersion: "argoproj.io/v1alpha1";
  kind: "Sensor";
  metadata: V1ObjectMeta;
  spec: {
    eventBusName?: string;
    dependencies: {
      name: string;
      eventSourceName: string;
      eventName: string;
      filters: { script: string };
    }[];
    triggers: SensorTrigger[];
  };
}
