// Half-open and vanished clients, and idleness: a client that half-closes after a partial request,
// one that disappears mid-call, connections that stay without work. Each time the server frees what
// the client held (the call's AbortSignal fires, the kernel shows the socket gone) and keeps serving.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";
import { F, frame, grpcHeaders, grpcMessage, headerBlock, ping, RawH2, T } from "./h2raw.js";
import { eventually, probe, RawConn, serverSockets } from "./support.js";

// Streams that answer once, then wait until their call is cancelled, counting the cancellations.
let started = 0;
let aborted = 0;
const waiting = service(ExampleService, {
  ...(exampleService().impl as object),
  async *sayHelloStream(req, ctx) {
    started++;
    yield { message: `Hello, ${req.name}` };
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
    aborted++;
  },
});

describe("half-open and vanished clients", { timeout: 60_000 }, async () => {
  const { url, port } = await startServer({ services: [waiting], limits: { headersTimeoutMs: 2000, requestTimeoutMs: 4000 } });
  await probe(url, "warm");
  const base = serverSockets(port);

  it("closes an HTTP/1.1 connection half-closed after a partial request body", async () => {
    const c = await RawConn.open(port);
    c.write("POST /example.ExampleService/SayHello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"na");
    c.socket.end();
    await c.untilClosed();
    await eventually(() => serverSockets(port) <= base, "the server closed its side");
    await probe(url, "after");
  });

  it("closes an HTTP/1.1 connection half-closed in the middle of its headers", async () => {
    const c = await RawConn.open(port);
    c.write("GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: ");
    c.socket.end();
    await c.untilClosed();
    await eventually(() => serverSockets(port) <= base, "the server closed its side");
  });

  it("closes an HTTP/2 connection half-closed with a request in flight, cancelling the call", async () => {
    const c = await RawH2.connect(port);
    const before = aborted;
    c.write(frame(T.HEADERS, F.END_HEADERS, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"))));
    c.write(frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 1, 120]))));
    await c.until(() => c.frames.some((f) => f.type === T.DATA && f.streamId === 1));
    c.socket.end();
    await c.untilClosed();
    await eventually(() => aborted > before, "the call's AbortSignal fired");
    await eventually(() => serverSockets(port) <= base, "the server closed its side");
  });

  for (const proto of ["grpc (h2c)", "connect (HTTP/1.1)", "WebSocket"] as const) {
    it(`cancels the call of a ${proto} client that vanishes mid-stream`, async () => {
      const before = { started, aborted };
      let c: RawConn | RawH2 | Awaited<ReturnType<typeof connect>>;
      if (proto === "WebSocket") {
        const ws = await connect(url);
        ws.send({ id: "1", method: "example.ExampleService/SayHelloStream", message: { name: "x" } });
        await ws.until((fs) => fs.some((f) => f.id === "1" && f.message !== undefined));
        ws.ws.terminate(); // no close frame, no FIN handshake: gone
        c = ws;
      } else if (proto === "grpc (h2c)") {
        const h2 = await RawH2.connect(port);
        h2.write(frame(T.HEADERS, F.END_HEADERS, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"))));
        h2.write(frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 1, 120]))));
        await h2.until(() => h2.frames.some((f) => f.type === T.DATA && f.streamId === 1));
        h2.socket.resetAndDestroy();
        c = h2;
      } else {
        const raw = await RawConn.open(port);
        raw.write("POST /example.ExampleService/SayHelloStream HTTP/1.1\r\nhost: x\r\ncontent-type: application/connect+json\r\ncontent-length: 17\r\n\r\n");
        raw.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 12]), Buffer.from('{"name":"x"}')]));
        await eventually(() => raw.data.includes("Hello, x"), "the first message arrived");
        raw.socket.resetAndDestroy();
        c = raw;
      }
      assert.ok(c);
      assert.equal(started, before.started + 1);
      await eventually(() => aborted === before.aborted + 1, "the call's AbortSignal fired");
      await eventually(() => serverSockets(port) <= base, "the server closed its side");
      await probe(url, "after");
    });
  }
});

describe("idle connections", { timeout: 60_000 }, async () => {
  const idleTimeoutMs = 600;
  const { url, port } = await startServer({ services: [waiting], limits: { idleTimeoutMs } });

  it("closes an HTTP/1.1 keep-alive connection idle for idleTimeoutMs", async () => {
    const c = await RawConn.open(port);
    c.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    await eventually(() => c.data.includes("\r\n\r\n"), "the response arrived");
    assert.match(c.data, /^HTTP\/1\.1 200 /);
    await c.untilClosed();
  });

  it("closes an HTTP/2 connection without open streams after idleTimeoutMs, however often it pings", async () => {
    const c = await RawH2.connect(port);
    // One finished call first: a connection that never sends a request is cut at headersTimeoutMs instead.
    c.write(frame(T.HEADERS, F.END_HEADERS, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHello"))));
    c.write(frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 1, 120]))));
    await c.until(() => c.frames.some((f) => f.type === T.HEADERS && f.streamId === 1 && (f.flags & F.END_STREAM) !== 0));
    const pinger = setInterval(() => c.write(ping()), 100);
    await c.untilClosed();
    clearInterval(pinger);
    assert.equal(c.goaway, 0, "closed gracefully with GOAWAY(NO_ERROR)");
  });

  it("keeps an HTTP/2 connection whose stream is open but quiet past idleTimeoutMs", async () => {
    const c = await RawH2.connect(port);
    const before = aborted;
    c.write(frame(T.HEADERS, F.END_HEADERS, 1, headerBlock(grpcHeaders("/example.ExampleService/SayHelloStream"))));
    c.write(frame(T.DATA, F.END_STREAM, 1, grpcMessage(Buffer.from([10, 1, 120]))));
    await c.until(() => c.frames.some((f) => f.type === T.DATA && f.streamId === 1));
    // Wait for an HTTP/1.1 keep-alive connection opened now to be closed as idle: by then the
    // HTTP/2 connection has been quiet for longer than idleTimeoutMs too.
    const witness = await RawConn.open(port);
    witness.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    await witness.untilClosed();
    assert.ok(!c.closed, "the connection with an open stream is still open");
    assert.equal(aborted, before);
    c.destroy();
    await probe(url, "after");
  });

  it("keeps a WebSocket past requestTimeoutMs and headersTimeoutMs (they bound requests, not upgraded connections)", async () => {
    const short = await startServer({ services: [waiting], limits: { headersTimeoutMs: 200, requestTimeoutMs: 400 } });
    const ws = await connect(short.url);
    ws.send({ id: "1", method: "example.ExampleService/SayHelloStream", message: { name: "x" } });
    await ws.until((fs) => fs.some((f) => f.id === "1" && f.message !== undefined));
    // A slow HTTP/1.1 request on another connection is cut at requestTimeoutMs; the WebSocket is not.
    const slow = await RawConn.open(short.port);
    slow.write("POST /example.ExampleService/SayHello HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{");
    await slow.untilClosed();
    assert.match(slow.data, /^HTTP\/1\.1 408 /);
    ws.send({ id: "2", method: "example.ExampleService/SayHello", message: { name: "y" } });
    const [f] = await ws.stream("2");
    assert.deepEqual(f.message, { message: "Hello, y" });
    assert.equal(ws.closed, undefined);
    ws.ws.close();
  });
});
