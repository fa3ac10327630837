import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, HelloResponseSchema, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { startTestServer } from "./support.js";

const srv = await startTestServer({ maxMessageBytes: 2048, maxSendMessageBytes: 2048, maxTimeoutMs: 60_000 });
const { url, seen } = srv;

const transports: Record<string, [string, () => Transport]> = {
  "gRPC h2": ["grpc", () => createGrpcTransport({ baseUrl: url })],
  "gRPC-Web h1": ["grpc-web", () => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })],
  "gRPC-Web h2": ["grpc-web", () => createGrpcWebTransport({ baseUrl: url, httpVersion: "2" })],
  "gRPC-Web JSON h1": ["grpc-web", () => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false })],
  "Connect JSON h1": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false })],
  "Connect binary h1": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true })],
  "Connect JSON h2": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: false })],
  "Connect binary h2": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true })],
  "Connect GET h1": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useHttpGet: true, useBinaryFormat: false })],
  "Connect GET binary h2": ["connect", () => createConnectTransport({ baseUrl: url, httpVersion: "2", useHttpGet: true, useBinaryFormat: true })],
};

const fail = (p: Promise<unknown>) => p.then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));

for (const [name, [protocol, make]] of Object.entries(transports)) {
  describe(`fast path over ${name}`, () => {
    const client = createClient(ExampleService, make());

    it("serves SayHello through the Pipeline (not connect-node)", async () => {
      seen.protocols.length = 0;
      assert.equal((await client.sayHello({ name: "Bob" })).message, "Hello, Bob");
      assert.deepEqual(seen.protocols, [protocol]);
    });

    if (protocol !== "connect") {
      it("serves server-streaming SayHelloStream through the Pipeline", async () => {
        seen.protocols.length = 0;
        const got: string[] = [];
        for await (const r of client.sayHelloStream({ name: "Ann", count: 2 })) got.push(r.message);
        assert.deepEqual(got, ["Hello, Ann (1/2)", "Hello, Ann (2/2)"]);
        assert.deepEqual(seen.protocols, [protocol]);
      });
    }

    it("passes request headers in and response headers and trailers out", async () => {
      let header: Headers | undefined;
      let trailer: Headers | undefined;
      const res = await client.sayHello({ name: "meta" }, { headers: { "x-test": "abc" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
      assert.equal(res.message, "x-test=abc");
      assert.equal(header?.get("x-header"), "h1");
      assert.equal(trailer?.get("x-trailer"), "t1");
    });

    it("sends a ConnectError with its code, message, metadata and details", async () => {
      const err = await fail(client.sayHello({ name: "denied" }));
      assert.equal(err.code, Code.PermissionDenied);
      assert.equal(err.rawMessage, "not yours");
      assert.equal(err.metadata.get("x-why"), "owner-only");
      assert.deepEqual(err.findDetails(HelloResponseSchema).map((d) => d.message), ["detail"]);
    });

    it("hides the message of an unexpected error", async () => {
      const err = await fail(client.sayHello({ name: "boom" }));
      assert.equal(err.code, Code.Internal);
      assert.doesNotMatch(err.rawMessage, /secret|password|at /);
    });

    it("ends a call at the client's deadline with DEADLINE_EXCEEDED", async () => {
      const err = await fail(client.sayHello({ name: "slow" }, { timeoutMs: 150 }));
      assert.equal(err.code, Code.DeadlineExceeded);
      // (Which side's timer fires first is a race here; test/rpc/raw.test.ts checks the server's.)
    });

    it("rejects a request over maxMessageBytes with RESOURCE_EXHAUSTED", async () => {
      const err = await fail(client.sayHello({ name: "x".repeat(3000) }));
      assert.equal(err.code, Code.ResourceExhausted);
      assert.equal((await client.sayHello({ name: "after" })).message, "Hello, after");
    });

    it("refuses to send a response over maxSendMessageBytes with RESOURCE_EXHAUSTED", async () => {
      const err = await fail(client.sayHello({ name: "big:3000" }));
      assert.equal(err.code, Code.ResourceExhausted);
      assert.equal((await client.sayHello({ name: "after" })).message, "Hello, after");
    });

    it("aborts the handler's signal when the client cancels", async () => {
      seen.abortReason = undefined;
      const ac = new AbortController();
      const call = fail(client.sayHello({ name: "slow" }, { signal: ac.signal }));
      while (seen.header === undefined || seen.protocols.length === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      assert.equal((await call).code, Code.Canceled);
      while (seen.abortReason === undefined) await new Promise((r) => setTimeout(r, 5));
      assert.equal(ConnectError.from(seen.abortReason).code, Code.Canceled);
      assert.equal((await client.sayHello({ name: "after" })).message, "Hello, after");
    });
  });
}

describe("fast path with @grpc/grpc-js", () => {
  const client = createGrpcJsClient(ExampleService, `127.0.0.1:${srv.port}`);
  after(() => client.close());
  type Cb = (err: grpc.ServiceError | null, res: HelloResponse) => void;
  const call = (name: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}) =>
    new Promise<{ res?: HelloResponse; err?: grpc.ServiceError; trailers?: grpc.Metadata }>((resolve) => {
      let trailers: grpc.Metadata | undefined;
      const c = (client.sayHello as (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: Cb) => grpc.ClientUnaryCall)({ name }, md, opts, (err, res) =>
        setImmediate(() => resolve(err ? { err, trailers } : { res, trailers })),
      );
      c.on("status", (s: grpc.StatusObject) => (trailers = s.metadata));
    });

  it("answers with metadata and trailers", async () => {
    const md = new grpc.Metadata();
    md.set("x-test", "from-grpc-js");
    const { res, trailers } = await call("meta", md);
    assert.equal(res?.message, "x-test=from-grpc-js");
    assert.deepEqual(trailers?.get("x-trailer"), ["t1"]);
  });

  it("maps ConnectError to grpc-status, percent-decoded message and status details", async () => {
    const { err } = await call("denied");
    assert.equal(err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err?.details, "not yours");
    assert.equal(err?.metadata.get("grpc-status-details-bin").length, 1);
  });

  it("caps a long client deadline at limits.maxTimeoutMs", async () => {
    await call("Bob", new grpc.Metadata(), { deadline: Date.now() + 3_600_000 });
    assert.ok(seen.timeoutMs !== undefined && seen.timeoutMs <= 60_000, `timeoutMs ${seen.timeoutMs}`);
  });
});
