// Checks of hooks.yaml that the schema accepts but that can never do what the author meant:
// a group written into version:, a changed path that can never match a field, a credential
// written inline in a header, a wait that its step's timeout always cuts short. Each reports at
// the offending value through the Reporter (file:line:column, path, what to write instead).
import { formatPath, parseFieldPath, PathSyntaxError, type PathSegment } from "./paths.js";
import { formatDuration, parseDuration } from "./duration.js";
import type { Reporter, Segment } from "./problems.js";
import type { HookDocument } from "./types.js";

/** `version: apps/v1`: the group belongs in group:. */
export function checkResourceVersion(on: HookDocument["on"], onAt: Segment[], reporter: Reporter): void {
  const version = on.resource?.version;
  if (typeof version !== "string" || !version.includes("/")) return;
  const slash = version.lastIndexOf("/");
  const group = version.slice(0, slash);
  const plain = version.slice(slash + 1);
  const given = on.resource?.group;
  const also = given !== undefined && given !== group ? ` (group: is ${JSON.stringify(given)})` : "";
  reporter.at(
    [...onAt, "resource", "version"],
    `expected a version such as v1, got "${version}"${also}: write group: ${group}, version: ${plain}`,
  );
}

/** Fields whose values are maps of strings: a path may not go deeper than one key below them. */
const STRING_MAPS: Array<{ root: string[]; applies: (resource: { group: string; resource: string }) => boolean }> = [
  { root: ["data"], applies: (r) => r.group === "" && (r.resource === "configmaps" || r.resource === "secrets") },
  { root: ["binaryData"], applies: (r) => r.group === "" && r.resource === "configmaps" },
  { root: ["stringData"], applies: (r) => r.group === "" && r.resource === "secrets" },
  { root: ["metadata", "labels"], applies: () => true },
  { root: ["metadata", "annotations"], applies: () => true },
];

/** Not a field name as Kubernetes APIs spell them (letters, digits, _ and $). */
const NOT_IDENTIFIER = /^(?![A-Za-z_$][A-Za-z0-9_$]*$)/;

/**
 * `data.feature-flags.json` reads the key "feature-flags", then its field "json": a ConfigMap's
 * data values are strings, so that path never matches and the hook never fires. Refused with the
 * quoted form the author meant: data["feature-flags.json"]. The same below labels and
 * annotations, and for any resource below `data` when a key is not a field name (a file name).
 */
export function checkChangedPaths(on: HookDocument["on"], onAt: Segment[], reporter: Reporter): void {
  const resource = on.resource;
  if (!resource || !Array.isArray(on.changed)) return;
  const selected = { group: resource.group ?? "", resource: resource.resource };
  on.changed.forEach((source, i) => {
    let segments: readonly PathSegment[];
    try {
      segments = parseFieldPath(source).segments;
    } catch (err) {
      if (err instanceof PathSyntaxError) return; // reported where the trigger is built
      throw err;
    }
    const tail = dottedTail(source, segments);
    if (!tail) return;
    for (const { root, applies } of STRING_MAPS) {
      if (!applies(selected) || !startsWith(segments, root)) continue;
      const keys = segments.slice(root.length);
      if (keys.length <= 1 || tail.from > root.length) continue;
      report(root, keys, "inside its value, which is a string: it never matches");
      return;
    }
    // Any resource: below `data`, a key that is not a field name followed by more dotted keys.
    if (segments[0] === "data" && tail.from <= 1 && segments.length > 2 && NOT_IDENTIFIER.test(String(segments[1]))) {
      report(
        ["data"],
        segments.slice(1),
        `inside it, but "${String(segments[1])}" is no field name: a key of data, whose dots are part of the key`,
      );
    }
    function report(root: readonly string[], keys: readonly PathSegment[], why: string): void {
      const meant = `${formatPath(root)}[${JSON.stringify(keys.join("."))}]`;
      const what = root.join(".");
      reporter.at(
        [...onAt, "changed", i],
        `"${source}" reads key "${String(keys[0])}" of ${what}, then field "${String(keys[1])}" ${why}. ` +
          `For a key with dots write ${meant}`,
      );
    }
  });
}

function startsWith(segments: readonly PathSegment[], root: readonly string[]): boolean {
  return root.every((key, i) => segments[i] === key);
}

/**
 * Where the path's run of plain dotted keys (no [..], no indexes) ends at the end of the path: the
 * index of its first segment, or undefined when the path does not end in two or more dotted keys.
 */
function dottedTail(source: string, segments: readonly PathSegment[]): { from: number } | undefined {
  if (source.includes("[")) {
    // Only the part after the last "]" is dotted keys.
    const after = source.slice(source.lastIndexOf("]") + 1);
    const count = after.split(".").filter(Boolean).length;
    return count >= 2 ? { from: segments.length - count } : undefined;
  }
  return segments.length >= 2 ? { from: 0 } : undefined;
}

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
