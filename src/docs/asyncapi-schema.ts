import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** A JSON Schema (draft-07 subset, as AsyncAPI 3.0 schema objects accept it). */
export type JsonSchema = Record<string, unknown>;

/** Where message schemas live in the document. */
export const schemaRef = (typeName: string): JsonSchema => ({ $ref: `#/components/schemas/${typeName}` });

// Well-known types have their own JSON forms in the proto3 JSON mapping.
const wellKnown: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["1.5s"] },
  "google.protobuf.FieldMask": { type: "string", description: "comma-separated lowerCamelCase field paths" },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array" },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Any": { type: "object", required: ["@type"], properties: { "@type": { type: "string" } } },
  "google.protobuf.DoubleValue": { type: ["number", "null"] },
  "google.protobuf.FloatValue": { type: ["number", "null"] },
  "google.protobuf.Int64Value": { type: ["string", "integer", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["string", "integer", "null"], format: "uint64" },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], format: "uint32" },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
};

function scalar(t: ScalarType): JsonSchema {
  switch (t) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { oneOf: [{ type: "number" }, { type: "string", enum: ["NaN", "Infinity", "-Infinity"] }] };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: ["string", "integer"], format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: ["string", "integer"], format: "uint64" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    default:
      return { type: "integer", format: "int32" };
  }
}

const enumSchema = (e: DescEnum): JsonSchema =>
  e.typeName === "google.protobuf.NullValue" ? { type: "null" } : { type: "string", enum: e.values.map((v) => v.name), title: e.typeName };

/**
 * Collects JSON Schemas (proto3 JSON mapping) for messages and everything they reference, keyed by
 * full type name, so that a document can put them under components.schemas and $ref them.
 */
export class SchemaSet {
  readonly schemas: Record<string, JsonSchema> = {};

  /** The schema of a message as a $ref (or the well-known type's inline schema), adding it to the set. */
  ref(m: DescMessage): JsonSchema {
    const wk = wellKnown[m.typeName];
    if (wk) return wk;
    if (!(m.typeName in this.schemas)) {
      this.schemas[m.typeName] = {}; // placeholder first: messages may refer to themselves
      const properties: Record<string, JsonSchema> = {};
      for (const f of m.fields) properties[f.jsonName] = this.field(f);
      const schema: JsonSchema = { type: "object", title: m.typeName, properties, additionalProperties: false };
      if (m.oneofs.length > 0) {
        schema.description = m.oneofs.map((o) => `At most one of ${o.fields.map((f) => f.jsonName).join(", ")} is set (oneof ${o.name}).`).join(" ");
      }
      this.schemas[m.typeName] = schema;
    }
    return schemaRef(m.typeName);
  }

  private field(f: DescField): JsonSchema {
    switch (f.fieldKind) {
      case "scalar":
        return scalar(f.scalar);
      case "enum":
        return enumSchema(f.enum);
      case "message":
        return this.ref(f.message);
      case "list":
        return { type: "array", items: f.listKind === "scalar" ? scalar(f.scalar) : f.listKind === "enum" ? enumSchema(f.enum) : this.ref(f.message) };
      case "map": {
        const value = f.mapKind === "scalar" ? scalar(f.scalar) : f.mapKind === "enum" ? enumSchema(f.enum) : this.ref(f.message);
        return { type: "object", additionalProperties: value };
      }
    }
  }
}
