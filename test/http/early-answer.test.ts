import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import type * as http from "node:http";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExampleService, HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { transcodingService } from "../rest/transcoding-service.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { connectEndStream, envelope, grpcWebStatus, OneSocketClient, send, type Req, type Res } from "./h1-client.js";

// An HTTP/1.1 server that answers before it has read the request body (an early error) must leave
// the keep-alive connection usable: either it reads the small rest of the body and keeps the
// connection, or it says Connection: close and closes once the answer is out. A stall would show as
// a test timeout: idleTimeoutMs keeps its default (120 s), each test has 20 s.
const T = 20_000;
const LIMIT = 1024;
const { url } = await startServer({ services: [exampleService(), transcodingService()], limits: { maxMessageBytes: LIMIT } });
const tls = selfSignedCert();
const secure = await startServer({ services: [exampleService()], tls, limits: { maxMessageBytes: LIMIT } });
const auth = await startServer({ services: [exampleService(), transcodingService()], auth: { tokens: new Map([["secret", "alice"]]) } });

const SMALL = randomBytes(100 * 1024); // over the message limit, under maxUnreadBodyBytes (256 KiB)
const LARGE = randomBytes(2 * 1024 * 1024); // over both
const hello = (name: string) => Buffer.from(toBinary(HelloRequestSchema, create(HelloRequestSchema, { name })));
/** A client stream of ~100 KiB of valid HelloRequests after `first`. */
const names = (first: Buffer) => Buffer.concat([envelope(first), ...Array.from({ length: 100 }, () => envelope(hello("x".repeat(1000))))]);

const rpc = (method: string, contentType: string, body: Buffer, headers: Record<string, string> = {}): Req => ({
  path: `/example.ExampleService/${method}`,
  headers: { "content-type": contentType, ...headers },
  body,
});
const connectError = (status: number, code: string) => (r: Res) => {
  assert.equal(r.status, status, r.text);
  assert.equal((JSON.parse(r.text) as { code: string }).code, code);
};
const grpcWeb = (status: string) => (r: Res) => {
  assert.equal(r.status, 200);
  assert.equal(grpcWebStatus(r), status, r.text.slice(0, 200));
};
const endStream = (code: string) => (r: Res) => {
  assert.equal(r.status, 200);
  assert.equal(connectEndStream(r).error?.code, code);
};
const restStatus = (status: number, code: number) => (r: Res) => {
  assert.equal(r.status, status, r.text);
  assert.equal((JSON.parse(r.text) as { code: number }).code, code);
};

/** What becomes of the connection: kept (the unread rest was declared small), or closed with Connection: close. */
type Fate = "kept" | "closed";

interface Case {
  name: string;
  base?: string;
  req: Req;
  check: (r: Res) => void;
  fate: Fate;
}

