import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { frame, readFrame, unframe } from "./framing.js";

describe("conformance runner framing", () => {
  it("prefixes a message with its big-endian 32-bit length", () => {
    assert.deepEqual([...frame(new Uint8Array([7, 8, 9]))], [0, 0, 0, 3, 7, 8, 9]);
  });

  it("splits complete frames and keeps a partial one for later", () => {
    const bytes = Buffer.concat([frame(Buffer.from("ab")), frame(Buffer.alloc(0)), frame(Buffer.from("xyz")).subarray(0, 5)]);
    const { messages, rest } = unframe(bytes);
    assert.deepEqual(messages.map((m) => m.toString()), ["ab", ""]);
    assert.deepEqual([...rest], [0, 0, 0, 3, 0x78]);
  });

  it("reads one frame that arrives split across chunks", async () => {
    const input = new PassThrough();
    const read = readFrame(input);
    const whole = frame(Buffer.from("hello"));
    input.write(whole.subarray(0, 2));
    input.write(whole.subarray(2, 6));
    input.write(whole.subarray(6));
    assert.equal((await read).toString(), "hello");
    input.end();
  });

  it("rejects when the input ends before a whole frame", async () => {
    const input = new PassThrough();
    const read = readFrame(input);
    input.end(Buffer.from([0, 0, 0, 9, 1]));
    await assert.rejects(read, /stdin ended after 5 bytes/);
  });
});
