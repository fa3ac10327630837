import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";

const { url, port } = await startServer({ limits: { maxMessageBytes: 1024 } });
const grpcClient = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));

/** After every attack the server must still answer a normal call. */
async function stillServes() {
  assert.equal((await grpcClient.sayHello({ name: "after" })).message, "Hello, after");
}

/** Sends raw bytes on a fresh TCP connection and returns all the server sent until it closed. */
function raw(bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    s.setTimeout(5000, () => s.destroy(new Error("server did not close the connection")));
  });
}

/** One HTTP/2 request with raw headers and body; returns status, headers and trailers. */
function h2(headers: http2.OutgoingHttpHeaders, body: Buffer) {
  return new Promise<{ status: number; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const session = http2.connect(url);
    const req = session.request({ ":method": "POST", ...headers });
    let res: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let text = "";
    req.on("response", (h) => (res = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (d: Buffer) => (text += d.toString("latin1")));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(res[":status"]), headers: res, trailers, body: text });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const grpcStatus = (r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }) => String(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);

describe("bad input", () => {
  it("answers garbage bytes with 400 and a closed connection", async () => {
    const out = await raw("GARBAGE\x00\x01 not http\r\n\r\n");
    assert.match(out, /^HTTP\/1\.1 400 /);
    await stillServes();
  });

  it("closes a connection that sends a broken HTTP/2 preface", async () => {
    await raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\xff\xff\xff\xff\xff\xff\x00\x00");
    await stillServes();
  });

  it("answers a truncated gRPC frame with a gRPC error status", async () => {
    const frame = Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]);
    const r = await h2({ ":path": "/example.ExampleService/SayHello", "content-type": "application/grpc", te: "trailers" }, frame);
    assert.equal(r.status, 200);
    assert.notEqual(grpcStatus(r), "0");
    assert.notEqual(grpcStatus(r), "undefined");
    await stillServes();
  });

  it("rejects a message over the size limit with RESOURCE_EXHAUSTED", async () => {
    const err = await grpcClient.sayHello({ name: "x".repeat(4096) }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.ResourceExhausted);
    const connectClient = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const err2 = await connectClient.sayHello({ name: "x".repeat(4096) }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err2 instanceof ConnectError);
    assert.equal(err2.code, Code.ResourceExhausted);
    await stillServes();
  });

  it("limits received messages, not sent ones, with maxMessageBytes (sends have maxSendMessageBytes)", async () => {
    async function* names() {
      yield { name: "a".repeat(600) };
      yield { name: "b".repeat(600) };
    }
    // Each request is under the 1024-byte receive limit; the answer (about 1.2 KB) is over it.
    const res = await grpcClient.collectNames(names());
    assert.equal(res.message.length, "Hello, ".length + 600 + 2 + 600);
  });

  it("answers unknown services and methods with UNIMPLEMENTED in gRPC and Connect", async () => {
    const g = await h2({ ":path": "/example.ExampleService/Nope", "content-type": "application/grpc", te: "trailers" }, Buffer.alloc(5));
    assert.equal(grpcStatus(g), "12");
    const c = await fetch(`${url}/nope.Service/Call`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(c.status, 404);
    assert.equal((await c.json()).code, "unimplemented");
    await stillServes();
  });

  it("answers a wrong content type with 415", async () => {
    const r = await fetch(`${url}/example.ExampleService/SayHello`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" });
    assert.equal(r.status, 415);
    await stillServes();
  });

  it("answers a gRPC request over HTTP/1.1 with a gRPC status, not a crash", async () => {
    const r = await fetch(`${url}/example.ExampleService/SayHello`, { method: "POST", headers: { "content-type": "application/grpc" }, body: new Uint8Array(0) });
    const body = Buffer.from(await r.arrayBuffer()).toString("latin1");
    // connect-node serves gRPC over HTTP/1.1 with the status in chunked trailers; no message is an error.
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/grpc/);
    assert.doesNotMatch(body, /Hello/);
    await stillServes();
  });

  it("answers invalid Connect JSON with INVALID_ARGUMENT", async () => {
    const r = await fetch(`${url}/example.ExampleService/SayHello`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, "invalid_argument");
    await stillServes();
  });

  it("answers another HTTP method on an RPC path with 405 and Allow (GET only where Connect allows it)", async () => {
    for (const [method, path, allow] of [
      ["PUT", "/example.ExampleService/SayHello", "POST, GET"],
      ["DELETE", "/example.ExampleService/SayHello", "POST, GET"],
      ["GET", "/example.ExampleService/SayHelloStream", "POST"],
      ["PATCH", "/example.ExampleService/Chatter", "POST"],
    ]) {
      const r = await fetch(`${url}${path}`, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
    }
    const http2 = await import("node:http2");
    const session = http2.connect(url);
    try {
      const req = session.request({ ":method": "PUT", ":path": "/example.ExampleService/SayHello" });
      req.end();
      const h = await new Promise<import("node:http2").IncomingHttpHeaders>((resolve) => req.once("response", resolve));
      assert.equal(h[":status"], 405);
      assert.equal(h.allow, "POST, GET", "over HTTP/2 too");
      req.resume();
    } finally {
      session.close();
    }
    await stillServes();
  });

  it("answers unknown routes with 404 JSON", async () => {
    const r = await fetch(`${url}/no/such/thing`);
    assert.equal(r.status, 404);
    assert.equal((await r.json()).code, "not_found");
  });
});
