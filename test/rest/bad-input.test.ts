// Bad input over REST: every case is a clear 4xx google.rpc.Status, and the server keeps serving.
import assert from "node:assert/strict";
import { connect as h2connect } from "node:http2";
import { after, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { assertStatus, raw } from "./support.js";
import { transcodingService } from "./transcoding-service.js";

const { url } = await startServer({ services: [exampleService(), transcodingService()], limits: { maxMessageBytes: 1024 } });
const json = { "content-type": "application/json" };

const queryCases: Array<[string, string, RegExp]> = [
  ["an unknown parameter", "/v1/echo/a?colour=red", /unknown query parameter "colour"/],
  ["an unknown nested parameter", "/v1/echo/a?nested.nope=1", /unknown query parameter "nested.nope"/],
  ["a malformed integer", "/v1/echo/a?small=12abc", /query parameter "small": "12abc" is not an integer/],
  ["an int32 out of range", "/v1/echo/a?small=2147483648", /query parameter "small": 2147483648 is out of range for int32/],
  ["a negative unsigned", "/v1/echo/a?ubig=-1", /query parameter "ubig".*unsigned/],
  ["an unknown enum name", "/v1/echo/a?kind=KIND_GAMMA", /query parameter "kind": "KIND_GAMMA" is not a value of oneport.testing.v1.Kind/],
  ["a bad bool", "/v1/echo/a?flag=yes", /query parameter "flag": "yes" is not a bool/],
  ["bad base64", "/v1/echo/a?blob=***", /query parameter "blob": "\*\*\*" is not base64/],
  ["base64 with a dangling character (length 1 mod 4)", "/v1/echo/a?blob=ABCDE", /query parameter "blob": "ABCDE" is not base64/],
  ["base64 of a single character", "/v1/echo/a?blob=A", /query parameter "blob": "A" is not base64/],
  ["base64 with padding that does not complete the last group", "/v1/echo/a?blob=AA%3D", /query parameter "blob": "AA=" is not base64/],
  ["base64 with characters after the padding", "/v1/echo/a?blob=AA%3D%3DAA%3D%3D", /query parameter "blob": "AA==AA==" is not base64/],
  ["bad base64 in a BytesValue wrapper", "/v1/echo/a?maybeBytes=A", /query parameter "maybeBytes": "A" is not base64/],
  ["a double literal that overflows to Infinity", "/v1/echo/a?ratio=1e400", /query parameter "ratio": "1e400" is out of range for double/],
  ["a negative double literal that overflows", "/v1/echo/a?ratio=-1e400", /query parameter "ratio": "-1e400" is out of range for double/],
  ["a float literal that overflows to Infinity", "/v1/echo/a?fraction=1e400", /query parameter "fraction": "1e400" is out of range for float/],
  ["a DoubleValue literal that overflows", "/v1/echo/a?maybeDouble=1e400", /query parameter "maybeDouble": "1e400" is out of range for double/],
  ["a bad timestamp", "/v1/echo/a?at=yesterday", /query parameter "at": "yesterday" is not a valid Timestamp/],
  ["a bad duration", "/v1/echo/a?wait=forever", /query parameter "wait": "forever" is not a valid Duration/],
  ["a singular field given twice", "/v1/echo/a?small=1&small=2", /query parameter "small" is given more than once/],
  ["a map field", "/v1/echo/a?labels=x", /query parameter "labels": map fields cannot be set from the query/],
  ["a message field without a subfield", "/v1/echo/a?nested=x", /query parameter "nested" names a message/],
  ["a field bound by the path", "/v1/echo/a?id=b", /query parameter "id" is already bound/],
  ["a subfield of a scalar", "/v1/echo/a?small.x=1", /field "small" is not a message/],
  ["both sides of a oneof", "/v1/echo/a?left=l&right=1", /oneof choice already has "left"/],
  ["invalid percent-encoding in a value", "/v1/echo/a?note=%E0%A4%A", /query parameter "note" has invalid percent-encoding/],
  ["a parameter with a body \"*\" route", "/v1/echo?id=x", /the body binds every field/],
];

describe("REST rejects bad query parameters with 400 INVALID_ARGUMENT naming the parameter", () => {
  for (const [name, path, message] of queryCases) {
    it(`rejects ${name}`, async () => {
      const method = path.startsWith("/v1/echo?") ? "POST" : "GET";
      assertStatus(await raw(url, method, path, { headers: json, body: method === "POST" ? "{}" : undefined }), 400, Code.InvalidArgument, message);
    });
  }
});

describe("REST accepts the edge cases next to those rejections", () => {
  const request = async (query: string) => {
    const a = await raw(url, "GET", `/v1/echo/a?${query}`);
    assert.equal(a.status, 200, a.text);
    return (JSON.parse(a.text) as { request: Record<string, unknown> }).request;
  };

  it("accepts base64 in either alphabet, with or without padding", async () => {
    for (const [q, blob] of [["blob=_-8", "/+8="], ["blob=/%2B8", "/+8="], ["blob=/%2B8%3D", "/+8="], ["blob=AA", "AA=="], ["blob=AA%3D%3D", "AA=="], ["blob=", undefined], ["maybeBytes=aGk%3D", "aGk="]] as const) {
      const r = await request(q);
      assert.equal(r.blob ?? r.maybeBytes, blob, q);
    }
  });

  it("accepts the proto3 JSON spellings NaN, Infinity and -Infinity for double and float", async () => {
    assert.deepEqual(await request("ratio=Infinity&fraction=-Infinity&maybeDouble=NaN"), { id: "a", ratio: "Infinity", fraction: "-Infinity", maybeDouble: "NaN" });
  });

  it("accepts the largest finite double and a literal that underflows to zero", async () => {
    assert.deepEqual(await request("ratio=1.7976931348623157e308&maybeDouble=1e-400"), { id: "a", ratio: 1.7976931348623157e308, maybeDouble: 0 });
  });
});

describe("REST rejects bad paths and bodies with a clear 4xx", () => {
  it("rejects a path variable that does not fit its field", async () => {
    assertStatus(await raw(url, "GET", "/v1/fail/abc"), 400, Code.InvalidArgument, /path variable "code": "abc" is not an integer/);
  });

  it("rejects invalid percent-encoding in the path", async () => {
    assertStatus(await raw(url, "GET", "/v1/hello/%E0%A4%A"), 400, Code.InvalidArgument, /invalid percent-encoding/);
  });

  for (const p of ["/v1/hello/..", "/v1/hello/%2e%2e", "/v1/hello/.", "/v1/projects/p/files/../../etc/passwd"]) {
    it(`rejects the path traversal attempt ${p}`, async () => {
      assertStatus(await raw(url, "GET", p), 400, Code.InvalidArgument, /path segment "\.{1,2}" is not allowed/);
    });
  }

  for (const p of ["/v1/files/..%2F..%2Fetc%2Fpasswd", "/v1/projects/p/files/a%2F.%2Fb", "/v1/hello/%2e%2e%2fx"]) {
    it(`rejects the path traversal attempt ${p} hidden behind encoded slashes`, async () => {
      assertStatus(await raw(url, "GET", p), 400, Code.InvalidArgument, /path segment ".*" is not allowed: "." and ".." cannot be path segments/);
    });
  }

  it("rejects an invalid JSON body", async () => {
    assertStatus(await raw(url, "POST", "/v1/echo", { headers: json, body: "{not json" }), 400, Code.InvalidArgument, /invalid JSON body/);
  });

  it("ignores an unknown field in a JSON body, as Connect does (a newer client's field)", async () => {
    const a = await raw(url, "POST", "/v1/echo", { headers: json, body: '{"id":"x","colour":"red"}' });
    assert.equal(a.status, 200, a.text);
    const connect = await fetch(`${url}/oneport.testing.v1.TranscodingService/Echo`, { method: "POST", headers: json, body: '{"id":"x","colour":"red"}' });
    assert.equal(connect.status, 200);
    assert.deepEqual(JSON.parse(a.text), await connect.json());
  });

  it("rejects a JSON body of the wrong type for a field body", async () => {
    assertStatus(await raw(url, "PUT", "/v1/echo/a", { headers: json, body: '"just a string"' }), 400, Code.InvalidArgument, /invalid request body for field "nested"/);
  });

  it("rejects a wrong content type with 415", async () => {
    assertStatus(await raw(url, "POST", "/v1/echo", { headers: { "content-type": "text/plain" }, body: "id=1" }), 415, Code.InvalidArgument, /unsupported content type "text\/plain"/);
  });

  it("rejects a body over the message limit with 413, by Content-Length and while streaming it", async () => {
    const big = JSON.stringify({ id: "x".repeat(2000) });
    assertStatus(await raw(url, "POST", "/v1/echo", { headers: json, body: big }), 413, Code.ResourceExhausted, /larger than the limit of 1024 bytes/);
    const chunked = await raw(url, "POST", "/v1/echo", { headers: { ...json, "transfer-encoding": "chunked" }, body: big });
    assertStatus(chunked, 413, Code.ResourceExhausted);
  });

  it("keeps serving after all of that", async () => {
    const res = await fetch(`${url}/v1/hello/Bob`);
    assert.deepEqual(await res.json(), { message: "Hello, Bob" });
  });
});

describe("REST over HTTP/2", () => {
  it("answers the course's route over h2c on the same port", async () => {
    const session = h2connect(url);
    after(() => session.close());
    const stream = session.request({ ":path": "/v1/hello/Bob" });
    const chunks: Buffer[] = [];
    const status = await new Promise<number>((resolve) => stream.on("response", (h) => resolve(Number(h[":status"]))));
    for await (const c of stream) chunks.push(c as Buffer);
    assert.equal(status, 200);
    assert.equal(Buffer.concat(chunks).toString(), '{"message":"Hello, Bob"}');
  });
});
