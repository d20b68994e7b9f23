// Checks of a resource trigger that its schema accepts but that can never do what the author
// meant: a group written into version:, a selector no object can match (selector-checks.ts), a
// changed path that can never match a field.
import { formatPath, parseFieldPath, PathSyntaxError, type PathSegment } from "../../hookset/paths.js";
import type { TriggerCheckContext } from "../kind.js";
import { checkResourceSelector } from "./selector-checks.js";
import type { ResourceDocument } from "./types.js";

/** Runs whenever a hook gives `resource`. */
export function checkResource(on: ResourceDocument, ctx: TriggerCheckContext): void {
  checkVersion(on, ctx);
  checkResourceSelector(on, ctx);
  checkChangedPaths(on, ctx);
}

/** `version: apps/v1`: the group belongs in group:. */
function checkVersion(on: ResourceDocument, ctx: TriggerCheckContext): void {
  const version = on.resource.version;
  if (typeof version !== "string" || !version.includes("/")) return;
  const slash = version.lastIndexOf("/");
  const group = version.slice(0, slash);
  const plain = version.slice(slash + 1);
  const given = on.resource.group;
  const also = given !== undefined && given !== group ? ` (group: is ${JSON.stringify(given)})` : "";
  ctx.report(
    [...ctx.at, "resource", "version"],
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
function checkChangedPaths(on: ResourceDocument, ctx: TriggerCheckContext): void {
  const resource = on.resource;
  if (!Array.isArray(on.changed)) return;
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
      ctx.report(
        [...ctx.at, "changed", i],
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
