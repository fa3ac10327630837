// gRPC over HTTP/2 (a raw node:http2 client) and gRPC-Web, binary and text, over HTTP/1.1 and
// HTTP/2: mutated length-prefixed frames, random grpc-timeout and grpc-encoding values, trailers
// frames sent by the client. Every answer carries a grpc-status (trailers, or headers when
// trailers-only); the same connection and a fresh one then serve a valid call.
import assert from "node:assert/strict";
import type * as http2 from "node:http2";
import { describe, it } from "node:test";
import fc from "fast-check";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExampleService, HelloRequestSchema, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { assertClean, budget, envelope, envelopes, fuzzClients, h1call, h2call, mutated, startFuzzServer } from "./support.js";

const srv = await startFuzzServer({ limits: { maxMessageBytes: 4096 } });
const { agent, h2session } = fuzzClients(srv);

const hello = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
const helloJson = new TextEncoder().encode(toJsonString(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" })));
const stream = toBinary(HelloStreamRequestSchema, create(HelloStreamRequestSchema, { name: "Bob", count: 2 }));
const seeds = [
  envelope(hello),
  envelope(helloJson),
  envelope(stream),
  Buffer.concat([envelope(hello), envelope(hello)]),
  Buffer.concat([envelope(hello), envelope(new TextEncoder().encode("grpc-status: 0\r\n"), 0x80)]),
  envelope(hello, 1),
];
// Length fields of the first two envelopes of every seed.
const lengthAt = [1, 5 + hello.length + 1];
const paths = fc.constantFrom("/example.ExampleService/SayHello", "/example.ExampleService/SayHelloStream", "/example.ExampleService/CollectNames", "/example.ExampleService/Chatter", "/example.ExampleService/Nope");
const timeouts = fc.option(fc.oneof(fc.constantFrom("1n", "0m", "1S", "99999999H", "100000000S", "5", "S", "-1S", "1.5S", " 1S", "1s", ""), fc.nat(99999999).map((n) => `${n}m`)));
const encodings = fc.option(fc.constantFrom("identity", "gzip", "deflate", "snappy", "", "gzip,identity"));

type Answer = { status: number; headers: Record<string, unknown>; trailers: Record<string, unknown>; body: Buffer };

/** grpc-status from the trailers, the headers (trailers-only) or, for gRPC-Web, the trailer frame. */
function assertGrpc(a: Answer, web: boolean, what: string, contentType: string): void {
  // connect-node serves no gRPC-Web text and no content-type parameters: those get 415, as gRPC
  // servers answer a content type they do not speak; the ones it speaks never do.
  if (a.status === 415) return assert.doesNotMatch(contentType, /^application\/grpc(-web)?(\+(proto|json))?$/, `${what}: 415 for a supported type`);
  // connect-node refuses bidi streams over HTTP/1.1 with 505 (the WebSocket bridge serves those).
  if (a.status === 505) return assert.match(what, /\/Chatter .*HTTP\/1\.1/, `${what}: 505`);
  assert.equal(a.status, 200, `${what}: HTTP ${a.status} ${a.body.toString("latin1").slice(0, 200)}`);
  let status = a.trailers["grpc-status"] ?? a.headers["grpc-status"];
  let message = a.trailers["grpc-message"] ?? a.headers["grpc-message"];
  if (status === undefined && web) {
    const env = envelopes(a.body);
    const last = env[env.length - 1];
    assert.ok(last !== undefined && (last.flags & 0x80) === 0x80, `${what}: no trailer frame`);
    const fields = Object.fromEntries(last.data.toString("latin1").split("\r\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
    status = fields["grpc-status"];
    message = fields["grpc-message"];
  }
  assert.match(String(status), /^(\d|1[0-6])$/, `${what}: grpc-status ${String(status)}`);
  if (message !== undefined) assertClean(decodeURIComponent(String(message)), what);
}

/** gRPC-Web text: base64 of the binary body, each envelope its own padded chunk. */
function fromText(body: Buffer): Buffer {
  const s = body.toString("latin1");
  const parts = s.match(/[^=]*=*/g) ?? [];
  return Buffer.concat(parts.filter(Boolean).map((p) => Buffer.from(p, "base64")));
}

async function stillServes(): Promise<void> {
  const a = await h2call(h2session(), { ":path": "/example.ExampleService/SayHello", "content-type": "application/grpc", te: "trailers" }, envelope(hello));
  assert.equal(a.trailers["grpc-status"], "0");
  const b = await h1call(agent, srv.port, "POST", "/example.ExampleService/SayHello", { "content-type": "application/grpc-web+proto" }, envelope(hello));
  assert.equal(b.status, 200);
  assert.deepEqual(envelopes(b.body).map((e) => e.flags), [0, 0x80]);
  for (const transport of [createGrpcTransport({ baseUrl: srv.url }), createGrpcWebTransport({ baseUrl: srv.url, httpVersion: "1.1" })]) {
    assert.equal((await createClient(ExampleService, transport).sayHello({ name: "fresh" })).message, "Hello, fresh");
  }
}

describe("gRPC and gRPC-Web under fuzzing", { timeout: 120_000 }, () => {
  it("answers mutated gRPC frames, timeouts and encodings over HTTP/2 with a grpc-status", async () => {
    const ct = fc.constantFrom("application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc+xml", "application/grpc; charset=utf-8");
    await fc.assert(
      fc.asyncProperty(paths, ct, timeouts, encodings, fc.oneof(mutated(seeds, { lengthAt, maxOps: 3 }), fc.uint8Array({ maxLength: 40 })), async (p, contentType, timeout, encoding, body) => {
        const headers: http2.OutgoingHttpHeaders = { ":path": p, "content-type": contentType, te: "trailers" };
        if (timeout !== null) headers["grpc-timeout"] = timeout;
        if (encoding !== null) headers["grpc-encoding"] = encoding;
        const a = await h2call(h2session(), headers, body);
        assert.equal(a.rstCode, undefined, `${p}: the stream was reset (code ${a.rstCode})`);
        assertGrpc(a, false, `${p} ${contentType} timeout=${timeout} encoding=${encoding}`, contentType);
      }),
      budget(400, 3000),
    );
    await stillServes();
  });

  for (const h2 of [false, true]) {
    it(`answers mutated gRPC-Web requests, binary and text, with a grpc-status (${h2 ? "HTTP/2" : "HTTP/1.1"})`, async () => {
      const ct = fc.constantFrom("application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json", "application/grpc-web-text", "application/grpc-web-text+proto");
      // Text bodies: the base64 of a mutated frame, or mutated base64.
      const textBody = fc.oneof(mutated(seeds, { lengthAt, maxOps: 3 }).map((b) => Buffer.from(Buffer.from(b).toString("base64"))), mutated(seeds.map((s) => Buffer.from(Buffer.from(s).toString("base64")))));
      await fc.assert(
        fc.asyncProperty(paths, ct, timeouts, fc.oneof(mutated(seeds, { lengthAt, maxOps: 3 }), fc.uint8Array({ maxLength: 40 })), textBody, async (p, contentType, timeout, bin, text) => {
          const isText = contentType.startsWith("application/grpc-web-text");
          const headers: Record<string, string> = { "content-type": contentType, "x-grpc-web": "1" };
          if (timeout !== null) headers["grpc-timeout"] = timeout;
          const body = isText ? text : bin;
          const what = `${p} ${contentType} timeout=${timeout} over ${h2 ? "HTTP/2" : "HTTP/1.1"}`;
          let a: Answer;
          if (h2) {
            const r = await h2call(h2session(), { ":path": p, ...headers }, body);
            assert.equal(r.rstCode, undefined, `${what}: the stream was reset (code ${r.rstCode})`);
            a = r;
          } else {
            const r = await h1call(agent, srv.port, "POST", p, headers, body);
            a = { ...r, trailers: {} };
          }
          assertGrpc(isText && a.status === 200 && a.headers["grpc-status"] === undefined ? { ...a, body: fromText(a.body) } : a, true, what, contentType);
        }),
        budget(400, 3000),
      );
      await stillServes();
    });
  }
});
