// Property tests against the running transcoder: random queries and junk paths never escape the
// handler; every answer is a 200 or a 4xx with a google.rpc.Status body, and the server lives on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Code } from "@connectrpc/connect";
import { create, fromJson, ScalarType } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { reflect } from "@bufbuild/protobuf/reflect";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { bindQuery, parseQuery, QueryError } from "../../src/rest/query.js";
import { parseScalar, ValueError } from "../../src/rest/values.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { raw, type Answer } from "./support.js";
import { transcodingService } from "./transcoding-service.js";

const { url } = await startServer({ services: [exampleService(), transcodingService()] });

function assertHandled(a: Answer, what: string): void {
  assert.ok(a.status === 200 || (a.status >= 400 && a.status < 500), `${what}: HTTP ${a.status} ${a.text}`);
  if (a.status !== 200 && a.text !== "") {
    const body = JSON.parse(a.text) as { code: unknown; message: unknown };
    assert.ok(typeof body.message === "string", `${what}: ${a.text}`);
    assert.ok(typeof body.code === "number" || typeof body.code === "string", `${what}: ${a.text}`);
  }
}

const names = ["id", "kind", "flag", "big", "ubig", "small", "ratio", "fraction", "blob", "at", "wait", "mask", "maybeInt", "maybe_string", "maybeBool", "tags", "numbers", "kinds", "note", "count", "labels", "left", "right", "nested", "nested.label", "nested.depth", "nested.deeper.value", "nested.items", "x", ""];
const junk = fc.string({ unit: fc.constantFrom(..."aZ09-_.~%+&=/:;,!$'()*@ ?#[]\u00e9"), maxLength: 12 });
const pair = fc.tuple(fc.oneof(fc.constantFrom(...names), junk), fc.oneof(junk, fc.constantFrom("1", "-1", "true", "KIND_ALPHA", "2024-01-01T00:00:00Z", "1s", "aGk=", "99999999999999999999")));
const enc = (s: string) => (s.length % 2 === 0 ? encodeURIComponent(s) : s.replace(/[#?\s]/g, encodeURIComponent));

describe("REST property tests", () => {
  it("answers random query strings with 200 or a 4xx Status, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { maxLength: 6 }), async (pairs) => {
        const q = pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
        assertHandled(await raw(url, "GET", `/v1/echo/p?${q}`), q);
      }),
      { numRuns: 300 },
    );
  });

  it("binds a random valid query exactly as the JSON mapping reads the same values", async () => {
    const valid = fc.record({ small: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), note: fc.string({ maxLength: 10 }), tags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), flag: fc.boolean(), big: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) });
    await fc.assert(
      fc.asyncProperty(valid, async (v) => {
        const q = [`small=${v.small}`, `note=${encodeURIComponent(v.note)}`, ...v.tags.map((t) => `tags=${encodeURIComponent(t)}`), `flag=${v.flag}`, `big=${v.big}`].join("&");
        const a = await raw(url, "GET", `/v1/echo/p?${q}`);
        assert.equal(a.status, 200, a.text);
        const want = fromJson(EchoRequestSchema, { id: "p", small: v.small, note: v.note, tags: v.tags, flag: v.flag, big: String(v.big) });
        const got = fromJson(EchoRequestSchema, (JSON.parse(a.text) as { request: never }).request);
        assert.deepEqual(got, want);
      }),
      { numRuns: 150 },
    );
  });

  it("answers random junk paths with 200 or a 4xx, never a 5xx", async () => {
    const seg = fc.oneof(fc.constantFrom("v1", "echo", "hello", "rooms", "projects", "files", "..", ".", "%2e", "%2F", "%", "%zz", ":archive", "a:b", ""), junk.map(encodeURI));
    await fc.assert(
      fc.asyncProperty(fc.array(seg, { minLength: 1, maxLength: 6 }), fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "SEARCH"), async (segs, method) => {
        const path = "/" + segs.join("/");
        assertHandled(await raw(url, method, path, { headers: { "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" }), `${method} ${path}`);
      }),
      { numRuns: 300 },
    );
    assert.equal((await raw(url, "GET", "/v1/hello/Bob")).text, '{"message":"Hello, Bob"}');
  });

  it("parses any query string without throwing anything but a QueryError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          parseQuery(s);
        } catch (e) {
          assert.match(String(e), /invalid percent-encoding/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses text that is not valid Unicode (a lone surrogate) with a QueryError naming the parameter", () => {
    for (const q of ["note=a\ud800", "nested.label=\udc00", "tags=ok&tags=\ud83d"]) {
      assert.throws(() => bindQuery(reflect(EchoRequestSchema), parseQuery(q), new Set(), false), (e: unknown) => e instanceof QueryError && /query parameter "(note|nested.label|tags)".*not valid Unicode text/.test(e.message));
    }
    const ok = create(EchoRequestSchema);
    bindQuery(reflect(EchoRequestSchema, ok), parseQuery("note=%F0%9F%98%80"), new Set(), false);
    assert.equal(ok.note, "\u{1F600}");
  });

  it("decodes base64 strictly: every encoding of any bytes round-trips, and what it accepts protobuf-es reads the same", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        for (const enc of ["std", "std_raw", "url"] as const) assert.deepEqual(parseScalar(ScalarType.BYTES, base64Encode(bytes, enc)), bytes);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."AZaz09+/-_= "), maxLength: 10 }), (s) => {
        let got: unknown;
        try {
          got = parseScalar(ScalarType.BYTES, s);
        } catch (e) {
          assert.ok(e instanceof ValueError && /is not base64/.test(e.message), String(e));
          return;
        }
        assert.ok(!/=[^=]|^=|\s/.test(s) && s.replace(/=+$/, "").length % 4 !== 1, `accepted ${JSON.stringify(s)}`);
        assert.deepEqual(got, base64Decode(s), s);
      }),
      { numRuns: 1000 },
    );
  });

  it("reports the code of a bad query as INVALID_ARGUMENT", async () => {
    const a = await raw(url, "GET", "/v1/echo/p?small=x");
    assert.equal(JSON.parse(a.text).code, Code.InvalidArgument);
  });
});
