// The request of a Sensor's trigger as a resource event: a CloudEvent 1.0 in binary mode (ce-*
// headers, the data as the body) or structured mode (the whole event as JSON), whose data is what
// the EventSource's resource watch sends. Anything else is an HttpError (400) saying what is wrong.
import type { IncomingHttpHeaders } from "node:http";
import { Ajv } from "ajv";
import type { ResourceEvent } from "../trigger/index.js";
import type { ResourceEventData } from "../trigger/event.js";
import { httpError } from "./http-errors.js";

/** Deeper JSON is refused before it is parsed: nothing downstream recurses without a bound. */
export const MAX_JSON_DEPTH = 128;

const dataValidator = new Ajv({ allErrors: false, allowUnionTypes: true }).compile({
  type: "object",
  required: ["type", "body", "oldBody", "group", "version", "resource"],
  properties: {
    type: { enum: ["ADD", "UPDATE", "DELETE"] },
    body: { type: ["object", "null"] },
    oldBody: { type: ["object", "null"] },
    group: { type: "string" },
    version: { type: "string" },
    resource: { type: "string" },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
});

/**
 * CloudEvents 1.0 attributes, in either mode: the required ones are non-empty strings,
 * extensions are string, integer or boolean. Binary mode validates its ce-* headers with the same
 * schema. (The CloudEvents SDK's HTTP.toEvent validated nothing: it took specversion 2.0 and
 * replaced an unparsable ce-time with the time of receipt.)
 */
const attributesValidator = new Ajv({ allErrors: false, allowUnionTypes: true }).compile({
  type: "object",
  required: ["specversion", "id", "source", "type"],
  properties: {
    specversion: { const: "1.0" },
    id: { type: "string", minLength: 1 },
    source: { type: "string", minLength: 1 },
    type: { type: "string", minLength: 1 },
    subject: { type: "string" },
    time: { type: "string" },
    datacontenttype: { type: "string" },
    dataschema: { type: "string" },
    data: {},
    data_base64: { type: "string" },
  },
  additionalProperties: { type: ["string", "integer", "boolean"] },
});

interface EventContext {
  id: string;
  source: string;
  subject: string | undefined;
  type: string;
  time: string | undefined;
}

/** The first schema error as "<path> <message>", for a reason. */
function firstError(errors: typeof dataValidator.errors): string {
  const first = errors?.[0];
  return first ? `${first.instancePath || "(root)"} ${first.message ?? "is invalid"}` : "invalid";
}

/** Why the attributes are not a CloudEvent 1.0's: `where` names the attribute as the request spelt it. */
function attributeError(attributes: unknown, where: (attribute: string) => string): string {
  const first = attributesValidator.errors?.[0];
  if (!first) return "invalid";
  const attribute = first.instancePath.slice(1);
  const at = attribute ? where(attribute) : "the attributes";
  if (first.keyword === "const") {
    const given = (attributes as Record<string, unknown>)[attribute];
    return `${at} must be ${JSON.stringify(first.params.allowedValue)}, got ${JSON.stringify(given)}`;
  }
  return `${at} ${first.message ?? "is invalid"}`;
}

const REQUIRED_BINARY_HEADERS = ["ce-specversion", "ce-id", "ce-source", "ce-type"];

/**
 * The request's CloudEvent, binary or structured mode; HttpError (400) when it is not one.
 * `distinct` (the request's headersDistinct) shows a ce-* header given twice, which Node's
 * `headers` would join into one value ("a, b").
 */
export function parseEvent(
  headers: IncomingHttpHeaders,
  body: string,
  distinct: NodeJS.Dict<string[]> = {},
): ResourceEvent {
  const contentType = String(headers["content-type"] ?? "").toLowerCase();
  if (contentType.startsWith("application/cloudevents-batch")) throw httpError("batch_not_accepted");
  if (contentType.startsWith("application/cloudevents")) return parseStructured(body);
  const missing = REQUIRED_BINARY_HEADERS.filter((h) => !headers[h]);
  if (missing.length > 0) throw httpError("not_a_cloudevent", missing);
  if (!/^application\/(.+\+)?json\b/.test(contentType)) throw httpError("wrong_content_type", contentType);
  const repeated = Object.entries(distinct).find(([name, values]) => name.startsWith("ce-") && values!.length > 1);
  if (repeated)
    throw httpError(
      "invalid_cloudevent",
      `header ${repeated[0]} is given ${repeated[1]!.length} times: a CloudEvent attribute has one value`,
    );
  const attributes = binaryAttributes(headers);
  if (!attributesValidator(attributes))
    throw httpError(
      "invalid_cloudevent",
      attributeError(attributes, (a) => `header ce-${a}`),
    );
  const ce = attributes as { id: string; source: string; subject?: string; type: string; time?: string };
  return toResourceEvent(
    { id: ce.id, source: ce.source, subject: ce.subject, type: ce.type, time: ce.time },
    parseJson(body, "event data"),
  );
}

/** Binary mode: every ce-* header is an attribute (CloudEvents HTTP protocol binding, binary content mode). */
function binaryAttributes(headers: IncomingHttpHeaders): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const name in headers) {
    if (name.length > 3 && name.startsWith("ce-")) attributes[name.slice(3)] = headers[name];
  }
  return attributes;
}

