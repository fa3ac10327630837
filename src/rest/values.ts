import { create, fromJson, ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";

/** A path or query value that does not fit its field; the text says why. */
export class ValueError extends Error {}

const INT = /^[+-]?\d+$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UINT = /^\+?\d+$/;
// Standard or URL-safe alphabet; padding optional, but when present it completes the last group.
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const FLOAT_LITERAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const FLOAT_MAX = 3.4028234663852886e38;
const RANGE32: Partial<Record<ScalarType, [bigint, bigint]>> = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n],
};
const IS64 = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64, ScalarType.UINT64, ScalarType.FIXED64]);

/** Parses a scalar from text as grpc-gateway does (bools true/false/1/0, bytes as base64 or base64url). */
export function parseScalar(type: ScalarType, s: string): string | number | bigint | boolean | Uint8Array {
  switch (type) {
    case ScalarType.STRING:
      // A lone surrogate cannot be encoded as UTF-8, which proto strings must be.
      if (LONE_SURROGATE.test(s)) throw new ValueError(`"${clip(s)}" is not valid Unicode text`);
      return s;
    case ScalarType.BOOL:
      if (s === "true" || s === "1") return true;
      if (s === "false" || s === "0") return false;
      throw new ValueError(`"${clip(s)}" is not a bool (true, false, 1 or 0)`);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      // Only the proto3 JSON spellings give NaN or an infinity; a literal that overflows is out of range.
      if (s === "NaN" || s === "Infinity" || s === "-Infinity") return Number(s);
      if (!FLOAT_LITERAL.test(s)) throw new ValueError(`"${clip(s)}" is not a number`);
      const n = Number(s);
      if (!Number.isFinite(n) || (type === ScalarType.FLOAT && Math.abs(n) > FLOAT_MAX)) throw new ValueError(`"${clip(s)}" is out of range for ${type === ScalarType.FLOAT ? "float" : "double"}`);
      return n;
    }
    case ScalarType.BYTES:
      // Buffer's decoder drops what does not fit a group, so the shape is checked first.
      if (!BASE64.test(s)) throw new ValueError(`"${clip(s)}" is not base64`);
      return new Uint8Array(Buffer.from(s, "base64"));
    default: {
      const [min, max] = RANGE32[type]!;
      if (!(min < 0n ? INT : UINT).test(s)) throw new ValueError(`"${clip(s)}" is not ${min < 0n ? "an integer" : "an unsigned integer"}`);
      const n = BigInt(s);
      if (n < min || n > max) throw new ValueError(`${clip(s)} is out of range for ${ScalarType[type].toLowerCase()}`);
      return IS64.has(type) ? n : Number(n);
    }
  }
}

/** Parses an enum value by name or number. */
export function parseEnum(e: DescEnum, s: string): number {
  const byName = e.values.find((v) => v.name === s);
  if (byName) return byName.number;
  if (INT.test(s)) {
    const n = Number(s);
    if (Number.isSafeInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) return n;
  }
  throw new ValueError(`"${clip(s)}" is not a value of ${e.typeName} (${e.values.map((v) => v.name).join(", ")})`);
}

const WRAPPERS = new Set(["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((n) => `google.protobuf.${n}Value`));
const TEXT_WKT = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"]);

/** Whether a message type can be given as one text value (Timestamp, Duration, FieldMask, wrappers). */
export function isTextMessage(m: DescMessage): boolean {
  return WRAPPERS.has(m.typeName) || TEXT_WKT.has(m.typeName);
}

/** Parses a well-known type from its text form (RFC 3339, "1.5s", "a,b.c", or the wrapped scalar). */
export function parseMessage(m: DescMessage, s: string): ReflectMessage {
  if (WRAPPERS.has(m.typeName)) {
    const f = m.fields[0];
    const msg = create(m);
    reflect(m, msg).set(f, parseScalar(f.scalar!, s));
    return reflect(m, msg);
  }
  if (!TEXT_WKT.has(m.typeName)) throw new ValueError(`${m.typeName} cannot be given as one value; set its fields (name.field=value)`);
  try {
    return reflect(m, fromJson(m, s));
  } catch (e) {
    throw new ValueError(`"${clip(s)}" is not a valid ${m.name}: ${e instanceof Error ? e.message.replace(/^cannot decode [^:]+: /, "") : String(e)}`);
  }
}

/** Parses one text value for a field's element type (scalar, enum, or text well-known type). */
export function parseFieldValue(f: DescField, s: string): unknown {
  if (f.scalar !== undefined && (f.fieldKind === "scalar" || f.fieldKind === "list")) return parseScalar(f.scalar, s);
  if (f.enum && (f.fieldKind === "enum" || f.fieldKind === "list")) return parseEnum(f.enum, s);
  if (f.message && (f.fieldKind === "message" || f.fieldKind === "list")) return parseMessage(f.message, s);
  throw new ValueError("map fields cannot be set from the query");
}

const clip = (s: string) => (s.length > 64 ? s.slice(0, 61) + "..." : s);
