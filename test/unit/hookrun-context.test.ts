// How a HookRun carries the steps' variables: plain JSON when small, gzip+base64 beyond
// COMPRESS_FROM_BYTES, refused past MAX_CONTEXT_BYTES; every form decodes to what went in.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  COMPRESS_FROM_BYTES,
  ContextTooLargeError,
  MAX_CONTEXT_BYTES,
  decodeContext,
  encodeContext,
} from "../../src/runner/hookrun.js";

const configMap = (bytes: number, fill: () => string) => ({
  object: {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a", namespace: "web" },
    data: { blob: fill().slice(0, bytes) },
  },
});

describe("HookRun context", () => {
  it("stores a small context as JSON, readable as it is", () => {
    const scope = configMap(1000, () => "x".repeat(1000));
    const context = encodeContext(scope);
    expect(context.encoding).toBe("json");
    expect(JSON.parse(context.data)).toEqual(scope);
    expect(decodeContext(context)).toEqual(scope);
  });

  it("compresses a context over the threshold, and decodes it", () => {
    const scope = configMap(COMPRESS_FROM_BYTES * 4, () => "abcdefgh".repeat(COMPRESS_FROM_BYTES));
    const context = encodeContext(scope);
    expect(context.encoding).toBe("gzip+base64");
    expect(context.data.length).toBeLessThan(COMPRESS_FROM_BYTES);
    expect(decodeContext(context)).toEqual(scope);
  });

  it("refuses what does not fit compressed, before anything is stored", () => {
    const scope = configMap(MAX_CONTEXT_BYTES * 2, () => randomBytes(MAX_CONTEXT_BYTES).toString("base64"));
    expect(() => encodeContext(scope)).toThrow(ContextTooLargeError);
  });

  it("refuses an encoding it does not know instead of guessing", () => {
    expect(() => decodeContext({ encoding: "zstd" as "json", data: "" })).toThrow(/unknown context encoding "?zstd/);
  });
});