function parseStructured(body: string): ResourceEvent {
  const envelope = parseJson(body, "the CloudEvent");
  if (!attributesValidator(envelope))
    throw httpError(
      "invalid_cloudevent",
      attributeError(envelope, (a) => `/${a}`),
    );
  const ce = envelope as unknown as Record<string, unknown>;
  let data: unknown = ce.data;
  if (typeof ce.data_base64 === "string")
    data = parseJson(Buffer.from(ce.data_base64, "base64").toString("utf8"), "data_base64");
  else if (typeof data === "string") data = parseJson(data, "data");
  return toResourceEvent(
    {
      id: ce.id as string,
      source: ce.source as string,
      subject: ce.subject as string | undefined,
      type: ce.type as string,
      time: ce.time as string | undefined,
    },
    data,
  );
}

function toResourceEvent(context: EventContext, data: unknown): ResourceEvent {
  let time: string | undefined;
  if (context.time !== undefined) {
    const ms = Date.parse(context.time);
    if (Number.isNaN(ms))
      throw httpError(
        "invalid_cloudevent",
        `time ${JSON.stringify(context.time.slice(0, 60))} is not an RFC 3339 timestamp`,
      );
    time = new Date(ms).toISOString();
  }
  if (!dataValidator(data)) throw httpError("not_a_resource_event", firstError(dataValidator.errors));
  return {
    context: {
      id: context.id,
      source: context.source,
      subject: context.subject ?? "",
      type: context.type,
      ...(time ? { time } : {}),
    },
    data: data as ResourceEventData,
  };
}

/** Whether `text` has more than `limit` opening brackets (native indexOf, no per-character loop). */
function openBracketsExceed(text: string, limit: number): boolean {
  let count = 0;
  for (const bracket of ["{", "["]) {
    for (let at = text.indexOf(bracket); at >= 0; at = text.indexOf(bracket, at + 1)) if (++count > limit) return true;
  }
  return false;
}

/** JSON.parse after a linear scan that refuses nesting deeper than MAX_JSON_DEPTH. */
function parseJson(text: string, what: string): unknown {
  // Nesting deeper than the limit needs more brackets than the limit: most bodies skip the scan.
  if (!openBracketsExceed(text, MAX_JSON_DEPTH)) return parseChecked(text, what);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) throw httpError("too_deep", what, MAX_JSON_DEPTH);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return parseChecked(text, what);
}

function parseChecked(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw httpError("invalid_json", what, (err as Error).message);
  }
}
