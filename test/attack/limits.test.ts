// Limits an attacker runs into head first: connections, header size and count, HTTP/2 session memory,
// and the settings that set them (options validation, CLI flags and environment).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import http2 from "node:http2";
import { setTimeout } from "node:timers/promises";
import type { HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import WebSocket from "ws";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse, type HelloStreamRequest } from "../../src/gen/example/example_pb.js";
import { envelope } from "../../src/rpc/wire.js";
import { parseCli, usage } from "../../src/cli-config.js";
import { defaultLimits, resolveOptions, service } from "../../src/config.js";
import { scrape, valueOf } from "../observability/prom.js";
import { startServer } from "../support/server.js";
import { E, F, frame, grpcHeaders, grpcMessage, headerBlock, PREFACE, RawH2, settings, T } from "./h2raw.js";
import { eventually, probe, RawConn, serverSockets } from "./support.js";

describe("maxConnections", { timeout: 30_000 }, async () => {
  const { url, port } = await startServer({ limits: { maxConnections: 5 } });

  it("drops connections past the limit at once and serves again when the attacker leaves", async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => RawConn.open(port)));
    await eventually(() => serverSockets(port) === 5, "the server holds the attacker's 5 connections");
    const extra = await Promise.all(Array.from({ length: 10 }, () => RawConn.open(port)));
    await Promise.all(extra.map((c) => c.untilClosed()));
    assert.ok(held.every((c) => !c.closed), "the connections within the limit are kept");
    for (const c of held) c.socket.destroy();
    await eventually(() => serverSockets(port) === 0, "the attacker's connections are gone");
    await probe(url, "after");
  });
});

describe("maxHeaderBytes", { timeout: 30_000 }, async () => {
  const { url, port } = await startServer({ limits: { maxHeaderBytes: 2048 } });

  it("answers HTTP/1.1 headers past the limit with 431 and closes only that connection", async () => {
    const c = await RawConn.open(port);
    c.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(4096)}\r\n\r\n`);
    await c.untilClosed();
    assert.match(c.data, /^HTTP\/1\.1 431 /);
    await probe(url, "after");
  });

  it("refuses a WebSocket upgrade with headers past the limit with 431", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { "x-big": "a".repeat(4096) } });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => reject(new Error("upgraded")));
      ws.on("error", () => {});
    });
    assert.equal(status, 431);
  });

  it("resets an HTTP/2 request sent with the connection preface, before our SETTINGS were acknowledged, when its headers are past the limit", async () => {
    // Node applies SETTINGS_MAX_HEADER_LIST_SIZE only from the client's ACK on: this first stream
    // passed whatever its size (60 KB answered OK against a 16 KiB limit, found by an audit).
    const c = await RawH2.connect(port, false);
    try {
      const big = headerBlock(grpcHeaders("/example.ExampleService/SayHello", [["x-big", "a".repeat(4096)]]));
      c.write(Buffer.concat([PREFACE, settings(), frame(T.HEADERS, F.END_HEADERS, 1, big), frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 3, 66, 111, 98])))]));
      assert.ok(await c.until(() => c.frames.some((f) => f.streamId === 1 && f.type === T.RST_STREAM)), "stream 1 was reset");
      const reset = c.frames.find((f) => f.streamId === 1 && f.type === T.RST_STREAM)!;
      assert.equal(reset.payload.readUInt32BE(0), E.ENHANCE_YOUR_CALM);
      assert.ok(!c.frames.some((f) => f.streamId === 1 && f.type === T.HEADERS), "and not answered");
      assert.equal(await c.sayHello(3), true, "the connection goes on");
    } finally {
      c.destroy();
    }
  });

  it("serves an HTTP/2 request within the limit sent with the connection preface", async () => {
    const c = await RawH2.connect(port, false);
    try {
      const ok = headerBlock(grpcHeaders("/example.ExampleService/SayHello", [["x-ok", "a".repeat(1024)]]));
      c.write(Buffer.concat([PREFACE, settings(), frame(T.HEADERS, F.END_HEADERS, 1, ok), frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 3, 66, 111, 98])))]));
      assert.ok(await c.until(() => c.frames.some((f) => f.streamId === 1 && f.type === T.HEADERS && (f.flags & F.END_STREAM) !== 0)), "answered");
    } finally {
      c.destroy();
    }
  });

  it("serves headers within the limit", async () => {
    const c = await RawConn.open(port);
    c.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-ok: ${"a".repeat(1024)}\r\n\r\n`);
    await c.untilClosed();
    assert.match(c.data, /^HTTP\/1\.1 200 /);
  });
});

