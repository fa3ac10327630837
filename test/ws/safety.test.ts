import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { service } from "../../src/config.js";
import { ExampleService, type HelloStreamRequest } from "../../src/gen/example/example_pb.js";
import { createServer } from "../../src/server.js";
import { exampleService, greet } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { connect, upgradeStatus } from "./client.js";

const sayHello = (id: string, name = "Bob") => ({ id, method: "example.ExampleService/SayHello", message: { name } });

describe("WebSocket origin check", { timeout: 20_000 }, async () => {
  const { url, port } = await startServer({ ws: { allowedOrigins: ["https://app.example.com"] } });

  it("refuses a foreign Origin with HTTP 403 at upgrade", async () => {
    const r = await upgradeStatus(url, { options: { origin: "https://evil.example" } });
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.body).code, "permission_denied");
  });

  it("accepts its own origin, a listed origin and a client without Origin", async () => {
    assert.equal((await upgradeStatus(url, { options: { origin: `http://127.0.0.1:${port}` } })).status, 101);
    assert.equal((await upgradeStatus(url, { options: { origin: "https://app.example.com" } })).status, 101);
    assert.equal((await upgradeStatus(url)).status, 101);
  });

  it("refuses the same host on another port and the null origin", async () => {
    assert.equal((await upgradeStatus(url, { options: { origin: `http://127.0.0.1:${port + 1}` } })).status, 403);
    assert.equal((await upgradeStatus(url, { options: { origin: "null" } })).status, 403);
  });

  it("refuses a subprotocol it does not speak with 400 and names the ones it does", async () => {
    const r = await upgradeStatus(url, { protocols: ["mqtt"] });
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).message, /oneport.json.v1 or oneport.proto.v1/);
  });

  it("rejects a malformed allowlist entry when the server is created", () => {
    assert.throws(() => createServer({ ws: { allowedOrigins: ["app.example.com/path"] } }), /ws.allowedOrigins/);
    assert.throws(() => createServer({ ws: { maxFrameBytes: 0 } }), /ws.maxFrameBytes must be an integer of at least 1/);
    assert.throws(() => createServer({ ws: { maxFrams: 1 } as never }), /unknown ws option "maxFrams"/);
  });
});

describe("WebSocket stream limit", { timeout: 20_000 }, async () => {
  const { url } = await startServer({ ws: { maxStreamsPerConnection: 2 } });

  it("ends a stream beyond maxStreamsPerConnection with resource_exhausted; the others go on", async () => {
    const c = await connect(url);
    c.send({ id: "1", method: "example.ExampleService/Chatter" });
    c.send({ id: "2", method: "example.ExampleService/Chatter" });
    c.send({ id: "3", method: "example.ExampleService/Chatter" });
    const [third] = await c.stream("3");
    assert.equal(third.status?.code, "resource_exhausted");
    for (const id of ["1", "2"]) c.send({ id, message: { name: id }, end: true });
    for (const id of ["1", "2"]) assert.equal((await c.stream(id)).at(-1)?.status?.code, "ok");
  });

});

describe("WebSocket connection limit", { timeout: 20_000 }, async () => {
  // Its own server: no connection of another test may still be closing when this one counts.
  const { url } = await startServer({ ws: { maxConnections: 2 } });

  it("refuses a connection beyond maxConnections with HTTP 503", async () => {
    const a = await connect(url);
    const b = await connect(url);
    const r = await upgradeStatus(url);
    assert.equal(r.status, 503);
    assert.match(JSON.parse(r.body).message, /too many WebSocket connections/);
    a.close();
    b.close();
    await Promise.all([a.closedWith(), b.closedWith()]);
  });
});

describe("WebSocket idle timeout", { timeout: 20_000 }, async () => {
  const { url } = await startServer({ ws: { idleTimeoutMs: 100, pingIntervalMs: 0 } });

  it("closes a connection that has no streams and sends nothing for idleTimeoutMs", async () => {
    const c = await connect(url);
    c.send(sayHello("1"));
    await c.stream("1");
    const closed = await c.closedWith();
    assert.deepEqual(closed, { code: 1000, reason: "idle timeout" });
  });

  it("keeps a connection with an open stream past the idle timeout", async () => {
    const c = await connect(url);
    c.send({ id: "s", method: "example.ExampleService/SayHelloStream", message: { name: "Ann", count: 2, intervalMs: 300 } });
    const fs = await c.stream("s");
    assert.equal(fs.at(-1)?.status?.code, "ok");
    assert.equal(c.closed, undefined);
  });

});

