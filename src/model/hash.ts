// The one hash-then-shorten helper: deterministic names, idempotency keys and record names are
// all a prefix of a SHA-256 hex digest. createHash rather than crypto.hash, which needs Node 20.12
// while package.json promises Node 20.
import { createHash } from "node:crypto";

/** The first `length` hex characters (default all 64) of the SHA-256 of `text`. */
export function shortHash(text: string, length = 64): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}
