// Pure-function fuzzing of the byte-level parsers: WebSocket frames in both encodings, the gRPC
// envelope reader, the headers-only protocol decisions of the RPC fast path (content types,
// timeouts, GET query) and the cleartext protocol sniffer. Nothing here may throw on any input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { parseTimeout as connectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as grpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { Registry } from "../../src/core/registry.js";
import { HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { sniff } from "../../src/http/listener.js";
import { acceptConnect } from "../../src/rpc/connect.js";
import { errorFromRstCode, type RequestHead } from "../../src/rpc/exchange.js";
import { acceptGrpc } from "../../src/rpc/grpc.js";
import { codecOf, singleEnvelope } from "../../src/rpc/wire.js";
import { decodeClientFrame, encodeServerFrame, type ClientFrame, type FrameError } from "../../src/ws/frame.js";
import { exampleService } from "../../src/services/example.js";
import { budget, envelope, junkText, mutated, mutatedText } from "./support.js";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const enc = new TextEncoder();

/** Checks the shape of whatever decodeClientFrame returned. */
function wellFormed(f: ClientFrame | FrameError, what: string): void {
  if ("error" in f) {
    assert.equal(typeof f.error, "string", what);
    assert.ok(f.error.length > 0 && f.error.length < 1000, `${what}: ${f.error}`);
    assert.equal(typeof f.code, "number", what);
    assert.equal(typeof f.id, "string", what);
    return;
  }
  assert.equal(typeof f.id, "string", what);
  assert.equal(typeof f.method, "string", what);
  assert.equal(typeof f.end, "boolean", what);
  assert.equal(typeof f.cancel, "boolean", what);
  if (f.headers !== undefined) for (const v of Object.values(f.headers)) assert.equal(typeof v, "string", what);
  if (f.timeoutMs !== undefined) assert.ok(Number.isInteger(f.timeoutMs) && f.timeoutMs >= 0 && f.timeoutMs <= 0xffffffff, what);
}

const jsonSeeds = [
  '{"id":"1","method":"example.ExampleService/SayHello","message":{"name":"Bob"}}',
  '{"id":"2","method":"example.ExampleService/Chatter","headers":{"authorization":"Bearer x"},"timeout_ms":500}',
  '{"id":"2","message":{"name":"a"}}',
  '{"id":"2","end":true}',
  '{"id":"2","cancel":true}',
  '{"id":"3","timeoutMs":"100","message":null,"headers":null}',
];
const binSeeds = [
  toBinary(FrameSchema, create(FrameSchema, { id: "1", method: "example.ExampleService/SayHello", message: toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" })) })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", method: "example.ExampleService/Chatter", headers: { authorization: "Bearer x", "x-a": "b" }, timeoutMs: 500 })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", message: new Uint8Array([10, 1, 97]), end: true })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", cancel: true })),
];

