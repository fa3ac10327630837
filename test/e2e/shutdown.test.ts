import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { ServingStatus } from "../../src/services/health.js";
import type { OneportServer } from "../../src/server.js";
import { startServer } from "../support/server.js";

describe("graceful shutdown", () => {
  it("lets an in-flight stream finish, reports NOT_SERVING and refuses new calls", async () => {
    const { url, server } = await startServer({ limits: { shutdownTimeoutMs: 5000 } });
    const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    const got: string[] = [];
    let closed: Promise<void> | undefined;
    for await (const r of client.sayHelloStream({ name: "Z", count: 3, intervalMs: 300 })) {
      got.push(r.message);
      if (got.length === 1) {
        closed = server.close();
        assert.equal(server.context.health.get(""), ServingStatus.NOT_SERVING);
      }
    }
    assert.deepEqual(got, ["Hello, Z (1/3)", "Hello, Z (2/3)", "Hello, Z (3/3)"]);
    await closed;
    const fresh = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    const err = await fresh.sayHello({ name: "late" }).then(
      () => assert.fail("a call after shutdown must fail"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Unavailable);
  });


  it("with shutdownDelayMs, first keeps serving while /readyz answers 503, then stops accepting", async () => {
    const { url, server } = await startServer({ limits: { shutdownDelayMs: 600, shutdownTimeoutMs: 500 } });
    const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const started = Date.now();
    const closing = server.close();
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: "not ready" });
    assert.equal(server.context.health.get(""), ServingStatus.NOT_SERVING);
    // Calls are still served meanwhile, on open connections and new ones.
    assert.equal((await client.sayHello({ name: "during" })).message, "Hello, during");
    assert.equal((await fetch(`${url}/v1/hello/new`, { headers: { connection: "close" } })).status, 200);
    await closing;
    assert.ok(Date.now() - started >= 600, "the delay came first");
    await assert.rejects(fetch(`${url}/readyz`), "the listener is closed after the delay");
  });
});

// A stream that outlives the grace period is ended with UNAVAILABLE "the server is shutting down",
// sent as each protocol's status before the connections are cut (they were cut first, and gRPC
// clients saw a bare EOF or "incomplete envelope").
describe("a stream that outlives the shutdown grace period", { timeout: 30_000 }, () => {
  const slow = { name: "Long", count: 50, intervalMs: 1000 };
  const grace = { limits: { shutdownTimeoutMs: 200 } };

  /** Reads a stream's first message, shuts the server down, and returns the error that ends the stream. */
  async function endOf(server: OneportServer, stream: AsyncIterable<unknown>): Promise<ConnectError> {
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const started = Date.now();
    const closing = server.close();
    try {
      for (;;) if ((await it.next()).done) assert.fail("the stream must not end normally");
    } catch (e) {
      await closing;
      assert.ok(Date.now() - started < 5000, "shutdown waited for the whole stream");
      return ConnectError.from(e);
    }
  }

  const transports = {
    "gRPC (connect-node client)": (baseUrl: string) => createGrpcTransport({ baseUrl }),
    "gRPC-Web over HTTP/1.1": (baseUrl: string) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    "Connect over HTTP/2": (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "2" }),
    "Connect over HTTP/1.1": (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: UNAVAILABLE, the server is shutting down`, async () => {
      const { url, server } = await startServer(grace);
      const err = await endOf(server, createClient(ExampleService, transport(url)).sayHelloStream(slow));
      assert.equal(err.code, Code.Unavailable, `${Code[err.code]}: ${err.rawMessage}`);
      assert.equal(err.rawMessage, "the server is shutting down");
    });
  }

  it("gRPC (@grpc/grpc-js client): UNAVAILABLE with the reason", async () => {
    const { port, server } = await startServer(grace);
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
    try {
      const call = (client.sayHelloStream as (r: object) => grpc.ClientReadableStream<unknown>)(slow);
      await new Promise((resolve) => call.once("data", resolve));
      const closing = server.close();
      const err = await new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
      await closing;
      assert.equal(err.code, grpc.status.UNAVAILABLE, `${err.code}: ${err.details}`);
      assert.equal(err.details, "the server is shutting down");
    } finally {
      client.close();
    }
  });

  for (const sse of [false, true]) {
    it(`REST ${sse ? "Server-Sent Events" : "NDJSON"}: the stream ends with the UNAVAILABLE status`, async () => {
      const { url, server } = await startServer(grace);
      const res = await fetch(`${url}/v1/hello/Long/stream?count=50&intervalMs=1000`, { headers: sse ? { accept: "text/event-stream" } : {} });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = new TextDecoder().decode((await reader.read()).value);
      const closing = server.close();
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      await closing;
      const status = '{"code":14,"message":"the server is shutting down"';
      if (sse) assert.ok(text.includes(`event: error\ndata: ${status}`), text);
      else assert.ok(text.trimEnd().split("\n").at(-1)!.startsWith(`{"error":${status}`), text);
    });
  }
});

// A unary implementation that never looks at its signal: its call waits on the server's shared
// deadline timer (unaryTimeoutMs), so shutdown ends it there, and the client hears UNAVAILABLE.
describe("a unary call whose implementation ignores its signal", { timeout: 30_000 }, () => {
  const stuck = () =>
    service(ExampleService, {
      async sayHello(req) {
        await new Promise((r) => setTimeout(r, 3000)); // no signal in sight
        return { message: `late ${req.name}` };
      },
    });

  it("REST: 503 with the UNAVAILABLE status when the grace period is over", async () => {
    const { url, server } = await startServer({ services: [stuck()], limits: { shutdownTimeoutMs: 200 } });
    const answer = fetch(`${url}/v1/hello/Bob`);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const closing = server.close();
    const res = await answer;
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { code: 14, message: "the server is shutting down", details: [] });
    await closing;
    assert.ok(Date.now() - started < 2500, "ended at the grace period, not when the implementation returned");
  });

  it("gRPC: UNAVAILABLE", async () => {
    const { url, server } = await startServer({ services: [stuck()], limits: { shutdownTimeoutMs: 200 } });
    const call = createClient(ExampleService, createGrpcTransport({ baseUrl: url })).sayHello({ name: "Bob" });
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close();
    const err = await call.then(
      () => assert.fail("the call must not succeed"),
      (e: unknown) => ConnectError.from(e),
    );
    await closing;
    assert.equal(err.code, Code.Unavailable, `${Code[err.code]}: ${err.rawMessage}`);
  });
});
