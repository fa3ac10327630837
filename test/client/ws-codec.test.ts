import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { decodeServerFrame, encodeClientFrame, statusError } from "../../src/client/ws-codec.js";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";

// The transport writes and reads frames by hand; these tests hold it to frame.proto's schema.
describe("the client's frame codec against oneport.ws.v1.Frame", () => {
  const msg = new Uint8Array([10, 3, 66, 111, 98]);

  for (const f of [
    { id: "1", message: msg },
    { id: "2", message: msg, end: true },
    { id: "3", end: true },
    { id: "4", message: new Uint8Array(300).fill(7) },
    { id: "é-non-ascii", message: msg },
    { id: "5", message: new Uint8Array(0) },
    { id: "6", method: "example.ExampleService/SayHello", headers: { authorization: "Bearer x", "x-a": "1, 2" }, message: msg, end: true, timeoutMs: 1500 },
    { id: "7", cancel: true },
  ]) {
    it(`encodes ${JSON.stringify({ ...f, message: f.message?.length })} as the generated schema reads it`, () => {
      const got = fromBinary(FrameSchema, encodeClientFrame(f, "proto") as Uint8Array);
      assert.equal(got.id, f.id);
      assert.equal(got.method, f.method ?? "");
      assert.deepEqual(got.headers, f.headers ?? {});
      assert.deepEqual(got.message, f.message);
      assert.equal(got.end, f.end ?? false);
      assert.equal(got.cancel, f.cancel ?? false);
      assert.equal(got.timeoutMs, f.timeoutMs);
    });
  }

  it("decodes every server field the generated schema writes", () => {
    const frame = create(FrameSchema, {
      id: "9",
      headers: { "x-h": "1" },
      message: msg,
      end: true,
      status: { code: "resource_exhausted", message: "slow down", details: [{ type: "google.protobuf.Duration", value: new Uint8Array([8, 7]) }] },
      trailers: { "x-t": "2" },
    });
    const f = decodeServerFrame(toBinary(FrameSchema, frame), "proto");
    assert.deepEqual(f, {
      id: "9",
      headers: { "x-h": "1" },
      message: msg,
      end: true,
      status: { code: "resource_exhausted", message: "slow down", details: [{ type: "google.protobuf.Duration", value: new Uint8Array([8, 7]) }] },
      trailers: { "x-t": "2" },
    });
    const err = statusError(f.status, new Headers(f.headers), new Headers(f.trailers));
    assert.equal(err?.code, Code.ResourceExhausted);
    assert.equal(err?.metadata.get("x-h"), "1");
    assert.equal(err?.metadata.get("x-t"), "2");
  });

  it("reads JSON frames, with base64 details, the same way", () => {
    const f = decodeServerFrame(JSON.stringify({ id: "1", end: true, status: { code: "not_found", message: "no", details: [{ type: "a.B", value: "CAc=" }] } }), "json");
    assert.deepEqual(f.status, { code: "not_found", message: "no", details: [{ type: "a.B", value: new Uint8Array([8, 7]) }] });
  });

  it("rejects bytes that are not a Frame, and frames of the wrong kind, with INTERNAL", () => {
    for (const [data, format] of [[new Uint8Array([0xff, 0xff, 0xff]), "proto"], ["{}", "proto"], [new Uint8Array([1]), "json"], ["not json", "json"]] as const) {
      assert.throws(() => decodeServerFrame(data, format), (e: { code?: Code }) => e.code === Code.Internal);
    }
  });
});
