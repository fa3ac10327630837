import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, createRegistry, toJsonString } from "@bufbuild/protobuf";
import { anyPack, AnySchema, FieldOptionsSchema, StructSchema, TimestampSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { HelloResponseSchema } from "../../src/gen/example/example_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { jsonWriteOptions, needsRegistry } from "../../src/core/json-options.js";

describe("JSON write options", () => {
  it("asks for the registry only for types that reach google.protobuf.Any or an extendable message", () => {
    assert.equal(needsRegistry(HelloResponseSchema), false);
    assert.equal(needsRegistry(TimestampSchema), false);
    // Struct -> Value -> ListValue -> Value: a cycle without Any.
    assert.equal(needsRegistry(StructSchema), false);
    assert.equal(needsRegistry(ValueSchema), false);
    assert.equal(needsRegistry(AnySchema), true);
    // google.rpc.Status has `repeated google.protobuf.Any details`.
    assert.equal(needsRegistry(StatusSchema), true);
    // descriptor.proto's options messages declare extension ranges.
    assert.equal(needsRegistry(FieldOptionsSchema), true);
  });

  it("writes the same JSON as with the registry, and Any still resolves", () => {
    const registry = createRegistry(HelloResponseSchema, StatusSchema);
    assert.equal(jsonWriteOptions(HelloResponseSchema, registry), undefined);
    const hello = create(HelloResponseSchema, { message: "Hello, Bob" });
    assert.equal(toJsonString(HelloResponseSchema, hello, jsonWriteOptions(HelloResponseSchema, registry)), toJsonString(HelloResponseSchema, hello, { registry }));
    const status = create(StatusSchema, { code: 3, message: "bad", details: [anyPack(HelloResponseSchema, hello)] });
    const opts = jsonWriteOptions(StatusSchema, registry);
    assert.equal(opts?.registry, registry);
    assert.equal(jsonWriteOptions(StatusSchema, registry), opts, "one options object per registry");
    assert.equal(toJsonString(StatusSchema, status, opts), '{"code":3,"message":"bad","details":[{"message":"Hello, Bob","@type":"type.googleapis.com/example.HelloResponse"}]}');
  });
});