describe("maxHeaderCount", { timeout: 30_000 }, async () => {
  const { url, port } = await startServer({ limits: { maxHeaderCount: 20 } });
  // `host` plus n-1 more fields: n in all.
  const fields = (n: number) => Array.from({ length: n - 1 }, (_, i) => `x-f${i}: v\r\n`).join("");

  it("answers an HTTP/1.1 request with more header fields with 431 and closes only that connection", async () => {
    const c = await RawConn.open(port);
    c.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n${fields(21)}\r\n`);
    await c.untilClosed();
    assert.match(c.data, /^HTTP\/1\.1 431 /);
    await probe(url, "after");
  });

  it("serves an HTTP/1.1 request with exactly the limit", async () => {
    const c = await RawConn.open(port);
    c.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n${fields(19)}connection: close\r\n\r\n`);
    await c.untilClosed();
    assert.match(c.data, /^HTTP\/1\.1 200 /);
  });

  it("refuses a WebSocket upgrade with more header fields with 431", async () => {
    const headers = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x-f${i}`, "v"]));
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => reject(new Error("upgraded")));
      ws.on("error", () => {});
    });
    assert.equal(status, 431);
  });

  it("resets an HTTP/2 stream with more header fields (grpc-js: RESOURCE_EXHAUSTED), and the connection serves the next call", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
    type Cb = (err: grpc.ServiceError | null, res?: HelloResponse) => void;
    const hello = (n: number) =>
      new Promise<{ err?: grpc.ServiceError; res?: HelloResponse }>((resolve) => {
        const md = new grpc.Metadata();
        for (let i = 0; i < n; i++) md.set(`x-f${i}`, "v");
        (client.sayHello as (r: object, m: grpc.Metadata, cb: Cb) => void)({ name: "Bob" }, md, (err, res) => resolve(err ? { err } : { res }));
      });
    try {
      const refused = await hello(25);
      assert.equal(refused.err?.code, grpc.status.RESOURCE_EXHAUSTED, String(refused.err));
      // grpc-js's own fields (te, content-type, user-agent, ...) and 10 more are within 20.
      assert.equal((await hello(10)).res?.message, "Hello, Bob");
    } finally {
      client.close();
    }
  });
});

describe("http2MaxSessionMemoryMb", { timeout: 30_000 }, async () => {
  const { url } = await startServer({ limits: { http2MaxSessionMemoryMb: 1 } });

  /** A Connect server stream of ~50 KB messages on `session`, its response left unread. */
  function unreadStream(session: http2.ClientHttp2Session): Promise<http2.ClientHttp2Stream> {
    const body = envelope(0, Buffer.from(JSON.stringify({ name: "a".repeat(50_000), count: 100 })));
    const s = session.request({ ":method": "POST", ":path": "/example.ExampleService/SayHelloStream", "content-type": "application/connect+json" });
    s.end(body);
    return new Promise((resolve, reject) => {
      s.once("response", () => {
        s.pause();
        resolve(s);
      });
      s.once("error", reject);
    });
  }

  /** A unary Connect call on `session`: the HTTP status, or the RST_STREAM code it got. */
  function call(session: http2.ClientHttp2Session): Promise<string> {
    return new Promise((resolve) => {
      const s = session.request({ ":method": "POST", ":path": "/example.ExampleService/SayHello", "content-type": "application/json" });
      s.end('{"name":"Bob"}');
      let status = 0;
      s.on("response", (h) => (status = Number(h[":status"])));
      s.on("data", () => {});
      s.on("end", () => resolve(`status ${status}`));
      s.on("error", () => resolve(`reset ${s.rstCode}`));
    });
  }

  /** Calls on `session` until one answers `want` (at most 5 s); returns what the last call got. */
  async function callUntil(session: http2.ClientHttp2Session, want: string): Promise<string> {
    const end = Date.now() + 5000;
    let got = await call(session);
    while (got !== want && Date.now() < end) {
      await setTimeout(50);
      got = await call(session);
    }
    return got;
  }

  it("refuses new streams on a connection holding more, while other connections are served", async () => {
    const session = http2.connect(url);
    session.on("error", () => {});
    try {
      assert.equal(await call(session), "status 200");
      // Each stream's first message waits in the server's send queue (the client's window is full);
      // 40 of them hold about 2 MB.
      const big = await Promise.all(Array.from({ length: 40 }, () => unreadStream(session)));
      assert.equal(await callUntil(session, `reset ${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}`), `reset ${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}`, "a new stream is refused while the unread data is held");
      await probe(url, "another connection");
      for (const s of big) s.close(http2.constants.NGHTTP2_CANCEL);
      const fresh = http2.connect(url);
      fresh.on("error", () => {});
      assert.equal(await call(fresh), "status 200", "the client is served on a new connection");
      fresh.close();
    } finally {
      session.destroy();
    }
  });
});

// Node does not give back the session memory of a reset stream's unsent data (Http2Stream::Destroy
// drops its queue uncounted): a grpc-js channel that cancels server streams while the server waits
// to write would, after enough of them, get RESOURCE_EXHAUSTED for every call. The guard retires such
// a connection with GOAWAY at half the limit and grpc-js reconnects (src/http/h2-guard.ts).
describe("reset streams' unsent data (Node's session memory accounting)", { timeout: 60_000 }, async () => {
  const retired: string[] = [];
  const logger = pino({ level: "info" }, { write: (l: string) => void (l.includes("retiring an http2 connection") && retired.push(l)) });
  const big = "y".repeat(100_000);
  const { port, url } = await startServer({
    logger,
    limits: { http2MaxSessionMemoryMb: 2, floodCooldownMs: 0 },
    services: [
      service(ExampleService, {
        async *sayHelloStream(_req: HelloStreamRequest, ctx: HandlerContext) {
          while (!ctx.signal.aborted) yield { message: big };
        },
        sayHello: (req) => ({ message: `Hello, ${req.name}` }),
      }),
    ],
  });

  it("keeps a grpc-js channel working through 60 streams cancelled while the server waits to write", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
    type Stream = grpc.ClientReadableStream<HelloResponse>;
    try {
      for (let round = 1; round <= 60; round++) {
        const call = (client.sayHelloStream as (r: object) => Stream)({ name: "x" });
        const first = await new Promise<HelloResponse | grpc.ServiceError>((resolve) => {
          call.once("data", (m: HelloResponse) => {
            call.pause(); // stop reading: the server's next messages wait in its send queue
            resolve(m);
          });
          call.once("error", resolve);
        });
        assert.equal((first as HelloResponse).message?.length, big.length, `round ${round}: ${String(first)}`);
        await setTimeout(20);
        call.on("error", () => {}); // CANCELLED
        call.cancel();
      }
      const hello = await new Promise<HelloResponse>((resolve, reject) =>
        (client.sayHello as (r: object, cb: (e: grpc.ServiceError | null, r?: HelloResponse) => void) => void)({ name: "Bob" }, (e, r) => (e ? reject(e) : resolve(r!))),
      );
      assert.equal(hello.message, "Hello, Bob");
      assert.ok(retired.length >= 1, "the server retired the connection at least once");
      const m = await scrape(url);
      assert.equal(valueOf(m, "oneport_http2_connections_ended_total", { reason: "unsent_data" }), retired.length, "and counted it in /metrics");
      assert.equal(valueOf(m, "oneport_http2_connections_ended_total", { reason: "flood" }), 0);
    } finally {
      client.close();
    }
  });
});

describe("limit settings", () => {
  it("has safe defaults for every limit", () => {
    const l = resolveOptions({}).limits;
    assert.deepEqual(l, defaultLimits);
    assert.ok(l.headersTimeoutMs > 0 && l.requestTimeoutMs >= l.headersTimeoutMs && l.maxConnections > 0 && l.http2ControlFrameRate > 0);
  });

  it("refuses limits that would switch a protection off or contradict another", () => {
    assert.throws(() => resolveOptions({ limits: { headersTimeoutMs: 0 } }), /headersTimeoutMs must be at least 1/);
    assert.throws(() => resolveOptions({ limits: { maxHeaderBytes: 0 } }), /maxHeaderBytes must be at least 1/);
    assert.throws(() => resolveOptions({ limits: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }), /requestTimeoutMs \(1000\) must be 0 or at least headersTimeoutMs/);
    assert.throws(() => resolveOptions({ limits: { idleTimeoutMs: -1 } }), /non-negative integer/);
    assert.throws(() => resolveOptions({ limits: { http2ControlFrameBurst: 1000 } }), /http2ControlFrameBurst must be at most 900/);
    assert.throws(() => resolveOptions({ limits: { http2RapidResetBurst: 0 } }), /http2RapidResetBurst must be at least 1/);
    assert.throws(() => resolveOptions({ limits: { maxHeaderCount: 0 } }), /maxHeaderCount must be at least 1/);
    assert.throws(() => resolveOptions({ limits: { http2MaxSessionMemoryMb: 0 } }), /http2MaxSessionMemoryMb must be at least 1/);
    assert.equal(resolveOptions({ limits: { floodCooldownMs: 0 } }).limits.floodCooldownMs, 0, "the cool-down can be switched off");
  });

  it("reads the HTTP/2 flood settings from flags and the environment", () => {
    const cfg = parseCli(["--flood-cooldown-ms", "2500"], { HTTP2_RAPID_RESET_BURST: "50" });
    assert.equal(cfg.server.limits?.floodCooldownMs, 2500);
    assert.equal(cfg.server.limits?.http2RapidResetBurst, 50);
    assert.throws(() => parseCli(["--http2-rapid-reset-burst", "901"], {}), /--http2-rapid-reset-burst \(HTTP2_RAPID_RESET_BURST\) must be an integer from 1 to 900/);
    // Limits that cannot be turned off name their flag and its range too (not the option's name).
    assert.throws(() => parseCli(["--max-concurrent-streams", "0"], {}), /--max-concurrent-streams \(MAX_CONCURRENT_STREAMS\) must be an integer from 1 to/);
    assert.throws(() => parseCli([], { WS_MAX_FRAME_BYTES: "0" }), /--ws-max-frame-bytes \(WS_MAX_FRAME_BYTES\) must be an integer from 1 to/);
    assert.equal(parseCli(["--max-connections", "0"], {}).server.limits?.maxConnections, 0, "0 = unlimited where the limit may be off");
    assert.match(usage, /--flood-cooldown-ms N\n.*\[FLOOD_COOLDOWN_MS, default 10000\]/);
  });

  it("reads every limit from a flag or the environment, flags first", () => {
    const cfg = parseCli(
      ["--headers-timeout-ms", "3000", "--max-header-bytes", "8192", "--http2-control-frame-rate", "50", "--ws-max-streams-per-connection", "16", "--max-header-count", "64"],
      { REQUEST_TIMEOUT_MS: "60000", HEADERS_TIMEOUT_MS: "9999", MAX_CONNECTIONS: "100", WS_MAX_BUFFERED_BYTES: "65536", HTTP2_MAX_SESSION_MEMORY_MB: "32" },
    );
    assert.equal(cfg.server.limits?.maxHeaderCount, 64);
    assert.equal(cfg.server.limits?.http2MaxSessionMemoryMb, 32);
    assert.equal(cfg.server.limits?.headersTimeoutMs, 3000);
    assert.equal(cfg.server.limits?.requestTimeoutMs, 60000);
    assert.equal(cfg.server.limits?.maxHeaderBytes, 8192);
    assert.equal(cfg.server.limits?.maxConnections, 100);
    assert.equal(cfg.server.limits?.http2ControlFrameRate, 50);
    assert.deepEqual(cfg.server.ws, { maxStreamsPerConnection: 16, maxBufferedBytes: 65536 });
    assert.throws(() => parseCli(["--idle-timeout-ms", "soon"], {}), /--idle-timeout-ms \(IDLE_TIMEOUT_MS\) must be an integer/);
    assert.throws(() => parseCli(["--request-timeout-ms", "3000"], { HEADERS_TIMEOUT_MS: "5000" }), /--request-timeout-ms .* must be 0 or at least --headers-timeout-ms/);
  });

  it("lists every limit in --help with its variable and default", () => {
    for (const k of Object.keys(defaultLimits)) {
      const flag = k.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
      assert.match(usage, new RegExp(`--${flag} N`), `--help lists --${flag}`);
    }
    assert.match(usage, /--headers-timeout-ms N\n.*\[HEADERS_TIMEOUT_MS, default 10000\]/);
    assert.match(usage, /--ws-max-streams-per-connection N/);
  });
});
