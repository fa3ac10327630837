import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { Comments } from "./comments.js";

/** A JSON Schema object (OpenAPI 3.1 uses JSON Schema 2020-12). */
export type Schema = Record<string, unknown>;

const INT64 = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64, ScalarType.UINT64, ScalarType.FIXED64]);

/** The JSON Schema of a scalar in the proto3 JSON mapping (64-bit integers are strings). */
export function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    default:
      if (INT64.has(t)) return { type: "string", format: t === ScalarType.UINT64 || t === ScalarType.FIXED64 ? "uint64" : "int64" };
      return { type: "integer", format: "int32" };
  }
}

// Well-known types have their own JSON forms.
const WKT: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time", examples: ["2024-01-02T03:04:05Z"] },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["1.5s"] },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated field paths in lowerCamelCase", examples: ["name,nested.label"] },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Any": { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true },
};
const WRAPPED: Record<string, ScalarType> = {
  DoubleValue: ScalarType.DOUBLE,
  FloatValue: ScalarType.FLOAT,
  Int64Value: ScalarType.INT64,
  UInt64Value: ScalarType.UINT64,
  Int32Value: ScalarType.INT32,
  UInt32Value: ScalarType.UINT32,
  BoolValue: ScalarType.BOOL,
  StringValue: ScalarType.STRING,
  BytesValue: ScalarType.BYTES,
};

/** Collects component schemas for messages and enums, referenced as #/components/schemas/<full name>. */
export class SchemaSet {
  readonly schemas: Record<string, Schema> = {};

  constructor(private readonly comments: Comments) {}

  /** A schema or $ref for a message type, adding it (and what it uses) to the components. */
  message(m: DescMessage): Schema {
    const wkt = WKT[m.typeName];
    if (wkt) return { ...wkt };
    if (m.typeName.startsWith("google.protobuf.") && WRAPPED[m.name] !== undefined) {
      const s = scalarSchema(WRAPPED[m.name]);
      return { ...s, type: [s.type as string, "null"] };
    }
    if (!(m.typeName in this.schemas)) {
      const schema: Schema = { type: "object", properties: {} };
      this.schemas[m.typeName] = schema; // before the fields: recursive messages refer to themselves
      const props = schema.properties as Record<string, Schema>;
      for (const f of m.fields) props[f.jsonName] = this.field(f);
      const d = this.comments.get(m.typeName);
      if (d) schema.description = d;
    }
    return { $ref: `#/components/schemas/${m.typeName}` };
  }

  /** A schema for a field, with its comment as the description. */
  field(f: DescField): Schema {
    let s: Schema;
    switch (f.fieldKind) {
      case "scalar":
        s = scalarSchema(f.scalar);
        break;
      case "enum":
        s = this.enum(f.enum);
        break;
      case "message":
        s = this.message(f.message);
        break;
      case "list":
        s = { type: "array", items: f.listKind === "scalar" ? scalarSchema(f.scalar) : f.listKind === "enum" ? this.enum(f.enum) : this.message(f.message) };
        break;
      case "map":
        s = { type: "object", additionalProperties: f.mapKind === "scalar" ? scalarSchema(f.scalar) : f.mapKind === "enum" ? this.enum(f.enum) : this.message(f.message) };
        break;
    }
    const d = this.comments.get(`${f.parent.typeName}.${f.name}`);
    // A $ref with siblings is fine in OpenAPI 3.1 (JSON Schema 2020-12).
    return d ? { ...s, description: d } : s;
  }

  /** A $ref to an enum's schema: its value names (numbers are accepted on input too). */
  enum(e: DescEnum): Schema {
    if (!(e.typeName in this.schemas)) {
      const schema: Schema = { type: "string", enum: e.values.map((v) => v.name) };
      const d = this.comments.get(e.typeName);
      const values = e.values.map((v) => [v.name, this.comments.get(`${e.typeName}.${v.name}`)]).filter(([, c]) => c);
      const text = [d, ...values.map(([n, c]) => `- ${n}: ${c}`)].filter(Boolean).join("\n");
      if (text) schema.description = text;
      this.schemas[e.typeName] = schema;
    }
    return { $ref: `#/components/schemas/${e.typeName}` };
  }
}
