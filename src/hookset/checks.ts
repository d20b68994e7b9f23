// Checks of hooks.yaml that the schema accepts but that can never do what the author meant:
// a credential written inline in a header, a wait that its step's timeout always cuts short (the
// trigger kinds check their own fields, src/trigger/<kind>). Each reports at the offending value
// through the Reporter (file:line:column, path, what to write instead).
import { formatDuration, parseDuration } from "./duration.js";
import type { Reporter, Segment } from "./problems.js";

/** Header names whose values are credentials (the name says so). */
const SECRET_HEADER = new RegExp(
  "^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$" +
    "|token|secret|key|auth|passw|credential|session|signature",
  "i",
);

/**
 * A credential written inline in a header goes into Git, the runner's ConfigMap and every
 * `generate` output. Refused like credentials in a URL: a secret reference or a template is
 * fine. The value is never echoed.
 */
export function checkInlineHeaders(config: unknown, configAt: Segment[], reporter: Reporter): void {
  for (const { path, headers } of headerMaps(config, [])) {
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== "string" || value.includes("{{") || !SECRET_HEADER.test(name)) continue;
      reporter.at(
        [...configAt, ...path, name],
        `the ${name} header is written inline, and a credential in hooks.yaml ends up in Git and in the ` +
          `runner's ConfigMap: give {secretKeyRef: {name, key}} or {env: NAME} ` +
          `(with prefix: "Bearer " if the value needs one)`,
      );
    }
  }
}

const DATA_FIELDS = new Set(["manifest", "body", "patch", "inputs", "clientPayload"]);

function* headerMaps(
  value: unknown,
  path: Segment[],
): Generator<{ path: Segment[]; headers: Record<string, unknown> }> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* headerMaps(value[i], [...path, i]);
    return;
  }
  if (!value || typeof value !== "object") return;
  for (const [key, child] of Object.entries(value)) {
    if (key === "headers" && child && typeof child === "object" && !Array.isArray(child))
      yield { path: [...path, key], headers: child as Record<string, unknown> };
    // A manifest or a request body is data the step sends, not headers it sets.
    else if (!DATA_FIELDS.has(key)) yield* headerMaps(child, [...path, key]);
  }
}

/**
 * A `timeout` inside a step (waitFor's, kubernetes' wait.timeout) longer than the step's own
 * timeout never takes effect: the attempt is stopped at the step's timeout first.
 */
export function checkInnerTimeouts(
  config: unknown,
  configAt: Segment[],
  stepTimeoutMs: number,
  stepTimeoutGiven: boolean,
  reporter: Reporter,
): void {
  for (const { path, text } of innerTimeouts(config, [])) {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch {
      continue; // the schema reports a malformed duration
    }
    if (ms <= stepTimeoutMs) continue;
    const step = stepTimeoutGiven
      ? `the step's timeout: ${formatDuration(stepTimeoutMs)}`
      : `the step's default timeout of ${formatDuration(stepTimeoutMs)}`;
    reporter.at(
      [...configAt, ...path],
      `waits up to ${text}, longer than ${step}, which stops the step first: ` +
        `set the step's timeout: to at least ${text}, or wait less`,
    );
  }
}

function* innerTimeouts(value: unknown, path: Segment[]): Generator<{ path: Segment[]; text: string }> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === "timeout" && typeof child === "string") yield { path: [...path, key], text: child };
    else if (!DATA_FIELDS.has(key)) yield* innerTimeouts(child, [...path, key]);
  }
}