describe("WebSocket heartbeat", { timeout: 20_000 }, async () => {
  // No idle timeout here: only the heartbeat may close the connection.
  const { url } = await startServer({ ws: { idleTimeoutMs: 0, pingIntervalMs: 50 } });

  it("drops a peer that does not answer pings", async () => {
    const c = await connect(url, { options: { autoPong: false } });
    const closed = await c.closedWith();
    assert.equal(closed.code, 1006, "terminated without a close handshake");
  });

  it("keeps a peer that answers pings, though it sends nothing", async () => {
    const c = await connect(url);
    // Several heartbeats pass while this call waits; the connection is still there afterwards.
    c.send({ id: "s", method: "example.ExampleService/SayHelloStream", message: { name: "Ann", count: 2, intervalMs: 300 } });
    assert.equal((await c.stream("s")).at(-1)?.status?.code, "ok");
    c.send(sayHello("after"));
    assert.equal((await c.stream("after"))[0].status?.code, "ok");
  });
});

// A firehose: big greetings as fast as the connection takes them, until the call is cancelled.
// `stopped` resolves when the server has ended the call (its signal fired).
let stop = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
const firehose = service(ExampleService, {
  ...exampleService().impl,
  async *sayHelloStream(req: HelloStreamRequest, ctx: HandlerContext) {
    ctx.signal.addEventListener("abort", () => stop(), { once: true });
    const message = greet(req.name).padEnd(16 * 1024, ".");
    while (!ctx.signal.aborted) {
      yield { message };
      await new Promise((r) => setImmediate(r));
    }
    throw new ConnectError("stopped", Code.Canceled);
  },
});

describe("WebSocket slow consumer", { timeout: 20_000 }, async () => {
  const { url } = await startServer({ services: [firehose], ws: { maxBufferedBytes: 64 * 1024, pingIntervalMs: 0 } });

  it("ends the slow stream with resource_exhausted while another connection keeps working", async () => {
    const slow = await connect(url);
    const fast = await connect(url);
    // The slow client stops reading its socket; the server's send buffer fills up.
    slow.ws.pause();
    slow.send({ id: "flood", method: "example.ExampleService/SayHelloStream", message: { name: "Flood" } });
    for (let i = 0; i < 3; i++) {
      fast.send(sayHello(`f${i}`));
      assert.deepEqual((await fast.stream(`f${i}`))[0].message, { message: "Hello, Bob" });
    }
    // The server gave up on the stream while the client was not reading.
    await stopped;
    fast.send(sayHello("f-after"));
    assert.equal((await fast.stream("f-after"))[0].status?.code, "ok");
    slow.ws.resume();
    const fs = await slow.stream("flood");
    const end = fs.at(-1);
    assert.equal(end?.status?.code, "resource_exhausted");
    assert.match(end?.status?.message ?? "", /reads too slowly/);
    assert.ok(fs.length > 2, "some messages got through before the buffer filled");
    // The slow connection itself is still usable once it reads again.
    slow.send(sayHello("after"));
    assert.equal((await slow.stream("after"))[0].status?.code, "ok");
  });
});

describe("WebSocket graceful shutdown", { timeout: 20_000 }, () => {
  it("ends open streams with unavailable, then closes with 1001", async () => {
    const server = createServer({ port: 0, services: [exampleService()], limits: { shutdownTimeoutMs: 2000 } });
    const { port } = await server.listen();
    const c = await connect(`http://127.0.0.1:${port}`);
    c.send({ id: "long", method: "example.ExampleService/SayHelloStream", message: { name: "Z", count: 5, intervalMs: 10_000 } });
    await c.until((fs) => fs.some((f) => f.id === "long"));
    await server.close();
    const closed = await c.closedWith();
    const fs = c.frames.filter((f) => f.id === "long");
    assert.equal(fs.at(-1)?.status?.code, "unavailable");
    assert.deepEqual(closed, { code: 1001, reason: "server shutting down" });
  });
});

describe("WebSocket over TLS", { timeout: 20_000 }, async () => {
  const { url } = await startServer({ tls: selfSignedCert() });

  it("serves wss:// on the same port as HTTPS", async () => {
    const c = await connect(url, { format: "proto", options: { rejectUnauthorized: false } });
    c.send(sayHello("1"), (await import("../../src/gen/example/example_pb.js")).HelloRequestSchema);
    const [f] = await c.stream("1");
    assert.equal(f.status?.code, "ok");
  });
});
