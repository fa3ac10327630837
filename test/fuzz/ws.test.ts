// The WebSocket bridge in both subprotocols: random text, mutated valid JSON frames, random bytes
// and mutated binary frames, also in the other subprotocol's encoding. Every frame the server sends
// is well-formed (an error frame or a status frame), the connection stays open, and a valid call
// sent after the junk on the same connection answers.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import WebSocket from "ws";
import { HelloRequestSchema, HelloResponseSchema } from "../../src/gen/example/example_pb.js";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { assertClean, budget, envelope, h2call, HANG_MS, junkText, mutated, mutatedText, startFuzzServer } from "./support.js";

const srv = await startFuzzServer({ limits: { maxMessageBytes: 4096 }, ws: { maxFrameBytes: 8192 } });
after(() => srv.assertNoCrash());

type Format = "json" | "proto";
/** A server frame reduced to what the checks need. */
type Seen = { id: string; end: boolean; code?: string; message?: string; payload?: unknown };

const hello = (name: string) => toBinary(HelloRequestSchema, create(HelloRequestSchema, { name }));
const jsonSeeds = [
  '{"id":"1","method":"example.ExampleService/SayHello","message":{"name":"Bob"}}',
  '{"id":"2","method":"example.ExampleService/CollectNames","headers":{"x-a":"b"},"timeout_ms":5000}',
  '{"id":"2","message":{"name":"a"}}',
  '{"id":"2","end":true}',
  '{"id":"3","method":"example.ExampleService/SayHelloStream","message":{"name":"Bob","count":2}}',
  '{"id":"3","cancel":true}',
];
const binSeeds = [
  toBinary(FrameSchema, create(FrameSchema, { id: "1", method: "example.ExampleService/SayHello", message: hello("Bob") })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", method: "example.ExampleService/Chatter", headers: { "x-a": "b" }, timeoutMs: 5000 })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", message: hello("a") })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", end: true })),
  toBinary(FrameSchema, create(FrameSchema, { id: "2", cancel: true })),
];
const CHECK = "zz-valid-check";

/** Parses and checks one server frame; throws on anything malformed. */
function parse(data: Buffer, isBinary: boolean, format: Format): Seen {
  assert.equal(isBinary, format === "proto", "a frame in the wrong encoding");
  let f: Seen;
  if (format === "json") {
    const o = JSON.parse(data.toString("utf8")) as { id?: string; end?: boolean; status?: { code: string; message?: string }; message?: unknown };
    f = { id: o.id ?? "", end: o.end === true, code: o.status?.code, message: o.status?.message, payload: o.message };
  } else {
    const b = fromBinary(FrameSchema, data);
    f = { id: b.id, end: b.end, code: b.status?.code, message: b.status?.message, payload: b.message };
  }
  if (f.code !== undefined) {
    assert.ok(f.end, "a status in a frame that does not end its stream");
    assert.ok(f.code === "ok" || codeFromString(f.code) !== undefined, `unknown code ${f.code}`);
    assertClean(f.message ?? "", `status ${f.code}`);
  }
  if (f.end) assert.ok(f.code !== undefined, "a final frame without status");
  return f;
}

/** Opens a connection, sends the junk, then a valid SayHello; resolves once that call answered. */
function session(format: Format, junk: Array<string | Uint8Array>): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.url.replace(/^http/, "ws") + "/ws", [format === "json" ? "oneport.json.v1" : "oneport.proto.v1"]);
    const timer = setTimeout(() => fail(new Error(`no answer to the valid call within ${HANG_MS} ms`)), HANG_MS);
    const fail = (e: unknown) => {
      clearTimeout(timer);
      ws.terminate();
      reject(e);
    };
    ws.on("error", fail);
    ws.on("close", (code, reason) => fail(new Error(`the server closed the connection (${code} ${reason.toString()})`)));
    ws.on("message", (data: Buffer, isBinary) => {
      try {
        const f = parse(data, isBinary, format);
        if (f.id !== CHECK) return;
        assert.equal(f.code, "ok");
        const text = format === "json" ? (f.payload as { message: string }).message : fromBinary(HelloResponseSchema, f.payload as Uint8Array).message;
        assert.equal(text, "Hello, after");
        clearTimeout(timer);
        ws.removeAllListeners("close");
        ws.close();
        resolve();
      } catch (e) {
        fail(e);
      }
    });
    ws.on("open", () => {
      for (const j of junk) ws.send(j, { binary: typeof j !== "string" });
      ws.send(format === "json" ? JSON.stringify({ id: CHECK, method: "example.ExampleService/SayHello", message: { name: "after" } }) : toBinary(FrameSchema, create(FrameSchema, { id: CHECK, method: "example.ExampleService/SayHello", message: hello("after") })));
    });
  });
}

