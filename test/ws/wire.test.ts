import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EventEmitter } from "node:events";
import * as wsModule from "ws";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { JsonText, encodeServerFrame, encodeWsFrame, type ServerFrame } from "../../src/ws/frame.js";
import { MessageFrames, dataFrame, isText, payloadOf } from "../../src/ws/wire.js";

// ws's frame parser; exported by the package at run time, not declared by @types/ws.
type WsReceiver = EventEmitter & { write(chunk: Buffer): void };
const Receiver = (wsModule as unknown as { Receiver: new (o: { isServer: boolean; maxPayload: number }) => WsReceiver }).Receiver;

// Reads whole frames with ws's own Receiver (as a `ws` client does, client side: unmasked frames).
function receive(bytes: Buffer): Array<{ data: Buffer; isBinary: boolean }> {
  const got: Array<{ data: Buffer; isBinary: boolean }> = [];
  const r = new Receiver({ isServer: false, maxPayload: 0 });
  r.on("message", (data: Buffer, isBinary: boolean) => got.push({ data, isBinary }));
  r.on("error", (e: Error) => assert.fail(e));
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

  it("encodes every server frame field byte for byte as the generated FrameSchema does, alone and as a WebSocket frame", () => {
    const frames: ServerFrame[] = [
      { id: "1", end: true, status: { code: 0, message: "" } },
      { id: "1", headers: { "x-request-id": "abc" }, message: new Uint8Array([10, 3, 66, 111, 98]), end: true, status: { code: 0, message: "" } },
      {
        id: "é😀",
        headers: { a: "", "x-h": "v".repeat(200) },
        end: true,
        status: { code: Code.NotFound, message: "gone ✓", details: [{ type: "google.rpc.RetryInfo", value: new Uint8Array([8, 1]) }, { type: "t", value: new Uint8Array(0) }] },
        trailers: { "x-t": "w" },
      },
      { id: "", end: true, status: { code: Code.InvalidArgument, message: "bad" }, example: { id: "1", method: "a.B/C", message: new Uint8Array(300).fill(1) } },
      { id: "2", message: new Uint8Array(70000).fill(2) },
    ];
    for (const f of frames) {
      const code = f.status ? (f.status.code === 0 ? "ok" : encodeJsonCode(f)) : "";
      const expected = toBinary(
        FrameSchema,
        create(FrameSchema, {
          id: f.id,
          headers: f.headers,
          message: f.message as Uint8Array | undefined,
          end: f.end,
          status: f.status && { code, message: f.status.message, details: f.status.details },
          trailers: f.trailers,
          example: f.example && { id: f.example.id, method: f.example.method, message: f.example.message as Uint8Array },
        }),
      );
      assert.deepEqual(Buffer.from(encodeServerFrame(f, "proto") as Uint8Array), Buffer.from(expected));
      const [got] = receive(encodeWsFrame(f, "proto"));
      assert.deepEqual(got, { data: Buffer.from(expected), isBinary: true });
      const [text] = receive(encodeWsFrame(f, "json"));
      assert.equal(text.data.toString("utf8"), encodeServerFrame(f, "json"));
    }
  });
});

// The status code name as the JSON frame writes it.
function encodeJsonCode(f: ServerFrame): string {
  return (JSON.parse(encodeServerFrame({ id: "", status: f.status }, "json") as string) as { status: { code: string } }).status.code;
}
