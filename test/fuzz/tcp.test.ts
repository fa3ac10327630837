// Raw TCP bytes at the one port: random bytes, mutated HTTP/2 prefaces and requests, mutated
// HTTP/1.1 request heads. The server answers (a 4xx on HTTP/1.1) or closes, never hangs, logs no
// error, and the next valid request, on HTTP/1.1 and HTTP/2, succeeds.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { budget, mutated, mutatedLatin1, startFuzzServer, tcpExchange } from "./support.js";

const srv = await startFuzzServer({ limits: { headersTimeoutMs: 1000 } });
const grpc = createClient(ExampleService, createGrpcTransport({ baseUrl: srv.url }));
const connect11 = createClient(ExampleService, createConnectTransport({ baseUrl: srv.url, httpVersion: "1.1" }));

async function stillServes(): Promise<void> {
  assert.equal((await grpc.sayHello({ name: "after" })).message, "Hello, after");
  assert.equal((await connect11.sayHello({ name: "after" })).message, "Hello, after");
}

/** The HTTP/1.1 status line of an answer, or undefined if the server only closed. */
function statusOf(out: Buffer): number | undefined {
  if (out.length === 0) return undefined;
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(out.subarray(0, 32).toString("latin1"));
  assert.ok(m, `not an HTTP/1.1 answer: ${JSON.stringify(out.subarray(0, 80).toString("latin1"))}`);
  return Number(m[1]);
}

// An HTTP/2 frame: 24-bit length, type, flags, stream id.
function h2frame(type: number, flags: number, stream: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  b.set(payload, 9);
  return b;
}

// HPACK "literal header field without indexing, new name", no Huffman: enough for a valid request.
function hpack(headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of headers) parts.push(Buffer.from([0x00, k.length]), Buffer.from(k), Buffer.from([v.length]), Buffer.from(v));
  return Buffer.concat(parts);
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const settings = h2frame(0x4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
const settingsAck = h2frame(0x4, 0x1, 0, new Uint8Array(0));
const grpcHeaders = hpack([[":method", "POST"], [":scheme", "http"], [":path", "/example.ExampleService/SayHello"], [":authority", "x"], ["content-type", "application/grpc"], ["te", "trailers"]]);
const hello = Buffer.from([0, 0, 0, 0, 5, 10, 3, 66, 111, 98]);
const h2seeds = [
  Buffer.concat([PREFACE, settings, h2frame(0x1, 0x4, 1, grpcHeaders), h2frame(0x0, 0x1, 1, hello)]),
  Buffer.concat([PREFACE, settings, settingsAck, h2frame(0x1, 0x5, 1, hpack([[":method", "GET"], [":scheme", "http"], [":path", "/v1/hello/Bob"], [":authority", "x"]]))]),
  Buffer.concat([PREFACE, settings, h2frame(0x8, 0, 0, Buffer.from([0, 0, 0xff, 0xff])), h2frame(0x6, 0, 0, Buffer.alloc(8)), h2frame(0x3, 0, 1, Buffer.alloc(4))]),
];
// Offsets of frame length fields (3 bytes, so aim the 4-byte write one byte early) in the seeds.
const h2lengths = [PREFACE.length - 1, PREFACE.length + settings.length - 1, PREFACE.length + settings.length + 9 + grpcHeaders.length - 1];

const h1seeds = [
  "GET /v1/hello/Bob HTTP/1.1\r\nHost: x\r\n\r\n",
  "POST /example.ExampleService/SayHello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"name\":\"Bob\"}",
  "POST /example.ExampleService/SayHello HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked\r\n\r\na\r\n\x00\x00\x00\x00\x05\x0a\x03Bob\r\n0\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: oneport.json.v1\r\n\r\n",
  "GET /example.ExampleService/SayHello?encoding=json&message=%7B%22name%22%3A%22Bob%22%7D HTTP/1.1\r\nHost: x\r\nConnect-Protocol-Version: 1\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
];

describe("raw TCP bytes at the port", { timeout: 120_000 }, () => {
  after(() => srv.assertNoCrash());

  it("answers random bytes with an HTTP/1.1 4xx or a close, and keeps serving", async () => {
    const statuses = new Set<number | undefined>();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const status = statusOf(await tcpExchange(srv.port, bytes, { endAfterWrite: true }));
        statuses.add(status);
        if (status !== undefined) assert.ok(status >= 400 && status < 500, `HTTP ${status}`);
      }),
      budget(300, 2500),
    );
    await stillServes();
  });

  it("survives mutated HTTP/2 prefaces and first frames, and keeps serving", async () => {
    // Sixteen connections per run, side by side: a frame whose length field lies leaves the server
    // rightly waiting for the rest, so those are given up on by the client after a while.
    await fc.assert(
      fc.asyncProperty(fc.array(mutated(h2seeds, { lengthAt: h2lengths, maxOps: 3 }), { minLength: 16, maxLength: 16 }), async (inputs) => {
        await Promise.all(inputs.map((bytes) => tcpExchange(srv.port, bytes, { endAfterWrite: true, patienceMs: 1500 })));
      }),
      budget(40, 3500),
    );
    await stillServes();
  });

  it("closes a connection that stops inside the HTTP/2 preface once the headers timeout passes", async () => {
    // Each run waits for headersTimeoutMs (1 s here): a handful of cut points is enough.
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: PREFACE.length - 1 }), async (n) => {
        assert.equal((await tcpExchange(srv.port, PREFACE.subarray(0, n))).length, 0);
      }),
      budget(3, 4000),
    );
  });

  it("answers mutated HTTP/1.1 requests with a status below 500 (or a close), and keeps serving", async () => {
    const seen = new Map<number | undefined, number>();
    await fc.assert(
      fc.asyncProperty(mutatedLatin1(h1seeds, { maxOps: 3 }), async (bytes) => {
        const out = await tcpExchange(srv.port, bytes, { endAfterWrite: true });
        const status = statusOf(out);
        seen.set(status, (seen.get(status) ?? 0) + 1);
        if (status !== undefined) assert.ok(status < 500, `HTTP ${status} for ${JSON.stringify(bytes.toString("latin1"))}:\n${out.toString("latin1").slice(0, 400)}`);
      }),
      // Regressions: Host headers that are no host made connect-node throw (a 500 from the dispatcher).
      budget<[Buffer]>(500, 3000, [
        [Buffer.from("POST /example.ExampleService/SayHello HTTP/1.1\r\nHost: Content-Type: application/grpc-web+proto\r\nContent-Length: 0\r\n\r\n", "latin1")],
        [Buffer.from("POST /example.ExampleService/SayHello HTTP/1.1\r\nHost: a:b:c\r\nContent-Type: application/grpc-web-text\r\nContent-Length: 0\r\n\r\n", "latin1")],
      ]),
    );
    // Mutations hit both sides: most requests still parse, many do not.
    assert.ok([...seen.keys()].some((s) => s !== undefined && s < 300), `statuses ${JSON.stringify([...seen])}`);
    assert.ok([...seen.keys()].some((s) => s === 400), `statuses ${JSON.stringify([...seen])}`);
    await stillServes();
  });
});
