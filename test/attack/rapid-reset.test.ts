// Rapid reset (CVE-2023-44487): streams a client resets before the server could run their handler
// have their own, smaller budget (http2RapidResetBurst) and cost no handler; a client that cancels
// many calls already running is not punished for it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { startServer } from "../support/server.js";
import { E, F, frame, grpcHeaders, grpcMessage, headerBlock, RawH2, rst, T } from "./h2raw.js";
import { probe, probeWhile } from "./support.js";

// Streams that reached a handler: a feature that takes two paths on the raw HTTP/2 stream hook,
// one answered on the next turn of the event loop (as a real call is), one answered at once.
let handlers = 0;
const LATER = "/test.Counted/Later";
const AT_ONCE = "/test.Counted/AtOnce";
const counter = () => ({
  name: "counter",
  stream: (s: ServerHttp2Stream, h: IncomingHttpHeaders) => {
    if (h[":path"] !== LATER && h[":path"] !== AT_ONCE) return false;
    handlers++;
    s.on("error", () => {});
    const answer = () => s.closed || s.respond({ ":status": 204 }, { endStream: true });
    if (h[":path"] === AT_ONCE) answer();
    else setImmediate(answer);
    return true;
  },
});
const request = (path: string) => headerBlock([[":method", "GET"], [":scheme", "http"], [":path", path], [":authority", "127.0.0.1"]]);

/** `n` requests to `path`, each reset right after it, as one buffer. */
function rapidResets(path: string, n: number): Buffer {
  const block = request(path);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1 + 2 * i, block), rst(1 + 2 * i));
  return Buffer.concat(out);
}

const limits = { http2ControlFrameRate: 20, http2ControlFrameBurst: 400, http2RapidResetBurst: 40, floodCooldownMs: 0 };
const stream = headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"));
// HelloStreamRequest{name: "x", count: 2, interval_ms: 5000}: answers once, then waits.
const slow = grpcMessage(Buffer.from([10, 1, 120, 16, 2, 24, 0x88, 0x27]));

describe("HTTP/2 rapid reset", { timeout: 60_000 }, async () => {
  const { url, port } = await startServer({ limits, features: [counter] });

  it("closes a connection past http2RapidResetBurst with ENHANCE_YOUR_CALM, running almost no handlers", async (t) => {
    handlers = 0;
    const c = await RawH2.connect(port);
    // Requests reset right after they were sent, all written at once: far past both budgets.
    c.write(rapidResets(LATER, 3000));
    await probeWhile(url, c.untilClosed());
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
    // Streams reset before their handler ran cost none: only the first few, before the session
    // looked like a rapid reset, reached a handler (8 by the guard's rule; a read boundary may add some).
    t.diagnostic(`${handlers} handlers ran`);
    assert.ok(handlers < 100, `${handlers} handlers ran for 3000 streams reset at once`);
  });

  it("closes a connection that opens more than maxConcurrentStreams + http2ControlFrameBurst streams in one turn, even when each is answered at once", async () => {
    // Answered at once, a stream is closed before its RST_STREAM arrives, so the reset counts
    // nowhere; nghttp2's own limit would answer at the 1000th with a GOAWAY that leaves the
    // connection open. 20 000 written at once: the first few hundred reach the server within one turn.
    const small = await startServer({ limits: { ...limits, maxConcurrentStreams: 50 }, features: [counter] });
    handlers = 0;
    const c = await RawH2.connect(small.port);
    c.write(rapidResets(AT_ONCE, 20_000));
    await probeWhile(small.url, c.untilClosed());
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
    assert.ok(handlers <= 50 + limits.http2ControlFrameBurst + 1, `${handlers} handlers ran`);
  });

  it("does not punish a client that cancels many running calls at once, and serves it after", async () => {
    const c = await RawH2.connect(port);
    const n = 150; // past the rapid-reset budget (40), within the control-frame burst (400)
    for (let i = 0; i < n; i++) c.write(Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, stream), frame(T.DATA, F.END_STREAM, 1 + 2 * i, slow)]));
    // Every call answered its first message: all handlers are running.
    const started = () => new Set(c.frames.filter((f) => f.type === T.DATA).map((f) => f.streamId)).size;
    assert.ok(await c.until(() => started() === n), `only ${started()} of ${n} calls started`);
    c.write(Buffer.concat(Array.from({ length: n }, (_, i) => rst(1 + 2 * i))));
    // A call after the cancels is answered (it waits a loop turn: the session is resetting) and
    // the connection is not closed.
    const answered = await c.sayHello(1 + 2 * n);
    assert.ok(answered, "the call after the cancels got its trailers");
    assert.equal(c.goaway, undefined);
    c.destroy();
  });

  it("serves a stream that waited a loop turn on a resetting connection like any other", async () => {
    const c = await RawH2.connect(port);
    // 20 resets of started calls make the session a resetting one; then a streaming call in full.
    for (let i = 0; i < 20; i++) c.write(Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, stream), frame(T.DATA, F.END_STREAM, 1 + 2 * i, slow)]));
    await c.until(() => new Set(c.frames.filter((f) => f.type === T.DATA).map((f) => f.streamId)).size === 20);
    c.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => rst(1 + 2 * i))));
    const id = 41;
    // HelloStreamRequest{name: "Bob", count: 3}
    c.write(Buffer.concat([frame(T.HEADERS, F.END_HEADERS, id, stream), frame(T.DATA, F.END_STREAM, id, grpcMessage(Buffer.from([10, 3, 66, 111, 98, 16, 3])))]));
    assert.ok(await c.until(() => c.frames.some((f) => f.streamId === id && f.type === T.HEADERS && (f.flags & F.END_STREAM) !== 0)));
    const data = Buffer.concat(c.frames.filter((f) => f.streamId === id && f.type === T.DATA).map((f) => f.payload));
    for (const n of [1, 2, 3]) assert.ok(data.includes(Buffer.from(`Hello, Bob (${n}/3)`)), `message ${n} of 3`);
    c.destroy();
  });

  it("still answers after all of the above", async () => {
    await probe(url, "after");
  });
});
