// Build the exact request the generated Sensor sends to the runner, for `resource-hooks send` and
// for users' own test suites (`import { resourceEventRequest } from "resource-hooks/testing"`).
// The CloudEvent is made by the CloudEvents SDK, in binary mode (as the Sensor sends it) or in
// structured mode, so what users' tests send is what a CloudEvents client makes; the runner's hot
// path keeps its own one-schema check and does not load the SDK.
import { randomUUID } from "node:crypto";
import { CloudEvent, HTTP } from "cloudevents";
import type { HookSet } from "../hookset/types.js";
import type { KubeObject, ResourceEventData } from "../trigger/event.js";
import { watchPath } from "../model/names.js";
import { watchesOf } from "../trigger/index.js";

export type { KubeObject, ResourceEventData } from "../trigger/event.js";

export interface ResourceEventInput {
  type?: "ADD" | "UPDATE" | "DELETE";
  /** The object after the change (for DELETE, the deleted object). */
  object: KubeObject;
  /** The object before the change; only for UPDATE. */
  oldObject?: KubeObject | null;
  group: string;
  version: string;
  resource: string;
  /** CloudEvent id; a redelivery of the same event keeps it. Default: a new UUID. */
  id?: string;
  /** The EventSource name (ce-source). */
  source?: string;
  /** The event name inside the EventSource (ce-subject). */
  subject?: string;
  time?: Date | string;
  /** binary (default, as the generated Sensor sends it): attributes in ce- headers; structured: one JSON document. */
  mode?: "binary" | "structured";
}

export interface HookRequest {
  headers: Record<string, string>;
  body: string;
  data: ResourceEventData;
}

/** A binary-mode CloudEvent, header for header what the generated Sensor's HTTP trigger sends. */
export function resourceEventRequest(input: ResourceEventInput, token?: string): HookRequest {
  const type = input.type ?? (input.oldObject ? "UPDATE" : "ADD");
  const data: ResourceEventData = {
    type,
    body: input.object,
    oldBody: type === "UPDATE" ? (input.oldObject ?? null) : null,
    group: input.group,
    version: input.version,
    resource: input.resource,
  };
  const time = input.time instanceof Date ? input.time.toISOString() : (input.time ?? new Date().toISOString());
  const event = new CloudEvent({
    specversion: "1.0",
    id: input.id ?? randomUUID(),
    source: input.source ?? "resource-hooks-send",
    type: "resource",
    subject: input.subject ?? `${input.resource}`,
    time,
    datacontenttype: "application/json",
    data,
  });
  const message = input.mode === "structured" ? HTTP.structured(event) : HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) headers[name.toLowerCase()] = String(value);
  if (token !== undefined) headers.authorization = /^bearer /i.test(token) ? token : `Bearer ${token}`;
  return { headers, body: String(message.body), data };
}

/** The path the generated Sensor posts a hook's events to: its hook set and the watch the hook uses. */
export function watchPathOf(hookSet: HookSet, hook: string): string {
  for (const [watch, { hooks }] of watchesOf(hookSet)) {
    if (hooks.some((h) => h.name === hook)) return watchPath(hookSet, encodeURIComponent(watch));
  }
  const hooks = hookSet.hooks.map((h) => h.name).join(", ");
  throw new Error(`no hook named ${JSON.stringify(hook)} in hook set ${hookSet.name}; hooks: ${hooks}`);
}

export interface AcceptAnswer {
  eventId: string;
  runs: Array<{ name: string; hook: string; phase: string; created: boolean; reason?: string }>;
  skipped: Array<{ hook: string; reason: string }>;
  skippedCount: number;
}

/** Sends the event to `<runnerUrl><path>` (see watchPathOf) and returns the status and parsed answer. */
export async function sendEvent(
  runnerUrl: string,
  path: string,
  request: HookRequest,
  signal?: AbortSignal,
): Promise<{ status: number; body: unknown }> {
  const url = `${runnerUrl.replace(/\/+$/, "")}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach the runner at ${url}: ${cause?.message ?? cause?.code ?? (err as Error).message}`, {
      cause: err,
    });
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}