const jsonJunk = fc.oneof(
  { weight: 4, arbitrary: mutatedText(jsonSeeds, { maxOps: 3 }) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: junkText('{}[]":,0123456789.-truefalsnid', 40) },
  { weight: 1, arbitrary: fc.constantFrom("hello", "", "{}", "[]", "null", '{"id":""}', '{"id":"1","message":{"name":"x"}}', "x".repeat(9000)) },
);
const protoJunk = fc.oneof({ weight: 4, arbitrary: mutated(binSeeds, { maxOps: 4 }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(9000)) });

/** An RFC 8441 extended CONNECT on `session`: the response status and body; the stream is closed after. */
function extendedConnect(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; json: boolean; body: string; rstCode?: number }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":scheme": "http", ":authority": `127.0.0.1:${srv.port}`, ...headers }, { endStream: false });
    const timer = setTimeout(() => reject(new Error(`no answer to the extended CONNECT within ${HANG_MS} ms`)), HANG_MS);
    let status = 0;
    let json = false;
    let body = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      json = String(h["content-type"]).startsWith("application/json");
      // A handshake that succeeded is a WebSocket now: nothing more to read, end it.
      if (status === 200) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.on("data", (d: Buffer) => (body += d.toString("utf8")));
    stream.on("error", () => undefined);
    stream.on("close", () => {
      clearTimeout(timer);
      resolve({ status, json, body, rstCode: status === 200 ? undefined : stream.rstCode || undefined });
    });
    if (status !== 200) stream.end();
  });
}

describe("WebSocket bridge under fuzzing", { timeout: 120_000 }, () => {
  it("answers random and mutated JSON frames with error or status frames and keeps the connection serving (oneport.json.v1)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 5, arbitrary: jsonJunk }, { weight: 1, arbitrary: protoJunk }), { minLength: 1, maxLength: 6 }), (junk) => session("json", junk)),
      budget(300, 3500),
    );
  });

  it("answers random and mutated binary frames with error or status frames and keeps the connection serving (oneport.proto.v1)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 5, arbitrary: protoJunk }, { weight: 1, arbitrary: jsonJunk }), { minLength: 1, maxLength: 6 }), (junk) => session("proto", junk)),
      budget(300, 3500),
    );
  });

  it("answers mutated RFC 8441 handshakes (WebSocket over HTTP/2) with 200 or a 4xx, and the session serves on", async () => {
    const session = http2.connect(srv.url);
    session.on("error", () => undefined);
    after(() => session.close());
    await new Promise((r) => session.once("remoteSettings", r));
    const printable = (seeds: string[]) => mutatedText(seeds, { maxOps: 2 }).map((v) => v.replace(/[^\x20-\x7e]/g, "").trim());
    const headers = fc.record(
      {
        ":path": fc.oneof(fc.constantFrom("/ws", "/ws?x=1", "/other", "/"), printable(["/ws"]).map((p) => (p.startsWith("/") ? p : "/" + p))),
        "sec-websocket-version": fc.oneof(fc.constantFrom("13", "8", "", "x"), printable(["13"])),
        "sec-websocket-protocol": fc.oneof(fc.constantFrom("oneport.json.v1", "oneport.proto.v1", "oneport.json.v1, oneport.proto.v1", "other", ""), printable(["oneport.proto.v1"])),
        origin: fc.oneof(fc.constantFrom(`http://127.0.0.1:${srv.port}`, "http://evil.example", "null", "not a url"), printable(["http://127.0.0.1"])),
      },
      { requiredKeys: [":path"] },
    );
    await fc.assert(
      fc.asyncProperty(headers, async (h) => {
        const a = await extendedConnect(session, h);
        // nghttp2 refuses a :path with a space (not a path character, RFC 3986) as a malformed request
        // (RFC 9113 8.1.1: stream error PROTOCOL_ERROR) before any of our code sees the stream.
        if (/ /.test(String(h[":path"])) && a.rstCode === http2.constants.NGHTTP2_PROTOCOL_ERROR) return;
        assert.equal(a.rstCode, undefined, `${JSON.stringify(h)}: the stream was reset`);
        assert.ok(a.status === 200 || (a.status >= 400 && a.status < 500), `${JSON.stringify(h)}: HTTP ${a.status} ${a.body}`);
        // Our own refusals are Connect-style JSON; ws's header syntax checks answer in plain text.
        if (a.status !== 200) assertClean(a.json ? (JSON.parse(a.body) as { message: string }).message : a.body, JSON.stringify(h));
      }),
      budget(300, 2500),
    );
    // The same session still serves a gRPC call.
    const r = await h2call(session, { ":path": "/example.ExampleService/SayHello", "content-type": "application/grpc", te: "trailers" }, envelope(hello("after")));
    assert.equal(r.trailers["grpc-status"], "0");
  });
});
