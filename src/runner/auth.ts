// The bearer token every route but health and metrics requires: the Sensors send it to the
// sensor endpoint, `resource-hooks runs` sends it to /runs.
import { createHash, timingSafeEqual } from "node:crypto";
import { httpError, type HttpError } from "./http-errors.js";

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** The 401 for an Authorization header that does not carry the token; undefined when it does. */
export function bearerError(header: string | undefined, expected: Buffer): HttpError | undefined {
  // Scheme case-insensitive (RFC 9110 §11.1) and surrounding whitespace ignored, as documented.
  const match = /^\s*Bearer\s+(.+?)\s*$/i.exec(header ?? "");
  // Compare digests of equal length in constant time, so timing says nothing about the token.
  if (match && timingSafeEqual(tokenDigest(match[1]!), expected)) return undefined;
  return match ? httpError("invalid_token") : httpError("missing_token");
}
