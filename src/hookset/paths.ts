// Field paths as users write them in `changed`: dots between keys, `[n]` list indexes, and
// `["key.with.dots"]` for keys that contain dots or other characters (ConfigMap data keys).
export type PathSegment = string | number;

export interface FieldPath {
  readonly source: string;
  readonly segments: readonly PathSegment[];
}

export class PathSyntaxError extends Error {
  override name = "PathSyntaxError";
}

const IDENT = /[A-Za-z0-9_$-]/;

export function parseFieldPath(source: string): FieldPath {
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new PathSyntaxError(`cannot parse field path ${JSON.stringify(source)}: ${what} at offset ${i}`);
  };
  if (source.length === 0) fail("empty path");
  let expectKey = true;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === "[") {
      i++;
      const quote = source[i];
      if (quote === '"' || quote === "'") {
        const end = source.indexOf(quote, i + 1);
        if (end < 0) fail(`unterminated ${quote}`);
        const key = source.slice(i + 1, end);
        i = end + 1;
        if (source[i] !== "]") fail('expected "]"');
        segments.push(key);
      } else {
        const match = /^\d+/.exec(source.slice(i));
        if (!match) fail('expected a list index or a quoted key after "["');
        i += match![0].length;
        if (source[i] !== "]") fail('expected "]"');
        segments.push(Number(match![0]));
      }
      i++;
      expectKey = false;
    } else if (ch === ".") {
      if (expectKey) fail("empty key");
      i++;
      expectKey = true;
      if (i === source.length) fail("empty key");
    } else if (IDENT.test(ch)) {
      if (!expectKey) fail('expected "." or "["');
      const start = i;
      while (i < source.length && IDENT.test(source[i]!)) i++;
      segments.push(source.slice(start, i));
      expectKey = false;
    } else {
      fail(`unexpected ${JSON.stringify(ch)}`);
    }
  }
  return { source, segments };
}

/** The value at a path; null counts as absent, as Kubernetes treats an unset field. */
export function lookup(
  root: unknown,
  segments: readonly PathSegment[],
): { present: true; value: unknown } | { present: false } {
  let at: unknown = root;
  for (const segment of segments) {
    if (at === null || typeof at !== "object") return { present: false };
    if (typeof segment === "number") {
      if (!Array.isArray(at) || segment >= at.length) return { present: false };
      at = at[segment];
    } else {
      if (Array.isArray(at) || !Object.prototype.hasOwnProperty.call(at, segment)) return { present: false };
      at = (at as Record<string, unknown>)[segment];
    }
  }
  return at === null || at === undefined ? { present: false } : { present: true, value: at };
}

export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
