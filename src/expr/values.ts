// Data as CEL sees it, and results back as JSON.
//
// @bufbuild/cel turns plain JavaScript objects into maps only when `value.constructor.name` is
// "Object" and the object has no `$typeName` (else it is taken for a protobuf message): a label
// key `constructor` made a map unusable and `$typeName` turned one into a Timestamp. Its maps and
// lists are branded with registered symbols (Symbol.for), so these views, which read the JSON
// value in place with own-property lookups only, are maps and lists to CEL whatever the keys.
// They convert on access, so an expression that reads object.metadata.name converts two fields,
// not the whole object, and they charge the meter (cost.ts) for every element they hand out.
import { isCelList, isCelMap, isCelUint, type CelList, type CelValue } from "@bufbuild/cel";
import { charge } from "./cost.js";
import { ExpressionError } from "./errors.js";

/** Results nested deeper than this are refused (they would overflow the stack when serialized). */
export const MAX_RESULT_DEPTH = 1000;

const MAP_BRAND = Symbol.for("@bufbuild/cel/map");
const LIST_BRAND = Symbol.for("@bufbuild/cel/list");
export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

class PlainMap {
  readonly [MAP_BRAND] = {};
  private keyList: string[] | undefined;
  constructor(readonly source: Readonly<Record<string, unknown>>) {}

  /** Own enumerable keys with a defined value (undefined is absent, as in JSON). */
  private ownKeys(): string[] {
    if (this.keyList === undefined) this.keyList = Object.keys(this.source).filter((k) => this.source[k] !== undefined);
    return this.keyList;
  }
  get size(): number {
    return this.ownKeys().length;
  }
  get(key: unknown): CelValue | undefined {
    charge(1);
    if (typeof key !== "string" || !hasOwn(this.source, key)) return undefined;
    const value = this.source[key];
    return value === undefined ? undefined : toCel(value);
  }
  has(key: unknown): boolean {
    charge(1);
    return typeof key === "string" && hasOwn(this.source, key) && this.source[key] !== undefined;
  }
  // Iteration charges the whole size up front: CEL's comprehensions copy the keys into an array
  // before looping anyway, and one charge per element would cost more than the loop itself.
  keys(): IterableIterator<string> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys[Symbol.iterator]();
  }
  values(): IterableIterator<CelValue> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys.map((key) => toCel(this.source[key]))[Symbol.iterator]();
  }
  entries(): IterableIterator<[string, CelValue]> {
    const keys = this.ownKeys();
    charge(keys.length);
    return keys.map((key): [string, CelValue] => [key, toCel(this.source[key])])[Symbol.iterator]();
  }
  forEach(callback: (value: CelValue, key: string, map: PlainMap) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }
  [Symbol.iterator](): IterableIterator<[string, CelValue]> {
    return this.entries();
  }
}

class PlainList {
  readonly [LIST_BRAND] = {};
  constructor(
    readonly source: readonly unknown[],
    /** Elements source[0, length) belong to this list; see concatLists. */
    readonly length: number = source.length,
    /** Elements are CelValues already (built by CEL), not JSON to convert. */
    readonly converted = false,
  ) {}

  get size(): number {
    return this.length;
  }
  get(index: number): CelValue | undefined {
    charge(1);
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    return this.element(index);
  }
  private element(index: number): CelValue {
    const value = this.source[index];
    return this.converted ? (value as CelValue) : toCel(value);
  }
  *values(): IterableIterator<CelValue> {
    charge(this.length);
    for (let i = 0; i < this.length; i++) yield this.element(i);
  }
  [Symbol.iterator](): IterableIterator<CelValue> {
    return this.values();
  }
}

// An appending list for `accu + [x]`: when the left list is the newest view of its array, the right
// elements are pushed onto that array and a longer view is returned (views never see past their
// length, so older views are unaffected); otherwise both are copied. `map` over n elements is then
// O(n), and every list stays flat.
export function concatLists(left: CelList, right: CelList): CelList {
  if (left instanceof PlainList && left.converted && left.length === left.source.length) {
    const array = left.source as CelValue[];
    for (const item of right) array.push(item);
    return new PlainList(array, array.length, true) as unknown as CelList;
  }
  const array: CelValue[] = [];
  for (const item of left) array.push(item);
  for (const item of right) array.push(item);
  return new PlainList(array, array.length, true) as unknown as CelList;
}

// Views are made once per JSON object and reused: a run evaluates many placeholders over the same
// (possibly large) objects. Callers never mutate a scope after handing it to an expression.
const views = new WeakMap<object, CelValue>();

// JSON integers become CEL ints (as Kubernetes' CEL does for integer fields), so that
// `object.spec.replicas + 1` works; other numbers stay doubles.
export function toCel(value: unknown): CelValue {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
      return value;
    case "number":
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case "undefined":
      return null;
    case "object":
      break;
    default:
      // functions and symbols are not data
      return null;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return value;
  if (isCelMap(value) || isCelList(value) || isCelUint(value)) return value as CelValue;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  let view = views.get(value);
  if (view === undefined) {
    view = (Array.isArray(value)
      ? new PlainList(value)
      : new PlainMap(value as Record<string, unknown>)) as unknown as CelValue;
    views.set(value, view);
  }
  return view;
}

/** Turns a CEL result back into plain JSON-compatible JavaScript. */
export function fromCel(value: CelValue, depth = 0): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (depth > MAX_RESULT_DEPTH)
    throw new ExpressionError(`the result is nested deeper than ${MAX_RESULT_DEPTH} levels`);
  if (isCelUint(value)) return fromCel(value.value, depth);
  if (isCelList(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      charge(1);
      out.push(fromCel(item, depth + 1));
    }
    return out;
  }
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      charge(1);
      setOwn(out, String(isCelUint(k) ? k.value : k), fromCel(v, depth + 1));
    }
    return out;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return wellKnownToString(value);
}

/** `out[key] = value` that also works for the key `__proto__` (an own property, as JSON.parse makes it). */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function wellKnownToString(value: object): unknown {
  const message = (value as { message?: { $typeName?: string; seconds?: bigint; nanos?: number } }).message;
  if (message?.$typeName === "google.protobuf.Timestamp") {
    const ms = Number(message.seconds ?? 0n) * 1000 + Math.floor((message.nanos ?? 0) / 1e6);
    return new Date(ms).toISOString();
  }
  if (message?.$typeName === "google.protobuf.Duration") {
    const seconds = Number(message.seconds ?? 0n) + (message.nanos ?? 0) / 1e9;
    return `${seconds}s`;
  }
  return String(value);
}