// Bodies go up in pieces where the answer must be out before the body has arrived (LARGE bodies,
// and connect-node's paths: its stall came from body bytes that arrived after it gave up reading).
const slowly = { pieces: 8, pauseMs: 20 };
const cases: Case[] = [
  { name: "Connect unary over the limit (fast path)", req: rpc("SayHello", "application/proto", SMALL), check: connectError(429, "resource_exhausted"), fate: "kept" },
  { name: "Connect unary far over the limit", req: { ...rpc("SayHello", "application/proto", LARGE), ...slowly }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "Connect unary over the limit, chunked", req: { ...rpc("SayHello", "application/proto", SMALL), chunked: true, ...slowly }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "Connect unary far over the limit, chunked", req: { ...rpc("SayHello", "application/proto", LARGE), chunked: true, ...slowly }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "Connect unary gzip over the limit (connect-node)", req: { ...rpc("SayHello", "application/proto", gzipSync(SMALL), { "content-encoding": "gzip" }), ...slowly }, check: connectError(429, "resource_exhausted"), fate: "kept" },
  { name: "Connect unary gzip over the limit, chunked (connect-node)", req: { ...rpc("SayHello", "application/proto", gzipSync(SMALL), { "content-encoding": "gzip" }), chunked: true, ...slowly }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "Connect unary with unsupported compression", req: { ...rpc("SayHello", "application/proto", SMALL, { "content-encoding": "zstd" }), ...slowly }, check: connectError(501, "unimplemented"), fate: "kept" },
  { name: "gRPC-Web unary over the limit (fast path)", req: rpc("SayHello", "application/grpc-web+proto", envelope(SMALL)), check: grpcWeb("8"), fate: "kept" },
  { name: "gRPC-Web unary far over the limit", req: { ...rpc("SayHello", "application/grpc-web+proto", envelope(LARGE)), ...slowly }, check: grpcWeb("8"), fate: "closed" },
  { name: "gRPC-Web gzip over the limit (connect-node)", req: { ...rpc("SayHello", "application/grpc-web+proto", envelope(gzipSync(SMALL), 1), { "grpc-encoding": "gzip" }), ...slowly }, check: grpcWeb("8"), fate: "kept" },
  { name: "gRPC-Web with unsupported compression", req: { ...rpc("SayHello", "application/grpc-web+proto", envelope(SMALL, 1), { "grpc-encoding": "zstd" }), ...slowly }, check: grpcWeb("12"), fate: "kept" },
  { name: "Connect client stream, first message over the limit", req: { ...rpc("CollectNames", "application/connect+proto", envelope(SMALL)), ...slowly }, check: endStream("resource_exhausted"), fate: "kept" },
  { name: "Connect client stream, first message over the limit, chunked", req: { ...rpc("CollectNames", "application/connect+proto", envelope(SMALL)), chunked: true, ...slowly }, check: endStream("resource_exhausted"), fate: "closed" },
  { name: "Connect client stream the implementation fails on its first message", req: { ...rpc("CollectNames", "application/connect+proto", names(hello(""))), ...slowly }, check: endStream("invalid_argument"), fate: "kept" },
  { name: "unknown method with a body", req: rpc("Nope", "application/proto", SMALL), check: connectError(404, "unimplemented"), fate: "kept" },
  { name: "REST POST over the limit", req: { path: "/v1/echo", headers: { "content-type": "application/json" }, body: SMALL }, check: restStatus(413, Code.ResourceExhausted), fate: "kept" },
  { name: "REST POST far over the limit, chunked", req: { path: "/v1/echo", headers: { "content-type": "application/json" }, body: LARGE, chunked: true, ...slowly }, check: restStatus(413, Code.ResourceExhausted), fate: "closed" },
  { name: "POST /healthz with a body", req: { path: "/healthz", body: SMALL }, check: (r) => assert.equal(r.status, 405), fate: "kept" },
  { name: "Connect unary over the limit from a client that asked for Connection: close", req: { ...rpc("SayHello", "application/proto", SMALL, { connection: "close" }), ...slowly }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "POST to no route with a large body", req: { path: "/nothing/here", body: LARGE, ...slowly }, check: (r) => assert.equal(r.status, 404), fate: "closed" },
  { name: "Connect unary still uploading slowly when the error goes out", req: { ...rpc("SayHello", "application/proto", SMALL), pieces: 10, pauseMs: 30 }, check: connectError(429, "resource_exhausted"), fate: "kept" },
  { name: "chunked upload still going slowly when the error goes out", req: { ...rpc("SayHello", "application/proto", SMALL), chunked: true, pieces: 10, pauseMs: 30 }, check: connectError(429, "resource_exhausted"), fate: "closed" },
  { name: "unauthenticated Connect client stream with a body", base: auth.url, req: { ...rpc("CollectNames", "application/connect+proto", names(hello("a"))), ...slowly }, check: endStream("unauthenticated"), fate: "kept" },
  { name: "unauthenticated REST POST with a body", base: auth.url, req: { path: "/v1/echo", headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify({ id: "x".repeat(100_000) })) }, check: restStatus(401, Code.Unauthenticated), fate: "kept" },
];

const good: Req = rpc("SayHello", "application/json", Buffer.from('{"name":"Bob"}'), { authorization: "Bearer secret" });

/** The early request, then a good one: the good one is answered, on the same connection when the server kept it. */
async function earlyThenGood(c: Case, base: string, client: OneSocketClient): Promise<void> {
  assert.equal((await send(base, client, good)).status, 200); // opens the one socket
  const early = await send(base, client, c.req);
  c.check(early);
  assert.equal(early.headers.connection, c.fate === "closed" ? "close" : "keep-alive");
  const next = await send(base, client, good);
  assert.equal(next.status, 200, next.text);
  assert.equal(next.text, '{"message":"Hello, Bob"}');
  // Kept: the one socket answered all three; closed: a second connection took over.
  assert.equal(client.connections, c.fate === "kept" ? 1 : 2);
}

describe("HTTP/1.1 keep-alive after an answer that came before the request body ended", () => {
  for (const c of cases) {
    it(`serves the next request after: ${c.name} (${c.fate})`, { timeout: T }, async (t) => {
      const client = new OneSocketClient();
      t.after(() => client.close());
      await earlyThenGood(c, c.base ?? url, client);
    });
  }
});

