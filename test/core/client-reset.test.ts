// A client that gives up resets its HTTP/2 stream (connect-node sends RST_STREAM(INTERNAL_ERROR) when
// its own deadline fires). From the server's side that is the client leaving: the call is logged and
// counted as canceled (or deadline_exceeded, if the server's own copy of the deadline fired first),
// never as an internal error of the server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { errorFromRstCode } from "../../src/rpc/exchange.js";
import { exampleService } from "../../src/services/example.js";
import { scrapeUntil } from "../observability/support.js";
import { valueOf } from "../observability/prom.js";
import { startServer } from "../support/server.js";
import { untilAborted } from "../support/signal.js";

const { url } = await startServer({
  services: [
    service(ExampleService, {
      ...(exampleService().impl as object),
      // Slow, and stops when its signal says so (as an implementation should).
      async sayHello(req, ctx) {
        await untilAborted(ctx.signal);
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
        return { message: `slow ${req.name}` };
      },
    }),
  ],
});

// The server then learns of the deadline only from the client's reset.
const noTimeoutHeader: Interceptor = (next) => (req) => {
  req.header.delete("connect-timeout-ms");
  req.header.delete("grpc-timeout");
  return next(req);
};

const handled = (s: Parameters<typeof valueOf>[0], protocol: string, code?: string, method = "SayHello") =>
  valueOf(s, "oneport_server_handled_total", { protocol, service: "example.ExampleService", method, ...(code ? { code } : {}) });

describe("a client that resets its stream when its deadline fires", { timeout: 30_000 }, () => {
  const cases: Array<[string, string, (i: Interceptor[]) => Transport, boolean]> = [
    ["Connect over HTTP/2, deadline known only to the client", "connect", (interceptors) => createConnectTransport({ baseUrl: url, httpVersion: "2", interceptors }), true],
    ["gRPC, deadline known only to the client", "grpc", (interceptors) => createGrpcTransport({ baseUrl: url, interceptors }), true],
    ["Connect over HTTP/2, deadline also sent to the server", "connect", (interceptors) => createConnectTransport({ baseUrl: url, httpVersion: "2", interceptors }), false],
  ];
  for (const [title, protocol, transport, hide] of cases) {
    it(`is counted as canceled or deadline_exceeded, not internal (${title})`, async () => {
      const before = await scrapeUntil(url, () => true);
      const err = await createClient(ExampleService, transport(hide ? [noTimeoutHeader] : []))
        .sayHello({ name: title }, { timeoutMs: 200 })
        .then(() => assert.fail("expected the client's DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.DeadlineExceeded);
      const after = await scrapeUntil(url, (s) => handled(s, protocol) > handled(before, protocol));
      const delta = (code: string) => handled(after, protocol, code) - handled(before, protocol, code);
      assert.equal(delta("Internal"), 0, "not counted as Internal");
      assert.equal(delta("Canceled") + delta("DeadlineExceeded"), 1, "counted once, as Canceled or DeadlineExceeded");
      if (hide) assert.equal(delta("Canceled"), 1, "the reset is the only way the server learned of it");
    });
  }

  // Connect server streams are served by connect-node, which maps the reset to INTERNAL itself; the
  // Pipeline's last interceptor for those calls (src/core/deadline.ts) ends them as CANCELED first.
  it("is counted as canceled or deadline_exceeded, not internal, on a Connect server stream (connect-node)", async () => {
    const before = await scrapeUntil(url, () => true);
    const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
    const err = await (async () => {
      for await (const _ of client.sayHelloStream({ name: "reset", count: 3, intervalMs: 5_000 }, { timeoutMs: 200 })) void _;
    })().then(() => assert.fail("expected the client's DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
    assert.equal(err.code, Code.DeadlineExceeded);
    const m = "SayHelloStream";
    const after = await scrapeUntil(url, (s) => handled(s, "connect", undefined, m) > handled(before, "connect", undefined, m));
    const delta = (code: string) => handled(after, "connect", code, m) - handled(before, "connect", code, m);
    assert.equal(delta("Internal"), 0, "not counted as Internal");
    assert.equal(delta("Canceled") + delta("DeadlineExceeded"), 1, "counted once, as Canceled or DeadlineExceeded");
  });
});

describe("errorFromRstCode", () => {
  it("names RFC 9113 error codes, not node:http2 constants that share their values", () => {
    assert.equal(errorFromRstCode(0x8).rawMessage, "the client reset the stream with error code CANCEL (0x8)");
    assert.equal(errorFromRstCode(0x2).rawMessage, "the client reset the stream with error code INTERNAL_ERROR (0x2)");
    assert.equal(errorFromRstCode(0xb).rawMessage, "the client reset the stream with error code ENHANCE_YOUR_CALM (0xb)");
    assert.equal(errorFromRstCode(0x63).rawMessage, "the client reset the stream with error code UNKNOWN (0x63)");
  });
});
