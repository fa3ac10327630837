// Every HttpRule feature, each case called over REST and over Connect: same answer, same code.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromJson, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { EchoRequestSchema, EchoResponseSchema, FileSchema, RoomSchema, TranscodingService } from "../../src/gen/oneport/testing/v1/transcoding_pb.js";
import { HelloResponseSchema } from "../../src/gen/example/example_pb.js";
import { httpStatusFromCode } from "../../src/rest/errors.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { assertStatus, raw } from "./support.js";
import { transcodingService } from "./transcoding-service.js";

const { url } = await startServer({ services: [exampleService(), transcodingService()] });
const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
const t: Client<typeof TranscodingService> = createClient(TranscodingService, transport);
const hello = createClient(ExampleService, transport);

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** The same call over Connect, and the schema of its answer. */
  connect: () => Promise<unknown>;
  out: DescMessage;
  /** Picks the part of the Connect answer a response_body rule selects. */
  pick?: (json: Record<string, JsonValue>) => JsonValue;
}

const echo = (json: JsonValue) => t.echo(fromJson(EchoRequestSchema, json));
const everyType = {
  id: "abc",
  kind: "KIND_BETA",
  flag: true,
  big: "-9007199254740993",
  ubig: "18446744073709551615",
  small: -5,
  ratio: 1.5,
  fraction: 0.25,
  blob: "aGVsbG8/",
  at: "2024-01-02T03:04:05.500Z",
  wait: "1.500s",
  mask: "a,nested.label",
  maybeInt: 7,
  maybeString: "hi",
  maybeBool: false,
  tags: ["a", "b c"],
  numbers: [1, 2],
  kinds: ["KIND_ALPHA", "KIND_BETA"],
  note: "n",
  count: 4294967295,
  nested: { label: "L", depth: 3, deeper: { value: "V" }, items: ["x", "y"] },
  left: "l",
  maybeUint64: "18446744073709551615",
  maybeDouble: -0.5,
  maybeBytes: "/+8=",
  times: ["2024-01-02T03:04:05Z", "1970-01-01T00:00:00.000000001Z"],
};
const everyQuery =
  "kind=KIND_BETA&flag=true&big=-9007199254740993&ubig=18446744073709551615&small=-5&ratio=1.5&fraction=0.25" +
  "&blob=aGVsbG8_&at=2024-01-02T03:04:05.5Z&wait=1.5s&mask=a,nested.label&maybeInt=7&maybe_string=hi&maybeBool=0" +
  "&tags=a&tags=b+c&numbers=1&numbers=2&kinds=1&kinds=KIND_BETA&note=n&count=4294967295" +
  "&nested.label=L&nested.depth=3&nested.deeper.value=V&nested.items=x&nested.items=y&left=l" +
  "&maybe_uint64=18446744073709551615&maybeDouble=-5e-1&maybeBytes=_-8&times=2024-01-02T03:04:05Z&times=1970-01-01T00:00:00.000000001Z";