describe("wire parsers under fuzzing", () => {
  it("decodes any text, JSON value or mutated JSON frame into a frame or a FrameError (oneport.json.v1)", () => {
    const text = fc.oneof(mutatedText(jsonSeeds), fc.json(), junkText('{}[]":,0123456789.-eEtruefalsnid', 40), fc.string({ maxLength: 40, unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)) }));
    fc.assert(
      fc.property(text, fc.constantFrom(64, 1 << 20), (s, max) => {
        const f = decodeClientFrame(Buffer.from(s), false, "json", max);
        wellFormed(f, s);
        // A frame over the limit is refused whatever it holds.
        if (Buffer.byteLength(s) > max) assert.ok("error" in f);
      }),
      budget(6000, 2500),
    );
  });

  it("decodes any bytes or mutated binary frame into a frame or a FrameError (oneport.proto.v1)", () => {
    const bytes = fc.oneof(mutated(binSeeds, { maxOps: 5 }), fc.uint8Array({ maxLength: 64 }));
    fc.assert(
      fc.property(bytes, fc.constantFrom(16, 1 << 20), (b, max) => {
        const f = decodeClientFrame(Buffer.from(b), true, "proto", max);
        wellFormed(f, Buffer.from(b).toString("hex"));
      }),
      budget(8000, 2000),
    );
  });

  it("refuses a frame in the other connection's encoding, never throwing", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.boolean(), (b, isBinary) => {
        const f = decodeClientFrame(Buffer.from(b), isBinary, isBinary ? "json" : "proto", 1 << 20);
        assert.ok("error" in f);
      }),
      budget(2000, 400),
    );
  });

  it("writes server frames that decode back, for any id, headers and status text", () => {
    const frame = fc.record({ id: fc.string({ maxLength: 8 }), headers: fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }), code: fc.integer({ min: 0, max: 16 }), message: fc.string({ maxLength: 16 }) });
    fc.assert(
      fc.property(frame, (f) => {
        const server = { id: f.id, headers: f.headers, end: true, status: { code: f.code, message: f.message } };
        const json = JSON.parse(encodeServerFrame(server, "json") as string) as { id?: string; status: { code: string; message?: string } };
        const bin = fromBinary(FrameSchema, encodeServerFrame(server, "proto") as Uint8Array);
        assert.equal(json.id ?? "", f.id);
        assert.equal(bin.id, f.id);
        assert.equal(bin.status?.code, json.status.code);
        assert.equal(bin.status?.message, json.status.message ?? "");
        assert.deepEqual(bin.headers, Object.keys(f.headers).length > 0 ? { ...f.headers } : {});
      }),
      budget(2000, 500),
    );
  });

  it("reads one gRPC envelope from any body, or returns connect's error for it", () => {
    const valid = [envelope(toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }))), envelope(new Uint8Array(0)), envelope(new Uint8Array(3), 1)];
    const body = fc.oneof(mutated(valid, { lengthAt: [1], maxOps: 3 }), fc.uint8Array({ maxLength: 24 }));
    fc.assert(
      fc.property(body, fc.constantFrom(4, 1024), (b, max) => {
        const buf = Buffer.from(b);
        const r = singleEnvelope(buf, max, "unary");
        if (r instanceof ConnectError) return assert.ok(r.code > 0 && r.rawMessage.length > 0);
        // Exactly one whole, uncompressed envelope within the limit.
        assert.equal(buf[0] & 1, 0);
        assert.equal(buf.readUInt32BE(1), r.byteLength);
        assert.equal(5 + r.byteLength, buf.length);
        assert.ok(r.byteLength <= max);
      }),
      budget(10000, 1500),
    );
  });

  it("parses mutated request messages of a method into a message or a ConnectError, both encodings", () => {
    const registry = new Registry();
    registry.add(exampleService());
    const m = registry.lookup("/example.ExampleService/SayHello")!;
    const codec = codecOf(m, 64, 1024);
    const seeds = [toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" })), enc.encode('{"name":"Bob"}')];
    fc.assert(
      fc.property(fc.oneof(mutated(seeds, { maxOps: 5 }), fc.uint8Array({ maxLength: 80 })), fc.boolean(), (b, binary) => {
        try {
          codec.parse(binary, b);
        } catch (e) {
          assert.ok(e instanceof ConnectError, `not a ConnectError: ${String(e)}`);
        }
      }),
      budget(8000, 1500),
    );
  });

  it("decides gRPC and Connect fast-path eligibility from any headers without throwing", () => {
    const registry = new Registry();
    registry.add(exampleService());
    const ms = registry.methods();
    const ct = fc.oneof(fc.constantFrom("application/grpc", "application/grpc+proto", "application/grpc-web+json; charset=utf-8", "application/grpc-web-text", "application/json", "application/proto", "application/connect+json", "APPLICATION/JSON; CHARSET=UTF-8"), mutatedText(["application/grpc-web+proto", "application/json; charset=utf-8"]));
    const head = fc.record({
      method: fc.constantFrom("GET", "POST", "PUT", "get", ""),
      target: fc.oneof(
        fc.constant("/example.ExampleService/SayHello"),
        mutatedText(["/example.ExampleService/SayHello?encoding=json&message=%7B%7D", "/x?encoding=proto&base64=1&message=CgNCb2I&compression=identity&connect=v1"]),
      ),
      httpVersion: fc.constantFrom("1.1", "2.0", "1.0"),
      ct: fc.option(ct),
      enc: fc.option(fc.constantFrom("identity", "gzip", "br", "", "IDENTITY")),
    });
    fc.assert(
      fc.property(fc.constantFrom(...ms), head, (m, h) => {
        const headers: Record<string, string> = {};
        if (h.ct !== null) headers["content-type"] = h.ct;
        if (h.enc !== null) headers["grpc-encoding"] = headers["content-encoding"] = h.enc;
        const rh: RequestHead = { method: h.method, target: h.target, httpVersion: h.httpVersion, headers };
        const g = acceptGrpc(m, rh);
        if (g) assert.ok(h.method === "POST" && (g.web || h.httpVersion === "2.0"));
        const c = acceptConnect(m, rh);
        if (c) assert.ok(m.spec.kind === "unary");
      }),
      budget(5000, 1500),
    );
  });

  it("reads grpc-timeout and connect-timeout-ms values as a deadline or an INVALID_ARGUMENT", () => {
    fc.assert(
      fc.property(fc.oneof(junkText("0123456789HMSmun -+.e", 12), fc.nat().map(String), fc.string({ maxLength: 12 })), (s) => {
        for (const t of [grpcTimeout(s, Number.MAX_SAFE_INTEGER), connectTimeout(s, Number.MAX_SAFE_INTEGER)]) {
          if (t.error) assert.ok(t.error instanceof ConnectError && t.error.code === 3, t.error.message);
          else assert.ok(typeof t.timeoutMs === "number" && t.timeoutMs >= 0 && Number.isFinite(t.timeoutMs), `${s} -> ${t.timeoutMs}`);
        }
      }),
      budget(8000, 800),
    );
  });

  it("maps any HTTP/2 RST_STREAM code to a ConnectError the handler sees", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 0x10 }), fc.nat(), fc.constant(0xffffffff)), (code) => {
        const e = errorFromRstCode(code);
        assert.ok(e instanceof ConnectError && e.code >= 1 && e.code <= 16, String(e));
      }),
      budget(2000, 500),
    );
  });

  it("sniffs h2 exactly for bytes that start with the preface, waits on its prefixes, else HTTP/1.1", () => {
    const bytes = fc.oneof(
      fc.nat(PREFACE.length).map((n) => Buffer.from(PREFACE.slice(0, n), "latin1")),
      mutated([Buffer.from(PREFACE + "\x00\x00\x00\x04\x00\x00\x00\x00\x00", "latin1"), Buffer.from("GET / HTTP/1.1\r\n\r\n", "latin1")], { maxOps: 2 }),
      fc.uint8Array({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const buf = Buffer.from(b);
        const kind = sniff(buf);
        const p = Buffer.from(PREFACE, "latin1");
        const isPrefix = buf.subarray(0, p.length).equals(p.subarray(0, Math.min(buf.length, p.length)));
        assert.equal(kind, isPrefix ? (buf.length >= p.length ? "h2" : "more") : "http1");
      }),
      budget(10000, 800),
    );
  });
});
