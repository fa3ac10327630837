// A session that cancelled many streams in the last second is "resetting": the flood guard holds its
// new streams for one turn of the event loop (src/http/h2-guard.ts admitStream). A request without a
// body (END_STREAM on its HEADERS) can have its readable side ended during that turn; every path must
// still answer it: oneport's fast path, connect-node's (compat) path and REST. (The soak found empty
// Connect unary requests hanging on such sessions.)
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { create, toBinary } from "@bufbuild/protobuf";
import { ExampleService, HelloStreamRequestSchema } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";

const { url } = await startServer({ limits: { floodCooldownMs: 0 } });

describe("bodyless requests on a session that cancels streams", { timeout: 60_000 }, () => {
  const manager = new Http2SessionManager(url);
  const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: manager }));
  let raw: http2.ClientHttp2Session;
  before(async () => {
    raw = http2.connect(url);
    raw.on("error", () => {});
    await new Promise((r) => raw.once("remoteSettings", r));
  });
  after(() => {
    manager.abort();
    raw.close();
  });

  // Ten running server streams, each cancelled by the client after its first message: the server
  // sees ten client resets of started calls (legitimate, but enough to hold the next streams).
  async function cancelTen(open: () => Promise<void>) {
    await Promise.all(Array.from({ length: 10 }, open));
  }
  const viaClient = () => async () => {
    const ac = new AbortController();
    try {
      for await (const _ of client.sayHelloStream({ name: "c", count: 50, intervalMs: 20 }, { signal: ac.signal })) ac.abort();
    } catch (e) {
      assert.equal(ConnectError.from(e).code, Code.Canceled);
    }
  };
  // The same over the raw session: a Connect server stream, reset (CANCEL) after its first message.
  const streamRequest = Buffer.from(toBinary(HelloStreamRequestSchema, create(HelloStreamRequestSchema, { name: "r", count: 50, intervalMs: 20 })));
  const enveloped = Buffer.concat([Buffer.from([0, 0, 0, 0, streamRequest.length]), streamRequest]);
  const viaRaw = () => () =>
    new Promise<void>((resolve) => {
      const s = raw.request({ ":method": "POST", ":path": "/example.ExampleService/SayHelloStream", "content-type": "application/connect+proto" });
      s.on("error", () => {});
      s.once("data", () => s.close(http2.constants.NGHTTP2_CANCEL));
      s.once("close", () => resolve());
      s.end(enveloped);
    });

  /** One request with END_STREAM on its HEADERS over the raw session: its status and body. */
  const bodyless = (headers: http2.OutgoingHttpHeaders) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = raw.request({ ":method": "POST", ...headers }, { endStream: true });
      let status = 0;
      let body = "";
      s.on("response", (h) => (status = Number(h[":status"])));
      s.on("data", (d: Buffer) => (body += d.toString()));
      s.on("error", reject);
      s.on("close", () => resolve({ status, body }));
    });

  it("answers an empty Connect unary request (oneport's fast path)", async () => {
    for (let round = 0; round < 5; round++) {
      await cancelTen(viaClient());
      const err = await client.sayHello({ name: "" }).then(
        () => assert.fail("expected INVALID_ARGUMENT"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
    }
  });

  it("answers bodyless requests on the fast path, connect-node's path and REST", async () => {
    for (let round = 0; round < 5; round++) {
      await cancelTen(viaRaw());
      const fast = await bodyless({ ":path": "/example.ExampleService/SayHello", "content-type": "application/proto" });
      assert.equal(fast.status, 400, fast.body);
      assert.match(fast.body, /invalid_argument/);
      // A Connect client stream is served by connect-node: an empty stream has no end-of-stream message.
      const compat = await bodyless({ ":path": "/example.ExampleService/CollectNames", "content-type": "application/connect+proto" });
      assert.equal(compat.status, 200, compat.body);
      const rest = await bodyless({ ":path": "/v1/rooms/held/messages", "content-type": "application/json", authorization: "Bearer alice" });
      assert.ok(rest.status >= 200 && rest.status < 500, `REST answered ${rest.status} ${rest.body}`);
    }
  });
});
