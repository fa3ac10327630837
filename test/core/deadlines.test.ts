import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";

const example = exampleService().impl as Record<string, unknown>;
const { url } = await startServer({
  limits: { unaryTimeoutMs: 200, maxTimeoutMs: 300 },
  services: [
    service(ExampleService, {
      ...example,
      // Waits until its deadline, or 2 s when it has none.
      async sayHello(req, ctx) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          ctx.signal.addEventListener("abort", () => (clearTimeout(t), resolve()));
        });
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
        return { message: `late ${ctx.timeoutMs() ?? "none"}` };
      },
    }),
  ],
});

for (const [name, transport] of Object.entries({
  grpc: createGrpcTransport({ baseUrl: url }),
  connect: createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
})) {
  describe(`server deadlines over ${name}`, () => {
    const client = createClient(ExampleService, transport);

    it("gives unary calls without a deadline limits.unaryTimeoutMs", async () => {
      const err = await client.sayHello({ name: "x" }).then(() => assert.fail("expected DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.DeadlineExceeded);
    });

    it("lets a stream without a deadline outlive limits.unaryTimeoutMs and maxTimeoutMs", async () => {
      const got: string[] = [];
      for await (const r of client.sayHelloStream({ name: "s", count: 3, intervalMs: 250 })) got.push(r.message);
      assert.equal(got.length, 3);
    });

    // connect-node serves Connect streams and keeps their deadline as the client gave it.
    it("caps a client deadline at limits.maxTimeoutMs", { skip: name === "connect" ? "Connect streams are served by connect-node" : false }, async () => {
      const err = await (async () => {
        for await (const _ of client.sayHelloStream({ name: "s", count: 3, intervalMs: 250 }, { timeoutMs: 60_000 })) void _;
      })().then(() => assert.fail("expected DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.DeadlineExceeded);
    });
  });
}

// A timeout of 0 has passed already: DEADLINE_EXCEEDED on every path, plain or compressed (a fast
// implementation used to beat the timer on the plain path and answer OK, while the compressed
// request, decompressed first, timed out).
describe("a deadline of 0", () => {
  it("is DEADLINE_EXCEEDED over Connect (plain and gzip), gRPC and gRPC with gzip", async () => {
    const { url: u, port } = await startServer();
    const proto = Buffer.from([10, 3, 66, 111, 98]); // HelloRequest{name: "Bob"}
    const { gzipSync } = await import("node:zlib");
    const connectCall = (headers: Record<string, string>, body: Buffer) =>
      fetch(`${u}/example.ExampleService/SayHello`, { method: "POST", headers: { "content-type": "application/proto", "connect-timeout-ms": "0", ...headers }, body: new Uint8Array(body) });
    for (const [headers, body] of [[{}, proto], [{ "content-encoding": "gzip" }, gzipSync(proto)]] as const) {
      const r = await connectCall(headers, body);
      assert.equal(r.status, 504, JSON.stringify(headers));
      assert.equal((await r.json()).code, "deadline_exceeded");
    }
    const http2 = await import("node:http2");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      for (const gzip of [false, true]) {
        const message = gzip ? gzipSync(proto) : proto;
        const frame = Buffer.concat([Buffer.from([gzip ? 1 : 0, 0, 0, 0, message.length]), message]);
        const req = session.request({ ":method": "POST", ":path": "/example.ExampleService/SayHello", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "0S", ...(gzip ? { "grpc-encoding": "gzip" } : {}) });
        req.end(frame);
        req.resume();
        const status = await new Promise<string | undefined>((resolve) => {
          req.once("trailers", (t) => resolve(String(t["grpc-status"])));
          req.once("response", (h) => h["grpc-status"] !== undefined && resolve(String(h["grpc-status"])));
        });
        assert.equal(status, String(Code.DeadlineExceeded), `gRPC${gzip ? " with gzip" : ""}`);
      }
    } finally {
      session.close();
    }
  });
});
