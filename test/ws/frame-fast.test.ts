import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { decodeBinaryClientFrame } from "../../src/ws/frame-binary.js";
import { decodeClientFrameFast } from "../../src/ws/frame-fast.js";
import { budget, mutated } from "../fuzz/support.js";

// The fast decoder must give exactly what the reference decoder (BinaryReader) gives: the same
// frame, or a BinaryFrameError with the same message.
function outcome(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): unknown {
  try {
    return { frame: decode(bytes) };
  } catch (e) {
    return { error: (e as Error).constructor.name, message: (e as Error).message };
  }
}

function agrees(bytes: Uint8Array): void {
  assert.deepEqual(outcome(decodeClientFrameFast, Buffer.from(bytes)), outcome(decodeBinaryClientFrame, Buffer.from(bytes)));
  assert.deepEqual(outcome(decodeClientFrameFast, new Uint8Array(bytes)), outcome(decodeBinaryClientFrame, new Uint8Array(bytes)));
}

const seeds = [
  toBinary(FrameSchema, create(FrameSchema, { id: "1", method: "example.ExampleService/SayHello", message: new Uint8Array([10, 3, 66, 111, 98]) })),
  toBinary(FrameSchema, create(FrameSchema, { id: "é😀", method: "a.B/C", headers: { authorization: "Bearer x", "x-ü": "ÿ" }, timeoutMs: 300_000_000, end: true })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", message: new Uint8Array(200).fill(7), end: true, cancel: true, timeoutMs: 5 })),
  toBinary(FrameSchema, create(FrameSchema, { id: "3", status: { code: "ok" } })),
];

describe("fast binary client frame decoder", () => {
  it("decodes valid frames of every client field like the reference decoder", () => {
    for (const s of seeds) agrees(s);
    // Found by the property below: a headers entry whose end was computed before its length was read.
    agrees(Uint8Array.from([10, 6, 195, 169, 240, 159, 152, 128, 18, 5, 97, 46, 66, 47, 67, 26, 25, 10, 22, 26, 25, 10, 22, 0, 0, 13, 97, 117, 116, 104, 111, 114, 105, 122, 97, 116, 105, 111, 110, 18, 8, 66, 101, 97, 114, 101, 114, 32, 120, 26, 10, 10, 4, 120, 45, 195, 188, 18, 2, 195, 191, 40, 1, 72, 128, 198, 134, 143, 1]));
    const f = decodeClientFrameFast(seeds[1]);
    assert.deepEqual(f.headers, { authorization: "Bearer x", "x-ü": "ÿ" });
    assert.equal(f.id, "é😀");
    assert.equal(f.timeoutMs, 300_000_000);
  });

  it("gives the reference decoder's frame or error for random and mutated bytes", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(seeds, { maxOps: 4 }), fc.uint8Array({ maxLength: 48 })), (b) => agrees(b)),
      budget(3000, 4000),
    );
  });

  it("reads a frame that is a view into a larger buffer (as ws hands them over)", () => {
    const big = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(seeds[0]), Buffer.from([9])]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 3, seeds[0].length);
    assert.deepEqual(decodeClientFrameFast(view), decodeBinaryClientFrame(view));
    assert.deepEqual(decodeClientFrameFast(big.subarray(3, 3 + seeds[0].length)), decodeBinaryClientFrame(Buffer.from(seeds[0])));
  });
});
