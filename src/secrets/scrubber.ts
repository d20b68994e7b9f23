// One scrubber per run: every secret a step reads is registered here, and the executor passes
// everything that leaves a run (error messages, outputs, log lines) through it. A failing
// endpoint rarely echoes a secret byte for byte: it JSON-escapes it in an error body,
// URL-encodes it in a query it reflects, or base64-encodes it with a user name (Basic auth).
// So each secret is registered with the encodings it commonly takes, and one regular expression
// replaces them all in a single pass.
import type { Logger } from "pino";
import { pino } from "pino";

export const REDACTED = "[redacted]";

/** Shorter values are not scrubbed: replacing every "abc" in a log would redact the log, not the secret. */
export const MIN_SECRET_LENGTH = 4;

/** Encoded forms shorter than this are not scrubbed (a 2-character base64 fragment is noise). */
const MIN_VARIANT_LENGTH = 4;

/** Values nested deeper are replaced by a marker when scrubbing (outputs are JSON, never this deep). */
const MAX_DEPTH = 1000;

export class SecretScrubber {
  private readonly secrets = new Set<string>();
  private readonly variants = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a secret (trimmed values of MIN_SECRET_LENGTH or more characters) and its encodings. */
  add(secret: string): void {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    for (const variant of encodings(secret)) if (variant.length >= MIN_VARIANT_LENGTH) this.variants.add(variant);
    // A secret URL (a Slack webhook) is a credential in its parts too: its path, query or password
    // may be quoted without the rest.
    try {
      const url = new URL(secret);
      if (url.pathname.length > 8) this.add(url.pathname);
      if (url.search.length > 8) this.add(url.search);
      if (url.password) this.add(decodeURIComponentSafe(url.password));
    } catch {
      // not a URL
    }
    this.pattern = undefined;
  }

  /** How many secrets are registered. */
  get size(): number {
    return this.secrets.size;
  }

  text(s: string): string {
    if (this.variants.size === 0 || typeof s !== "string" || s.length < MIN_VARIANT_LENGTH) return s;
    this.pattern ??= new RegExp(
      [...this.variants]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join("|"),
      "g",
    );
    return s.replace(this.pattern, REDACTED);
  }

  /** A copy of a JSON-like value with every string (and key) scrubbed; other values as they are. */
  value<T>(v: T): T {
    if (this.variants.size === 0) return v;
    return this.scrubAny(v, 0) as T;
  }