const cases: Case[] = [
  { name: "the course's route GET /v1/hello/{name}", method: "GET", path: "/v1/hello/Bob", connect: () => hello.sayHello({ name: "Bob" }), out: HelloResponseSchema },
  { name: "a percent-encoded path variable", method: "GET", path: "/v1/hello/J%C3%BCrgen%20B%2F", connect: () => hello.sayHello({ name: "Jürgen B/" }), out: HelloResponseSchema },
  { name: "query parameters of every type", method: "GET", path: `/v1/echo/abc?${everyQuery}`, connect: () => echo(everyType), out: EchoResponseSchema },
  { name: "a nested field path variable {nested.deeper.value}", method: "GET", path: "/v1/echo/a1/nested/deep%20v", connect: () => echo({ id: "a1", nested: { deeper: { value: "deep v" } } }), out: EchoResponseSchema },
  {
    name: 'body "*"',
    method: "POST",
    path: "/v1/echo",
    body: JSON.stringify({ id: "x", nested: { label: "l" }, tags: ["a"], big: "12", at: "2020-01-01T00:00:00Z" }),
    connect: () => echo({ id: "x", nested: { label: "l" }, tags: ["a"], big: "12", at: "2020-01-01T00:00:00Z" }),
    out: EchoResponseSchema,
  },
  {
    name: 'body "nested" plus path and query',
    method: "PUT",
    path: "/v1/echo/p1?small=3&tags=q",
    body: JSON.stringify({ label: "L", depth: 2 }),
    connect: () => echo({ id: "p1", small: 3, tags: ["q"], nested: { label: "L", depth: 2 } }),
    out: EchoResponseSchema,
  },
  {
    name: 'response_body "request" (a message field)',
    method: "PATCH",
    path: "/v1/echo/p2",
    body: JSON.stringify({ label: "L" }),
    connect: () => echo({ id: "p2", nested: { label: "L" } }),
    out: EchoResponseSchema,
    pick: (j) => j.request,
  },
  { name: 'response_body "message" (a scalar field)', method: "GET", path: "/v1/echo/m1/message", connect: () => t.echoMessage({ id: "m1" }), out: EchoResponseSchema, pick: (j) => j.message },
  { name: "additional_bindings: DELETE", method: "DELETE", path: "/v1/echo/d1?flag=1", connect: () => echo({ id: "d1", flag: true }), out: EchoResponseSchema },
  { name: "a custom verb kind SEARCH with a :verb path", method: "SEARCH", path: "/v1/echo:search?id=q1", connect: () => echo({ id: "q1" }), out: EchoResponseSchema },
  { name: "a ** template", method: "GET", path: "/v1/projects/p1/files/a/b/c.txt", connect: () => t.getFile({ name: "projects/p1/files/a/b/c.txt" }), out: FileSchema },
  { name: "a ** template matching zero segments", method: "GET", path: "/v1/projects/p1/files", connect: () => t.getFile({ name: "projects/p1/files" }), out: FileSchema },
  { name: "a ** variable over several segments keeps %2F encoded (http.proto)", method: "GET", path: "/v1/projects/p%201/files/a%2Fb/c", connect: () => t.getFile({ name: "projects/p 1/files/a%2Fb/c" }), out: FileSchema },
  {
    name: "a ** that matched one segment decoded whole, %2F as / (how OpenAPI clients send it)",
    method: "GET",
    path: "/v1/projects/p1/files/dir%2Fsub%20dir%2Fa.txt",
    connect: () => t.getFile({ name: "projects/p1/files/dir/sub dir/a.txt" }),
    out: FileSchema,
  },
  { name: "additional_bindings: /v1/{name=files/**}", method: "GET", path: "/v1/files/dir/a.txt", connect: () => t.getFile({ name: "files/dir/a.txt" }), out: FileSchema },
  { name: "/v1/{name=files/**} with the rest of the path as one encoded segment", method: "GET", path: "/v1/files/dir%2Fa.txt", connect: () => t.getFile({ name: "files/dir/a.txt" }), out: FileSchema },
  { name: "a {name=rooms/*} template", method: "GET", path: "/v1/rooms/r1", connect: () => t.getRoom({ name: "rooms/r1" }), out: RoomSchema },
  {
    name: "a :verb suffix on a template variable",
    method: "POST",
    path: "/v1/rooms/r1:archive",
    body: JSON.stringify({ reason: "done" }),
    connect: () => t.archiveRoom({ name: "rooms/r1", reason: "done" }),
    out: RoomSchema,
  },
  { name: "a colon that is no known verb stays in the variable", method: "GET", path: "/v1/rooms/r1:archive", connect: () => t.getRoom({ name: "rooms/r1:archive" }), out: RoomSchema },
  {
    name: "an HttpBody request field takes raw bytes and their content type",
    method: "POST",
    path: "/v1/uploads/f.bin",
    body: "\u0000\u0001binary",
    headers: { "content-type": "application/octet-stream" },
    connect: () => t.upload({ name: "f.bin", data: { contentType: "application/octet-stream", data: new TextEncoder().encode("\u0000\u0001binary") } }),
    out: FileSchema,
  },
];

describe("REST transcoding matches Connect", () => {
  for (const c of cases) {
    it(`answers ${c.name} like Connect does`, async () => {
      const a = await raw(url, c.method, c.path, { body: c.body, headers: { "content-type": "application/json", ...c.headers } });
      assert.equal(a.status, 200, a.text);
      assert.match(String(a.headers["content-type"]), /^application\/json/);
      const want = toJson(c.out, (await c.connect()) as never) as Record<string, JsonValue>;
      assert.deepEqual(JSON.parse(a.text), c.pick ? c.pick(want) : want);
    });
  }

  it("answers {\"message\":\"Hello, Bob\"} byte for byte on the course's route", async () => {
    const res = await fetch(`${url}/v1/hello/Bob`);
    assert.equal(await res.text(), '{"message":"Hello, Bob"}');
  });

  it("answers a google.api.HttpBody response with its raw bytes and content type", async () => {
    const a = await raw(url, "GET", "/v1/downloads/x.png");
    const want = await t.download({ name: "x.png" });
    assert.equal(a.status, 200);
    assert.equal(a.headers["content-type"], want.contentType);
    assert.deepEqual(new Uint8Array(a.bytes), want.data);
  });
});

