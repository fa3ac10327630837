// The Connect protocol through the real server, HTTP/1.1 and HTTP/2: mutated unary bodies (JSON
// and proto), GET requests with random query parameters, random protocol headers, and mutated
// streaming envelopes. Every answer is a success or Connect's error JSON with the HTTP status of its
// code; the same connection and a fresh one then serve a valid call.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { codeFromString, codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ExampleService, HelloRequestSchema, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { assertClean, budget, envelope, envelopes, fuzzClients, h1call, h2call, junkText, mutated, startFuzzServer } from "./support.js";

const srv = await startFuzzServer({ limits: { maxMessageBytes: 4096 } });
const { agent, h2session } = fuzzClients(srv);

const enc = new TextEncoder();
const helloJson = enc.encode(toJsonString(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" })));
const helloProto = toBinary(HelloRequestSchema, create(HelloRequestSchema, { name: "Bob" }));
const streamJson = enc.encode('{"name":"Bob","count":2}');
const streamProto = toBinary(HelloStreamRequestSchema, create(HelloStreamRequestSchema, { name: "Bob", count: 2 }));

type Answer = { status: number; headers: Record<string, unknown>; body: Buffer };

/** One request over HTTP/1.1 (the shared keep-alive socket) or the shared HTTP/2 session. */
async function call(h2: boolean, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Answer> {
  if (!h2) return h1call(agent, srv.port, method, path, headers, method === "GET" ? undefined : body);
  const a = await h2call(h2session(), { ":method": method, ":path": path, ...headers }, method === "GET" ? undefined : body);
  assert.equal(a.rstCode, undefined, `${method} ${path}: the stream was reset (code ${a.rstCode})`);
  return { status: a.status, headers: a.headers, body: a.body };
}

/** A Connect unary answer: 200, or the error JSON with the status its code maps to (or a bodiless 4xx). */
function assertUnary(a: Answer, what: string): void {
  if (a.status === 200) return;
  if (a.body.length === 0) return assert.ok([404, 405, 415, 505].includes(a.status), `${what}: HTTP ${a.status} without a body`);
  assert.match(String(a.headers["content-type"]), /^application\/json/, what);
  const e = JSON.parse(a.body.toString("utf8")) as { code: string; message?: string };
  const code = codeFromString(e.code);
  assert.ok(code !== undefined, `${what}: unknown code ${e.code}`);
  // An unknown method is a 404 (as connect-go answers it); every other code has its own status.
  const want = a.status === 404 && e.code === "unimplemented" ? 404 : codeToHttpStatus(code);
  assert.equal(a.status, want, `${what}: HTTP ${a.status} for ${e.code}`);
  assertClean(e.message ?? "", what);
}

/** A Connect streaming answer: envelopes ending in exactly one end-stream JSON (with a valid error if any). */
function assertStream(a: Answer, what: string): void {
  if (a.status !== 200) return assertUnary(a, what);
  const env = envelopes(a.body);
  assert.ok(env.length > 0, `${what}: no end-stream message`);
  const last = env[env.length - 1];
  assert.equal(last.flags & 0x02, 0x02, `${what}: the last envelope is not end-stream`);
  env.slice(0, -1).forEach((e) => assert.equal(e.flags & 0x02, 0, `${what}: end-stream before the end`));
  const end = JSON.parse(last.data.toString("utf8")) as { error?: { code: string; message?: string } };
  if (end.error) {
    assert.ok(codeFromString(end.error.code) !== undefined, `${what}: unknown code ${end.error.code}`);
    assertClean(end.error.message ?? "", what);
  }
}

/** Percent-encodes one character by its UTF-8 bytes (a lone surrogate becomes U+FFFD's). */
const pct = (c: string) => [...Buffer.from(c, "utf8")].map((b) => "%" + b.toString(16).padStart(2, "0")).join("");

async function stillServes(h2: boolean): Promise<void> {
  const a = await call(h2, "POST", "/example.ExampleService/SayHello", { "content-type": "application/json" }, helloJson);
  assert.equal(a.status, 200, a.body.toString());
  assert.deepEqual(JSON.parse(a.body.toString()), { message: "Hello, Bob" });
  const fresh = createClient(ExampleService, createConnectTransport({ baseUrl: srv.url, httpVersion: h2 ? "2" : "1.1" }));
  assert.equal((await fresh.sayHello({ name: "fresh" })).message, "Hello, fresh");
}

const timeouts = fc.oneof(fc.constantFrom("", "0", "1", "100", "9999999999", "99999999999", "-1", "1.5", "1e3", " 5", "abc"), fc.nat().map(String));
const versions = fc.constantFrom("1", "2", "", "1 ", "v1");
const encodings = fc.constantFrom("identity", "gzip", "br", "zstd", "", "x-junk", "gzip, br");
const headerSets = fc.record(
  { "connect-timeout-ms": timeouts, "connect-protocol-version": versions, "content-encoding": encodings, "connect-accept-encoding": encodings, "x-request-id": fc.string({ unit: fc.constantFrom(..."abc-_.:/ 019"), maxLength: 80 }) },
  { requiredKeys: [] },
);

describe("Connect protocol under fuzzing", { timeout: 120_000 }, () => {
  for (const h2 of [false, true]) {
    const over = h2 ? "HTTP/2" : "HTTP/1.1";

    it(`answers mutated unary bodies and random headers with Connect errors (${over})`, async () => {
      const body = fc.oneof(mutated([helloJson, helloProto, enc.encode('{"name":"Bob","extra":[1,{"a":null}]}')], { maxOps: 4 }), fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(5000)));
      const ct = fc.constantFrom("application/json", "application/proto", "application/json; charset=utf-8", "application/json; charset=latin1", "application/JSON", "application/proto; x=y", "text/plain");
      const path = fc.constantFrom("/example.ExampleService/SayHello", "/example.ExampleService/SayHelloStream", "/example.ExampleService/CollectNames", "/example.ExampleService/Nope");
      await fc.assert(
        fc.asyncProperty(path, ct, headerSets, body, async (p, contentType, headers, b) => {
          assertUnary(await call(h2, "POST", p, { ...headers, "content-type": contentType }, b), `POST ${p} ${contentType} ${JSON.stringify(headers)}`);
        }),
        budget(300, 2000),
      );
      await stillServes(h2);
    });

    it(`answers GET requests with random query parameters with Connect errors (${over})`, async () => {
      const message = fc.oneof(
        mutated([helloJson]).map((b) => Buffer.from(b).toString("utf8")),
        mutated([helloProto]).map((b) => Buffer.from(b).toString("base64url")),
        junkText("A-Za-z09+/=_-%{}\":", 30),
      );
      const params = fc.record(
        { message, encoding: fc.constantFrom("json", "proto", "JSON", "", "xml"), base64: fc.constantFrom("1", "0", "true", ""), compression: fc.constantFrom("identity", "gzip", "br", "junk", ""), connect: fc.constantFrom("v1", "v2", "") },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(params, headerSets, fc.boolean(), async (q, headers, raw) => {
          // Raw: the query as typed (percent signs and all); otherwise properly encoded.
          const query = raw ? Object.entries(q).map(([k, v]) => `${k}=${v.replace(/[^\x21-\x7e]|#/gu, pct)}`).join("&") : new URLSearchParams(q).toString();
          const path = `/example.ExampleService/SayHello?${query}`;
          assertUnary(await call(h2, "GET", path, headers), `GET ${path}`);
        }),
        // Regression: invalid base64 in "message" was an INTERNAL error (HTTP 500) on the fast path.
        budget<[Record<string, string>, Record<string, string>, boolean]>(300, 2000, [[{ message: "!!!", encoding: "proto", base64: "1" }, {}, false]]),
      );
      await stillServes(h2);
    });
  }

  it("answers mutated streaming envelopes with an end-stream message or a Connect error (HTTP/2)", async () => {
    const valid = [envelope(streamJson), envelope(streamProto), envelope(helloProto), Buffer.concat([envelope(helloJson), envelope(helloJson)]), Buffer.concat([envelope(helloProto), envelope(enc.encode("{}"), 2)])];
    const lengthAt = [1, 5 + helloJson.length + 1];
    const ct = fc.constantFrom("application/connect+json", "application/connect+proto", "application/connect+json; charset=utf-8", "application/connect+xml");
    const path = fc.constantFrom("/example.ExampleService/SayHelloStream", "/example.ExampleService/CollectNames", "/example.ExampleService/Chatter");
    await fc.assert(
      fc.asyncProperty(path, ct, headerSets, fc.oneof(mutated(valid, { lengthAt, maxOps: 3 }), fc.uint8Array({ maxLength: 40 })), async (p, contentType, headers, b) => {
        delete headers["content-encoding"]; // connect-content-encoding is the streaming header
        assertStream(await call(true, "POST", p, { ...headers, "content-type": contentType, "connect-content-encoding": "identity" }, b), `POST ${p} ${contentType}`);
      }),
      budget(300, 2500),
    );
    await stillServes(true);
  });
});
