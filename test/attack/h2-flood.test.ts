// HTTP/2 floods written as raw frames: rapid reset (CVE-2023-44487), SETTINGS and PING floods,
// streams past SETTINGS_MAX_CONCURRENT_STREAMS, oversized header blocks. The flooding connection is
// closed with GOAWAY(ENHANCE_YOUR_CALM) (or its stream refused) while a probe keeps getting answers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { scrape, valueOf } from "../observability/prom.js";
import { startServer } from "../support/server.js";
import { E, F, frame, grpcHeaders, grpcMessage, headerBlock, ping, RawH2, rst, settings, T } from "./h2raw.js";
import { probe, probeWhile } from "./support.js";

// A small budget so a test floods past it in a moment; the rate refills slowly. No address cool-down:
// every test floods from 127.0.0.1 again (cooldown.test.ts tests it).
const limits = { http2ControlFrameRate: 20, http2ControlFrameBurst: 200, maxConcurrentStreams: 8, maxHeaderBytes: 4096, floodCooldownMs: 0 };

/** Floods with `make(i)` until the server closes the connection; returns how many frames went out. */
async function flood(c: RawH2, make: (i: number) => Buffer): Promise<number> {
  let i = 0;
  while (!c.closed && i < 100_000) {
    const chunk: Buffer[] = [];
    for (let j = 0; j < 50; j++) chunk.push(make(i++));
    if (!c.write(Buffer.concat(chunk))) break;
    await new Promise((r) => setImmediate(r));
  }
  await c.untilClosed();
  return i;
}

describe("HTTP/2 floods", { timeout: 60_000 }, async () => {
  const { url, port } = await startServer({ limits });
  const hello = headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"));

  it("closes a rapid-reset connection (HEADERS then RST_STREAM, thousands) with ENHANCE_YOUR_CALM", async () => {
    const c = await RawH2.connect(port);
    const sent = flood(c, (i) => Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, hello), rst(1 + 2 * i)]));
    await probeWhile(url, sent);
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
    assert.ok((await sent) < 100_000, "the server gave up on the flood before the attacker did");
    assert.ok(valueOf(await scrape(url), "oneport_http2_connections_ended_total", { reason: "flood" }) >= 1, "counted in /metrics");
  });

  it("closes a SETTINGS flood with ENHANCE_YOUR_CALM", async () => {
    const c = await RawH2.connect(port);
    const sent = flood(c, () => settings([[0x3, 100]]));
    await probeWhile(url, sent);
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
  });

  it("closes a PING flood with ENHANCE_YOUR_CALM", async () => {
    const c = await RawH2.connect(port);
    const sent = flood(c, (i) => ping(i));
    await probeWhile(url, sent);
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
  });

  it("lets a connection ping and cancel at a normal pace", async () => {
    const c = await RawH2.connect(port);
    // Well under the burst: a client that cancels its calls or checks liveness is no attacker.
    for (let i = 0; i < 50; i++) c.write(Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, hello), rst(1 + 2 * i), ping(i)]));
    const answered = await c.sayHello(101);
    assert.ok(answered, "the call after the cancels got its trailers");
    assert.equal(c.goaway, undefined);
    c.destroy();
  });

  it("closes a connection that opens streams past maxConcurrentStreams after acknowledging it", async () => {
    const c = await RawH2.connect(port);
    // The client acknowledged SETTINGS_MAX_CONCURRENT_STREAMS (8) and opens 20 slow streams anyway:
    // nghttp2 answers the first 8 and ends the connection (a connection error, RFC 9113 §5.1.2).
    const slow = headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"));
    // HelloStreamRequest{name: "x", count: 2, interval_ms: 5000}
    const req = grpcMessage(Buffer.from([10, 1, 120, 16, 2, 24, 0x88, 0x27]));
    for (let i = 0; i < 20; i++) c.write(Buffer.concat([frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, slow), frame(T.DATA, F.END_STREAM, 1 + 2 * i, req)]));
    await c.untilClosed();
    assert.notEqual(c.goaway, undefined);
    assert.notEqual(c.goaway, E.NO_ERROR);
    const answered = new Set(c.frames.filter((f) => f.type === T.HEADERS).map((f) => f.streamId));
    assert.equal(answered.size, limits.maxConcurrentStreams);
    await probe(url, "during");
  });

  it("serves a real client that needs more streams than maxConcurrentStreams (it waits for room)", async () => {
    const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    // Once the client has the server's SETTINGS (after a first call), nghttp2 holds back streams
    // past the limit until others end. Streams sent before that are refused (REFUSED_STREAM, safe
    // to retry; grpc-js retries them, connect-node does not).
    await client.sayHello({ name: "warm" });
    const calls = Array.from({ length: 3 * limits.maxConcurrentStreams }, async (_, i) => {
      const got: string[] = [];
      for await (const r of client.sayHelloStream({ name: `c${i}`, count: 2, intervalMs: 50 })) got.push(r.message);
      return got.length;
    });
    assert.deepEqual(await Promise.all(calls), calls.map(() => 2));
  });

  it("resets a stream whose headers exceed maxHeaderBytes, and serves the next one", async () => {
    const c = await RawH2.connect(port);
    c.write(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHello", [["x-big", "a".repeat(8000)]]))));
    await c.until(() => c.frames.some((f) => f.streamId === 1 && (f.type === T.RST_STREAM || f.type === T.HEADERS)));
    const f = c.frames.find((x) => x.streamId === 1)!;
    assert.equal(f.type, T.RST_STREAM);
    assert.equal(f.payload.readUInt32BE(0), E.ENHANCE_YOUR_CALM);
    assert.ok(await c.sayHello(3));
    c.destroy();
  });

  it("closes a rapid reset written all at once (30 000 pairs) at the default limits", async () => {
    // nghttp2's own limit acts at 1000 resets; a budget that ran out together with it once hung the
    // whole process, and refused streams without an error listener crashed it.
    const def = await startServer();
    // From another address than the probe's: at the default limits that address then cools down.
    const c = await RawH2.connect(def.port, true, "127.0.0.2");
    const pairs: Buffer[] = [];
    for (let i = 0; i < 30_000; i++) pairs.push(frame(T.HEADERS, F.END_HEADERS, 1 + 2 * i, hello), rst(1 + 2 * i));
    c.write(Buffer.concat(pairs));
    await probeWhile(def.url, c.untilClosed());
    assert.equal(c.goaway, E.ENHANCE_YOUR_CALM);
  });

  it("still answers after all of the above", async () => {
    await probe(url, "after");
  });
});