describe("REST errors match Connect codes and grpc-gateway HTTP statuses", () => {
  for (let code = 1; code <= 16; code++) {
    it(`maps ${Code[code]} to HTTP ${httpStatusFromCode[code as Code]} with a google.rpc.Status body`, async () => {
      const a = await raw(url, "GET", `/v1/fail/${code}`);
      const body = assertStatus(a, httpStatusFromCode[code as Code], code, new RegExp(`failing with ${Code[code]}`));
      const err = await t.fail({ code }).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, code);
      assert.equal(body.message, err.rawMessage);
      const detail = body.details[0] as Record<string, unknown>;
      assert.equal(detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
      assert.equal(detail.reason, "TEST_FAILURE");
      assert.deepEqual(err.findDetails(ErrorInfoSchema).map((d) => d.reason), ["TEST_FAILURE"]);
    });
  }

  it("answers an empty name with 400 INVALID_ARGUMENT, like Connect", async () => {
    assertStatus(await raw(url, "GET", "/v1/hello/"), 400, Code.InvalidArgument, /name must not be empty/);
    const err = await hello.sayHello({ name: "" }).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
    assert.equal(err.code, Code.InvalidArgument);
  });

  it("answers 404 NOT_FOUND for an unknown path under a REST root", async () => {
    assertStatus(await raw(url, "GET", "/v1/nothing/here"), 404, Code.NotFound, /no REST route/);
  });

  it("answers 404 for a path outside every route", async () => {
    assert.equal((await raw(url, "GET", "/nowhere")).status, 404);
  });

  it("answers 405 with Allow when the path exists for other methods", async () => {
    const a = await raw(url, "POST", "/v1/hello/Bob");
    assertStatus(a, 405, Code.Unimplemented, /POST is not allowed/);
    assert.equal(a.headers.allow, "GET, HEAD");
    // POST archives the room; GET reads a room named "rooms/r1:archive" (the colon is then part of the name).
    const b = await raw(url, "PUT", "/v1/rooms/r1:archive");
    assert.equal(b.status, 405);
    assert.equal(b.headers.allow, "GET, HEAD, POST");
    const c = await raw(url, "GET", "/v1/echo");
    assert.equal(c.headers.allow, "POST");
  });

  it("refuses a client-streaming method with a clear 501 UNIMPLEMENTED", async () => {
    assertStatus(await raw(url, "POST", "/v1/sum", { body: "{}", headers: { "content-type": "application/json" } }), 501, Code.Unimplemented, /client-streaming method; REST cannot carry a client stream.*WebSocket/);
  });

  it("refuses a bidi-streaming method with a clear 501 UNIMPLEMENTED, while Connect serves it", async () => {
    assertStatus(await raw(url, "POST", "/v1/running-sum", { body: "{}", headers: { "content-type": "application/json" } }), 501, Code.Unimplemented, /bidi-streaming method; REST cannot carry a client stream.*WebSocket/);
    const h2 = createClient(TranscodingService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
    async function* numbers() {
      yield { value: 1n };
      yield { value: 2n };
    }
    const totals: bigint[] = [];
    for await (const r of h2.runningSum(numbers())) totals.push(r.total);
    assert.deepEqual(totals, [1n, 3n]);
  });
});

describe("REST headers, metadata and deadlines", () => {
  it("passes allowlisted headers and Grpc-Metadata-* as metadata, and nothing else", async () => {
    const a = await raw(url, "GET", "/v1/metadata", {
      headers: { authorization: "Bearer tok", "grpc-metadata-tenant": "t1", cookie: "secret=1", "x-custom": "no", "x-request-id": "req-1" },
    });
    assert.equal(a.status, 200, a.text);
    const headers = (JSON.parse(a.text) as { headers: Record<string, string> }).headers;
    assert.equal(headers.authorization, "Bearer tok");
    assert.equal(headers.tenant, "t1");
    assert.equal(headers["x-request-id"], "req-1");
    assert.equal(headers.cookie, undefined);
    assert.equal(headers["x-custom"], undefined);
  });

  it("returns response headers as headers and trailers as Grpc-Trailer-* headers", async () => {
    const a = await raw(url, "GET", "/v1/metadata");
    assert.equal(a.headers["x-answer"], "42");
    assert.equal(a.headers["grpc-trailer-x-checksum"], "abc");
    assert.equal(a.headers["x-request-id"] !== undefined, true);
  });

  it("takes the deadline from the grpc-timeout header", async () => {
    const a = await raw(url, "GET", "/v1/metadata", { headers: { "grpc-timeout": "2S" } });
    const ms = Number((JSON.parse(a.text) as { timeoutMs: string }).timeoutMs);
    assert.ok(ms > 1000 && ms <= 2000, `timeoutMs ${ms}`);
  });

  it("answers 504 DEADLINE_EXCEEDED when the deadline passes, like Connect", async () => {
    assertStatus(await raw(url, "GET", "/v1/sleep/10000", { headers: { "grpc-timeout": "20m" } }), 504, Code.DeadlineExceeded);
    const err = await t.sleep({ ms: 10000 }, { timeoutMs: 20 }).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
    assert.equal(err.code, Code.DeadlineExceeded);
  });

  it("rejects a malformed deadline header with 400", async () => {
    assertStatus(await raw(url, "GET", "/v1/metadata", { headers: { "grpc-timeout": "soon" } }), 400, Code.InvalidArgument, /grpc-timeout/);
  });
});
