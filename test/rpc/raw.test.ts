import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService, HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { frame, grpcStatus, h2request, startTestServer } from "./support.js";

const srv = await startTestServer({ maxMessageBytes: 1024 });
const { url, seen } = srv;
const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
const path = "/example.ExampleService/SayHello";
const hello = (name: string) => toBinary(HelloRequestSchema, create(HelloRequestSchema, { name }));
const grpcH = { ":path": path, "content-type": "application/grpc", te: "trailers" };

/** After every bad request the server must still answer a normal call. */
async function stillServes() {
  assert.equal((await client.sayHello({ name: "after" })).message, "Hello, after");
}

/** grpc-status and grpc-message of a gRPC-Web response body (its trailer frame). */
function webTrailer(body: Buffer): Record<string, string> {
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    if (body[at] & 0x80) {
      const out: Record<string, string> = {};
      for (const line of body.subarray(at + 5, at + 5 + len).toString().split("\r\n")) {
        const i = line.indexOf(":");
        if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      return out;
    }
    at += 5 + len;
  }
  return {};
}

describe("deadlines from request headers (no client-side timer)", () => {
  it("answers grpc-timeout with DEADLINE_EXCEEDED and aborts the handler's signal", async () => {
    const r = await h2request(url, { ...grpcH, "grpc-timeout": "100m" }, frame(hello("slow")));
    assert.equal(grpcStatus(r), String(Code.DeadlineExceeded));
    assert.equal(ConnectError.from(seen.abortReason).code, Code.DeadlineExceeded);
    await stillServes();
  });

  it("answers an invalid grpc-timeout with INVALID_ARGUMENT", async () => {
    const r = await h2request(url, { ...grpcH, "grpc-timeout": "soon" }, frame(hello("Bob")));
    assert.equal(grpcStatus(r), String(Code.InvalidArgument));
    assert.match(decodeURIComponent(String(r.trailers["grpc-message"])), /invalid grpc timeout value/);
    await stillServes();
  });

  it("answers connect-timeout-ms with HTTP 504 deadline_exceeded", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json", "connect-timeout-ms": "100" }, body: '{"name":"slow"}' });
    assert.equal(r.status, 504);
    assert.equal((await r.json()).code, "deadline_exceeded");
    await stillServes();
  });

  it("answers gRPC-Web over HTTP/1.1 with the status in the trailer frame", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", "grpc-timeout": "100m" }, body: new Uint8Array(frame(hello("slow"))) });
    assert.equal(r.status, 200);
    assert.equal(webTrailer(Buffer.from(await r.arrayBuffer()))["grpc-status"], String(Code.DeadlineExceeded));
    await stillServes();
  });
});

describe("malformed gRPC bodies get connect-node's status codes", () => {
  const cases: [string, Buffer, Code, RegExp][] = [
    ["a truncated frame", frame(hello("Bob")).subarray(0, 7), Code.InvalidArgument, /incomplete envelope/],
    ["a frame header cut short", Buffer.from([0, 0, 0]), Code.InvalidArgument, /incomplete envelope/],
    ["an empty body", Buffer.alloc(0), Code.Unimplemented, /missing input message/],
    ["two messages for a unary method", Buffer.concat([frame(hello("a")), frame(hello("b"))]), Code.Unimplemented, /extra input message/],
    ["a compressed frame without grpc-encoding", frame(hello("Bob"), 1), Code.Internal, /compressed/],
    ["bytes that are not protobuf", frame(Buffer.from([0xff, 0xff, 0xff, 0xff])), Code.Internal, /parse binary/],
    ["a frame announcing more than maxMessageBytes", Buffer.from([0, 0, 1, 0, 0]), Code.ResourceExhausted, /larger than configured readMaxBytes 1024/],
    ["a body longer than maxMessageBytes", frame(Buffer.alloc(2000)), Code.ResourceExhausted, /larger than configured readMaxBytes/],
  ];
  for (const [what, body, code, message] of cases) {
    it(`answers ${what} with ${Code[code]}`, async () => {
      const r = await h2request(url, grpcH, body);
      assert.equal(r.status, 200);
      assert.equal(grpcStatus(r), String(code));
      assert.match(decodeURIComponent(String(r.trailers["grpc-message"] ?? r.headers["grpc-message"])), message);
      await stillServes();
    });
  }

  it("answers a truncated gRPC-Web frame over HTTP/1.1 with INVALID_ARGUMENT in the trailer frame", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto" }, body: new Uint8Array(frame(hello("Bob")).subarray(0, 6)) });
    assert.equal(webTrailer(Buffer.from(await r.arrayBuffer()))["grpc-status"], String(Code.InvalidArgument));
    await stillServes();
  });
});

describe("malformed Connect requests", () => {
  it("answers invalid JSON with 400 invalid_argument", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).code, "invalid_argument");
    await stillServes();
  });

  it("answers a body over maxMessageBytes with 429 resource_exhausted", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "x".repeat(2000) }) });
    assert.equal(r.status, 429);
    assert.equal((await r.json()).code, "resource_exhausted");
    await stillServes();
  });

  it("answers a GET without a known encoding like connect-node (415)", async () => {
    const r = await fetch(`${url}${path}?encoding=xml&message=x`);
    assert.equal(r.status, 415);
    await stillServes();
  });

  it("answers a GET with base64 that is not base64 with an error, not a crash", async () => {
    const r = await fetch(`${url}${path}?encoding=proto&base64=1&message=%%%`);
    assert.ok(r.status >= 400, `status ${r.status}`);
    await r.arrayBuffer();
    await stillServes();
  });

  it("answers a wrong content type with 415", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" });
    assert.equal(r.status, 415);
    await stillServes();
  });
});

describe("what the fast path leaves to connect-node still works", () => {
  it("serves a gzip-compressed gRPC request through connect-node", async () => {
    seen.protocols.length = 0;
    const gz = createClient(ExampleService, createGrpcTransport({ baseUrl: url, sendCompression: (await import("@connectrpc/connect-node")).compressionGzip }));
    assert.equal((await gz.sayHello({ name: "zip" })).message, "Hello, zip");
    assert.deepEqual(seen.protocols, [""]);
  });

  it("answers gRPC over HTTP/1.1 without crashing", async () => {
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/grpc" }, body: new Uint8Array(frame(hello("Bob"))) });
    await r.arrayBuffer();
    assert.ok(r.status === 200 || r.status === 415 || r.status === 505, `status ${r.status}`);
    await stillServes();
  });

  it("answers an unknown method with UNIMPLEMENTED", async () => {
    const r = await h2request(url, { ...grpcH, ":path": "/example.ExampleService/Nope" }, frame(hello("Bob")));
    assert.equal(grpcStatus(r), String(Code.Unimplemented));
    await stillServes();
  });

  it("survives garbage on the port", async () => {
    await new Promise<void>((resolve) => {
      const s = connect(srv.port, "127.0.0.1", () => s.end("\x16\x03\x01 garbage \r\n\r\n"));
      s.on("data", () => {});
      s.on("close", () => resolve());
      s.on("error", () => resolve());
    });
    await stillServes();
  });
});