describe("HTTP/1.1 over TLS after an early answer", () => {
  const picked = ["Connect client stream, first message over the limit", "Connect unary far over the limit", "chunked upload still going slowly when the error goes out"];
  for (const c of cases.filter((x) => picked.includes(x.name))) {
    it(`serves the next request after: ${c.name} (${c.fate})`, { timeout: T }, async (t) => {
      const client = new OneSocketClient(tls.cert);
      t.after(() => client.close());
      await earlyThenGood(c, secure.url.replace("127.0.0.1", "localhost"), client);
    });
  }
});

describe("limits.maxUnreadBodyBytes", () => {
  const early = (fate: Fate, body: Buffer): Case => ({ name: "", req: { ...rpc("SayHello", "application/proto", body), ...slowly }, check: connectError(429, "resource_exhausted"), fate });

  it("closes after any unread body when it is 0", { timeout: T }, async (t) => {
    const strict = await startServer({ limits: { maxMessageBytes: LIMIT, maxUnreadBodyBytes: 0 } });
    const client = new OneSocketClient();
    t.after(() => client.close());
    await earlyThenGood(early("closed", SMALL.subarray(0, 2048)), strict.url, client);
  });

  it("keeps the connection after a 2 MiB unread body when it is 4 MiB", { timeout: T }, async (t) => {
    const lenient = await startServer({ limits: { maxMessageBytes: LIMIT, maxUnreadBodyBytes: 4 * 1024 * 1024 } });
    const client = new OneSocketClient();
    t.after(() => client.close());
    await earlyThenGood(early("kept", LARGE), lenient.url, client);
  });
});

describe("connect-node clients over HTTP/1.1 keep-alive after a message over the limit", () => {
  const transports: Record<string, (agent: http.Agent) => Transport> = {
    "Connect (fast path)": (agent) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent } }),
    "Connect gzip (connect-node)": (agent) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent }, sendCompression: compressionGzip, compressMinBytes: 1 }),
    "gRPC-Web (fast path)": (agent) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent } }),
    "gRPC-Web gzip (connect-node)": (agent) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent }, sendCompression: compressionGzip, compressMinBytes: 1 }),
  };
  for (const [name, make] of Object.entries(transports)) {
    it(`gets RESOURCE_EXHAUSTED and then an answer: ${name}`, { timeout: T }, async (t) => {
      const one = new OneSocketClient();
      t.after(() => one.close());
      const client = createClient(ExampleService, make(one.agent));
      assert.equal((await client.sayHello({ name: "Ann" })).message, "Hello, Ann");
      const err = await client.sayHello({ name: SMALL.toString("base64") }).then(
        () => assert.fail("expected RESOURCE_EXHAUSTED"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.ResourceExhausted, err.message);
      assert.equal((await client.sayHello({ name: "Bob" })).message, "Hello, Bob");
      // connect-node sends bodies chunked: unless the whole body was in before the answer, the
      // server cannot know how much is left and closes; the next call then takes a new connection.
      assert.equal(one.connections, err.metadata.get("connection") === "close" ? 2 : 1);
    });
  }
});

describe("curl with two URLs in one invocation after an early answer", () => {
  const dir = mkdtempSync(join(tmpdir(), "early-answer-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs curl: the early request, then --next a good one; returns "status connects" per request. */
  function curl(body: Buffer): Promise<string[]> {
    const file = join(dir, `${body.length}.bin`);
    writeFileSync(file, body);
    const target = `${url}/example.ExampleService/SayHello`;
    const out = "%{http_code} %{num_connects}\\n";
    const args = ["-sS", "-o", "/dev/null", "-w", out, "-H", "content-type: application/proto", "--data-binary", `@${file}`, target];
    args.push("--next", "-sS", "-o", "/dev/null", "-w", out, "-H", "content-type: application/json", "--data", '{"name":"Bob"}', target);
    return new Promise((resolve, reject) =>
      execFile("curl", args, { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout.trim().split("\n")))),
    );
  }

  // curl stops an upload (and closes the connection) when an error answer arrives before it sent
  // everything; a body under 64 KiB goes out with the headers, so only the server decides here.
  it("reuses the connection when the unread rest was small", { timeout: T }, async () => {
    assert.deepEqual(await curl(SMALL.subarray(0, 32 * 1024)), ["429 1", "200 0"]);
  });

  it("opens a new connection when the server closed after a large unread body", { timeout: T }, async () => {
    assert.deepEqual(await curl(LARGE), ["429 1", "200 1"]);
  });
});
