import assert from "node:assert/strict";
import * as net from "node:net";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { WebSocketServer } from "ws";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { createServer } from "../../src/server.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { BrowserLikeWebSocket, countingWebSocket, startProxy, wsTransport } from "./support.js";

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => Code[ConnectError.from(e).code]);

// A stream that yields once and then waits ~forever: a call in flight for as long as a test needs.
async function firstOfLongStream(client: ReturnType<typeof createClient<typeof ExampleService>>) {
  const it = client.sayHelloStream({ name: "long", count: 2, intervalMs: 10_000 })[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.message, "Hello, long (1/2)");
  return it;
}

describe("WebSocket transport connection management", () => {
  it("fails an in-flight call with UNAVAILABLE when the server restarts, then reconnects", async () => {
    const opts = { host: "127.0.0.1", services: [exampleService()], limits: { shutdownTimeoutMs: 200 } };
    const first = createServer({ ...opts, port: 0 });
    const { port } = await first.listen();
    const sockets = countingWebSocket();
    const transport = wsTransport(`http://127.0.0.1:${port}`, { WebSocket: sockets.WebSocket });
    after(() => transport.close());
    const client = createClient(ExampleService, transport);
    const it = await firstOfLongStream(client);
    const pending = codeOf(it.next());
    await first.close();
    assert.equal(await pending, "Unavailable");

    const second = createServer({ ...opts, port });
    await second.listen();
    after(() => second.close());
    assert.equal((await client.sayHello({ name: "again" })).message, "Hello, again");
    assert.equal(sockets.opened(), 2);
  });

  it("fails in-flight calls with UNAVAILABLE when the connection drops without a close frame", async () => {
    const { port } = await startServer();
    const proxy = await startProxy(port);
    after(() => proxy.close());
    const transport = wsTransport(`http://127.0.0.1:${proxy.port}`);
    after(() => transport.close());
    const client = createClient(ExampleService, transport);
    const it = await firstOfLongStream(client);
    const pending = codeOf(it.next());
    proxy.cut();
    assert.equal(await pending, "Unavailable");
    assert.equal((await client.sayHello({ name: "back" })).message, "Hello, back");
  });

  for (const [name, WebSocket] of [["ws pings", undefined], ["browser-style probe calls", BrowserLikeWebSocket]] as const) {
    it(`detects a dead network with heartbeats (${name}) and fails the call with UNAVAILABLE`, async () => {
      const { port } = await startServer();
      const proxy = await startProxy(port);
      after(() => proxy.close());
      const transport = wsTransport(`http://127.0.0.1:${proxy.port}`, { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 100, ...(WebSocket ? { WebSocket } : {}) });
      after(() => transport.close());
      const client = createClient(ExampleService, transport);
      const it = await firstOfLongStream(client);
      // Heartbeats keep a healthy but quiet call open well past the heartbeat timeout.
      await new Promise((r) => setTimeout(r, 400));
      const pending = codeOf(it.next());
      proxy.freeze();
      const err = await pending;
      assert.equal(err, "Unavailable");
    });
  }

  it("never gives a browser-style probe the id of a call: call 22429 (id \"hb1\") is not taken over by the first probe", async () => {
    const { url } = await startServer();
    const transport = wsTransport(url, { WebSocket: BrowserLikeWebSocket, useBinaryFormat: false, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 2000 });
    after(() => transport.close());
    const client = createClient(ExampleService, transport);
    // Call ids count up in base 36: 22428 calls first, so the stream below is call 22429, id "hb1".
    for (let done = 0; done < 22428; done += 500) {
      await Promise.all(Array.from({ length: Math.min(500, 22428 - done) }, () => client.sayHello({ name: "x" })));
    }
    const got: string[] = [];
    // Quiet for over the heartbeat interval between messages: probes go out while it runs.
    for await (const r of client.sayHelloStream({ name: "hb", count: 3, intervalMs: 300 }, { timeoutMs: 5000 })) got.push(r.message);
    assert.deepEqual(got, ["Hello, hb (1/3)", "Hello, hb (2/3)", "Hello, hb (3/3)"]);
  });

  it("fails fast with UNAVAILABLE while the server is down and backs off between attempts", async () => {
    const server = createServer({ host: "127.0.0.1", port: 0, services: [exampleService()] });
    const { port } = await server.listen();
    await server.close();
    const sockets = countingWebSocket();
    const transport = wsTransport(`http://127.0.0.1:${port}`, { WebSocket: sockets.WebSocket, reconnectInitialDelayMs: 200 });
    after(() => transport.close());
    const client = createClient(ExampleService, transport);
    assert.equal(await codeOf(client.sayHello({ name: "a" })), "Unavailable");
    assert.equal(sockets.opened(), 1);
    // A call during the backoff waits for it; one whose deadline ends first does not attempt at all.
    assert.equal(await codeOf(client.sayHello({ name: "b" }, { timeoutMs: 20 })), "DeadlineExceeded");
    assert.equal(sockets.opened(), 1);
    const again = createServer({ host: "127.0.0.1", port, services: [exampleService()] });
    await again.listen();
    after(() => again.close());
    assert.equal((await client.sayHello({ name: "c" })).message, "Hello, c");
    assert.equal(sockets.opened(), 2);
  });

  it("fails with UNAVAILABLE, without crashing the process, when the server never answers the handshake", async () => {
    // Accepts TCP and stays silent: the connect timeout closes a socket that is still connecting,
    // which `ws` reports as an 'error' event (a process-killing throw if nobody listens).
    const accepted: net.Socket[] = [];
    const silent = net.createServer((s) => accepted.push(s.on("error", () => {})));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    after(() => {
      accepted.forEach((s) => s.destroy());
      silent.close();
    });
    const transport = wsTransport(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, { connectTimeoutMs: 200 });
    after(() => transport.close());
    const err = await createClient(ExampleService, transport).sayHello({ name: "a" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(err?.code, Code.Unavailable);
    assert.match(err?.message ?? "", /no answer within 200 ms/);
    // The 'error' event of the aborted handshake comes a tick later: let it come.
    await new Promise((r) => setTimeout(r, 100));
  });

  it("queues calls beyond maxConcurrentStreams instead of overrunning the bridge's stream limit", async () => {
    const { url } = await startServer({ ws: { maxStreamsPerConnection: 5 } });
    const run = async (maxConcurrentStreams: number) => {
      const transport = wsTransport(url, { maxConcurrentStreams });
      after(() => transport.close());
      const client = createClient(ExampleService, transport);
      return Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const got: string[] = [];
          const stream = client.sayHelloStream({ name: `q${i}`, count: 2, intervalMs: 20 });
          return codeOf((async () => { for await (const r of stream) got.push(r.message); })()).then((c) => (c === "ok" && got.length === 2 ? "ok" : c));
        }),
      );
    };
    assert.deepEqual(await run(5), Array(20).fill("ok"));
    // The same load without the client-side limit overruns the server's: the test can fail.
    assert.ok((await run(100)).includes("ResourceExhausted"));
  });

  it("fails calls with INTERNAL and drops the socket when the peer sends a frame that is not a Frame", async () => {
    // No real bridge sends garbage: a stand-in peer that speaks the subprotocol and then garbage.
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (p) => [...p][0] ?? false });
    after(() => new Promise<void>((r) => wss.close(() => r())));
    await new Promise((r) => wss.once("listening", r));
    const closes: number[] = [];
    wss.on("connection", (ws) => {
      ws.once("message", () => ws.send(Buffer.from([0xff, 0xff, 0xff])));
      ws.once("close", (code) => closes.push(code));
    });
    const transport = wsTransport(`http://127.0.0.1:${(wss.address() as { port: number }).port}`);
    after(() => transport.close());
    const err = await createClient(ExampleService, transport).sayHello({ name: "x" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Internal);
    assert.match(err.rawMessage, /not a oneport.ws.v1.Frame/);
    while (closes.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(closes, [4001]);
  });

  it("close() ends open calls with CANCELED and refuses later calls", async () => {
    const { url } = await startServer();
    const transport = wsTransport(url);
    const client = createClient(ExampleService, transport);
    const it = await firstOfLongStream(client);
    const pending = codeOf(it.next());
    await transport.close();
    assert.equal(transport.state, "closed");
    assert.equal(await pending, "Canceled");
    assert.equal(await codeOf(client.sayHello({ name: "late" })), "Unavailable");
  });

  it("refuses to start without a WebSocket constructor, naming the option", { skip: "WebSocket" in globalThis && "Node has a global WebSocket" }, () => {
    assert.throws(() => wsTransport("http://127.0.0.1:1", { WebSocket: undefined }), /WebSocket option/);
  });
});