  private scrubAny(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.text(value);
    if (value === null || typeof value !== "object") return value;
    if (depth > MAX_DEPTH) return REDACTED;
    if (Array.isArray(value)) return value.map((v) => this.scrubAny(v, depth + 1));
    if (value instanceof Error) return this.error(value);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = this.text(k);
      const scrubbed = this.scrubAny(v, depth + 1);
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: scrubbed, enumerable: true, writable: true, configurable: true });
      else out[key] = scrubbed;
    }
    return out;
  }

  /**
   * An error with its message scrubbed; the same object when nothing changed. Other fields of the
   * error (retryable, retryAfterMs …) are kept: the copy has the original's prototype.
   */
  error<E>(err: E): E {
    if (!(err instanceof Error) || this.variants.size === 0) return err;
    const message = this.text(err.message);
    if (message === err.message && !(err.stack && this.text(err.stack) !== err.stack)) return err;
    const copy = Object.create(Object.getPrototypeOf(err) as object) as Error;
    for (const key of Object.getOwnPropertyNames(err)) {
      if (key === "cause") continue; // the cause may quote the secret: it does not leave the run
      const descriptor = Object.getOwnPropertyDescriptor(err, key)!;
      if ("value" in descriptor && typeof descriptor.value === "string") descriptor.value = this.text(descriptor.value);
      Object.defineProperty(copy, key, descriptor);
    }
    return copy as E;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The forms a secret commonly takes in text that quotes it. */
export function encodings(secret: string): Set<string> {
  const out = new Set<string>([secret]);
  const bytes = Buffer.from(secret, "utf8");
  // JSON string escaping as JavaScript, Python (ensure_ascii) and Go (HTML-safe, \/) write it,
  // and escaped twice (a JSON error body quoted in another JSON document).
  const json = JSON.stringify(secret).slice(1, -1);
  const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const htmlJson = asciiJson.replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  for (const form of [json, asciiJson, htmlJson, json.replace(/\//g, "\\/")]) {
    out.add(form);
    out.add(JSON.stringify(form).slice(1, -1));
  }
  // URL encodings: a path or query component (upper and lower hex), form encoding (space as +),
  // and encodeURI (reserved characters kept).
  const component = encodeURIComponent(secret.replace(/[\uD800-\uDFFF]/g, "\uFFFD"));
  for (const form of [
    component,
    component.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    new URLSearchParams({ s: secret }).toString().slice(2),
    encodeURI(secret.replace(/[\uD800-\uDFFF]/g, "\uFFFD")),
  ]) {
    out.add(form);
    out.add(form.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  // Hex of the UTF-8 bytes.
  out.add(bytes.toString("hex"));
  out.add(bytes.toString("hex").toUpperCase());
  // base64 and base64url, alone and inside a longer encoded value (Basic base64(user:secret)):
  // for each of the three byte alignments, the characters determined by the secret's bytes alone.
  for (const alphabet of ["base64", "base64url"] as const) {
    out.add(bytes.toString(alphabet));
    for (let offset = 0; offset < 3; offset++) out.add(base64Core(bytes, offset, alphabet));
  }
  return out;
}

/**
 * The base64 characters that encode only `bytes` when they start `offset` (0, 1, 2) bytes into a
 * 3-byte group: character i covers bits [6i, 6i+6) of the stream, the secret bits
 * [8·offset, 8·(offset+n)).
 */
function base64Core(bytes: Buffer, offset: number, alphabet: "base64" | "base64url"): string {
  const padded = Buffer.concat([Buffer.alloc(offset), bytes, Buffer.alloc(3)]);
  const encoded = padded.toString(alphabet);
  const first = Math.ceil((8 * offset) / 6);
  const last = Math.floor((8 * (offset + bytes.length)) / 6);
  return encoded.slice(first, last);
}

/**
 * A child logger whose every line passes through the scrubber, and so do the lines of its own
 * children. pino's `hooks.streamWrite` (the documented way to rewrite a finished line, "just
 * before writing") is an option of pino() only, and `formatters.log` on a child sees neither the
 * message nor the bindings; so the child gets its own copy of the parent's hooks with a
 * streamWrite that scrubs, set through pino.symbols (pino's published handle on that state).
 * Scrubbing the serialized line catches the secret wherever it sits (message, fields, error stack)
 * in its JSON-escaped form, which the scrubber registers.
 */
export function scrubbingLogger(
  logger: Logger,
  scrubber: SecretScrubber,
  bindings: Record<string, unknown> = {},
): Logger {
  const child = logger.child(bindings);
  const hooksSym = pino.symbols.hooksSym as unknown as symbol;
  const holder = child as unknown as Record<symbol, { streamWrite?: (s: string) => string } | undefined>;
  const parentHooks = holder[hooksSym] ?? {};
  const previous = parentHooks.streamWrite;
  holder[hooksSym] = {
    ...parentHooks,
    streamWrite(line: string): string {
      const written = previous ? previous(line) : line;
      const clean = scrubber.text(written);
      if (clean === written) return clean;
      // A raw secret could, in theory, match across JSON syntax; the line must stay JSON.
      try {
        JSON.parse(clean);
        return clean;
      } catch {
        try {
          return `${JSON.stringify(scrubber.value(JSON.parse(written) as unknown))}\n`;
        } catch {
          return `${JSON.stringify({ msg: REDACTED })}\n`;
        }
      }
    },
  };
  return child;
}
