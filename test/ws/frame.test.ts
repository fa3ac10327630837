import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { decodeClientFrame, encodeServerFrame, type ServerFrame } from "../../src/ws/frame.js";
import { resolveWsOptions } from "../../src/ws/options.js";
import { checkUpgrade, originAllowed } from "../../src/ws/upgrade.js";

const MAX = 1 << 20;
const json = (o: unknown) => decodeClientFrame(Buffer.from(JSON.stringify(o)), false, "json", MAX);
const binary = (init: Parameters<typeof create<typeof FrameSchema>>[1]) =>
  decodeClientFrame(Buffer.from(toBinary(FrameSchema, create(FrameSchema, init))), true, "proto", MAX);

describe("frame codec (pure)", () => {
  it("reads every client field of a JSON frame, timeout_ms as number or string", () => {
    const frame = { id: "7", method: "a.B/C", headers: { "x-a": "1" }, message: { name: "Bob" }, end: true, timeout_ms: 250 };
    assert.deepEqual(json(frame), {
      id: "7",
      method: "a.B/C",
      headers: { "x-a": "1" },
      message: { name: "Bob" },
      end: true,
      cancel: false,
      timeoutMs: 250,
      size: JSON.stringify(frame).length,
    });
    const f = json({ id: "1", cancel: true, timeoutMs: "100" });
    assert.ok(!("error" in f));
    assert.equal(f.cancel, true);
    assert.equal(f.timeoutMs, 100);
  });

  it("attributes an envelope error to the frame's id and says whether it opened a stream", () => {
    const e = json({ id: "9", method: "a.B/C", end: "yes" });
    assert.ok("error" in e);
    assert.deepEqual({ id: e.id, opens: e.opens, code: e.code }, { id: "9", opens: true, code: Code.InvalidArgument });
    assert.match(e.error, /"end" must be true or false/);
    const t = json({ id: "9", timeout_ms: -1 });
    assert.ok("error" in t && /timeout_ms/.test(t.error) && !t.opens);
  });

  it("reads the same frame from the binary encoding (hand-written codec agrees with FrameSchema)", () => {
    const f = binary({ id: "7", method: "a.B/C", headers: { "x-a": "1", "x-b": "2" }, message: new Uint8Array([10, 3, 66, 111, 98]), end: true, timeoutMs: 250 });
    assert.deepEqual(f, { id: "7", method: "a.B/C", headers: { "x-a": "1", "x-b": "2" }, message: Buffer.from([10, 3, 66, 111, 98]), end: true, cancel: false, timeoutMs: 250 });
    const e = binary({ id: "3", method: "a.B/C", status: { code: "ok" } });
    assert.ok("error" in e && e.id === "3" && e.opens && /server only/.test(e.error));
  });

  it("writes binary server frames that FrameSchema decodes to the same content as the JSON frames", () => {
    const frame: ServerFrame = {
      id: "5",
      headers: { "x-h": "v" },
      message: new Uint8Array([1, 2, 3]),
      end: true,
      status: { code: Code.NotFound, message: "gone", details: [{ type: "google.rpc.RetryInfo", value: new Uint8Array([8, 1]) }] },
      trailers: { "x-t": "w" },
    };
    const b = fromBinary(FrameSchema, encodeServerFrame(frame, "proto") as Uint8Array);
    assert.equal(b.id, "5");
    assert.deepEqual(b.headers, { "x-h": "v" });
    assert.deepEqual(b.message, new Uint8Array([1, 2, 3]));
    assert.equal(b.end, true);
    assert.equal(b.status?.code, "not_found");
    assert.equal(b.status?.message, "gone");
    assert.equal(b.status?.details[0].type, "google.rpc.RetryInfo");
    assert.deepEqual(b.trailers, { "x-t": "w" });
    const j = JSON.parse(encodeServerFrame({ ...frame, message: { m: 1 } }, "json") as string);
    assert.deepEqual(j.status, { code: "not_found", message: "gone", details: [{ type: "google.rpc.RetryInfo", value: "CAE=" }] });
    assert.deepEqual(JSON.parse(encodeServerFrame({ id: "1", end: true, status: { code: 0, message: "" } }, "json") as string), { id: "1", end: true, status: { code: "ok" } });
  });

  it("finds the id of an oversized frame from its first bytes in both encodings", () => {
    const big = "x".repeat(200);
    const j = decodeClientFrame(Buffer.from(JSON.stringify({ id: "big", method: "a.B/C", message: { name: big } })), false, "json", 100);
    assert.ok("error" in j && j.id === "big" && j.opens && j.code === Code.ResourceExhausted);
    const b = decodeClientFrame(Buffer.from(toBinary(FrameSchema, create(FrameSchema, { id: "big", method: "a.B/C", message: Buffer.from(big) }))), true, "proto", 100);
    assert.ok("error" in b && b.id === "big" && b.opens && b.code === Code.ResourceExhausted);
  });
});

describe("upgrade checks (pure)", () => {
  it("treats an explicit default port as the same origin", () => {
    assert.equal(originAllowed("https://example.com", "example.com:443", []), true);
    assert.equal(originAllowed("http://example.com:80", "example.com", []), true);
    assert.equal(originAllowed("https://example.com", "example.com:8443", []), false);
    assert.equal(originAllowed("HTTPS://EXAMPLE.com", "example.com", []), true);
    assert.equal(originAllowed("chrome-extension://abc", "example.com", []), false);
    assert.equal(originAllowed("chrome-extension://abc", "example.com", ["chrome-extension://abc"]), true);
  });

  it("prefers the client's first known subprotocol and defaults to JSON", () => {
    const state = { allowedOrigins: [], connections: 0, maxConnections: 10, closing: false };
    assert.deepEqual(checkUpgrade({ "sec-websocket-protocol": "x, oneport.proto.v1, oneport.json.v1" }, state), { format: "proto", subprotocol: "oneport.proto.v1" });
    assert.deepEqual(checkUpgrade({}, state), { format: "json" });
    assert.equal((checkUpgrade({}, { ...state, closing: true }) as { status: number }).status, 503);
  });

  it("normalizes allowed origins and rejects paths", () => {
    assert.deepEqual(resolveWsOptions({ allowedOrigins: ["https://App.Example.com:443/"] }).allowedOrigins, ["https://app.example.com"]);
    assert.throws(() => resolveWsOptions({ allowedOrigins: ["https://a.example/x"] }), /scheme, host and port only/);
    assert.throws(() => resolveWsOptions({ path: "ws" }), /ws.path must be a path/);
  });
});
