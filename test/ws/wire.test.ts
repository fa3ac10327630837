import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Receiver } from "ws";
import { JsonText, encodeServerFrame } from "../../src/ws/frame.js";
import { MessageFrames, dataFrame, isText, payloadOf } from "../../src/ws/wire.js";

// Reads whole frames with ws's own Receiver (as a `ws` client does, client side: unmasked frames).
function receive(bytes: Buffer): Array<{ data: Buffer; isBinary: boolean }> {
  const got: Array<{ data: Buffer; isBinary: boolean }> = [];
  const r = new Receiver({ isServer: false, maxPayload: 0 });
  r.on("message", (data: Buffer, isBinary: boolean) => got.push({ data, isBinary }));
  r.on("error", (e) => assert.fail(e));
  r.write(bytes);
  return got;
}

// Payload sizes around the 7-, 16- and 64-bit length encodings.
const sizes = [0, 1, 100, 125, 126, 127, 65535, 65536, 70000];
const ids = ["", "1", "sub", "é😀", "x".repeat(300)];

describe("whole WebSocket frames (wire.ts, pure)", () => {
  it("frames text and binary payloads of every length encoding as ws reads them", () => {
    for (const n of sizes) {
      const text = "a".repeat(n);
      const bin = Buffer.alloc(n, 7);
      const frames = Buffer.concat([dataFrame(text), dataFrame(bin)]);
      const got = receive(frames);
      assert.equal(got.length, 2, `size ${n}`);
      assert.deepEqual(got[0], { data: Buffer.from(text), isBinary: false });
      assert.deepEqual(got[1], { data: bin, isBinary: true });
      assert.equal(isText(dataFrame(text)), true);
      assert.deepEqual(payloadOf(dataFrame(bin)), bin);
    }
  });

  it("counts UTF-8 bytes, not UTF-16 units, in a text frame's length", () => {
    const text = "é😀".repeat(50);
    const [got] = receive(dataFrame(text));
    assert.equal(got.data.toString("utf8"), text);
  });

  it("writes {id, message} frames identical to encodeServerFrame's, JSON and binary", () => {
    for (const id of ids) {
      for (const n of sizes) {
        const text = JSON.stringify({ message: { text: "é".repeat(Math.max(0, (n >> 1) - 20)) } });
        const json = new MessageFrames(id, "json").frame(new JsonText(text).utf8());
        const [j] = receive(json);
        assert.equal(j.isBinary, false);
        assert.equal(j.data.toString("utf8"), encodeServerFrame({ id, message: new JsonText(text) }, "json"), `json id ${JSON.stringify(id)} size ${n}`);
        assert.deepEqual(JSON.parse(j.data.toString("utf8")), id === "" ? { message: JSON.parse(text) } : { id, message: JSON.parse(text) });

        const bytes = Buffer.alloc(n, 0xab);
        const [b] = receive(new MessageFrames(id, "proto").frame(bytes));
        assert.equal(b.isBinary, true);
        assert.deepEqual(b.data, Buffer.from(encodeServerFrame({ id, message: bytes }, "proto") as Uint8Array), `proto id ${JSON.stringify(id)} size ${n}`);
      }
    }
  });

  it("makes a new buffer per frame: a frame written to one socket is not changed by the next", () => {
    const frames = new MessageFrames("1", "json");
    const a = frames.frame(Buffer.from('"a"'));
    const copy = Buffer.from(a);
    frames.frame(Buffer.from('"b"'));
    assert.deepEqual(a, copy);
  });
});
