import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { ServingStatus } from "../../src/services/health.js";
import { startServer } from "../support/server.js";

describe("graceful shutdown", () => {
  it("lets an in-flight stream finish, reports NOT_SERVING and refuses new calls", async () => {
    const { url, server } = await startServer({ limits: { shutdownTimeoutMs: 5000 } });
    const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    const got: string[] = [];
    let closed: Promise<void> | undefined;
    for await (const r of client.sayHelloStream({ name: "Z", count: 3, intervalMs: 300 })) {
      got.push(r.message);
      if (got.length === 1) {
        closed = server.close();
        assert.equal(server.context.health.get(""), ServingStatus.NOT_SERVING);
      }
    }
    assert.deepEqual(got, ["Hello, Z (1/3)", "Hello, Z (2/3)", "Hello, Z (3/3)"]);
    await closed;
    const fresh = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    const err = await fresh.sayHello({ name: "late" }).then(
      () => assert.fail("a call after shutdown must fail"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Unavailable);
  });

  it("cancels calls that outlive the grace period", async () => {
    const { url, server } = await startServer({ limits: { shutdownTimeoutMs: 200 } });
    const client = createClient(ExampleService, createGrpcTransport({ baseUrl: url }));
    const started = Date.now();
    const stream = client.sayHelloStream({ name: "Long", count: 50, intervalMs: 1000 });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const closing = server.close();
    const err = await it.next().then(
      () => it.next(),
    ).then(
      () => assert.fail("the stream must not run to its end"),
      (e: unknown) => ConnectError.from(e),
    );
    await closing;
    assert.ok([Code.Canceled, Code.Unavailable, Code.Internal, Code.Aborted].includes(err.code), `code ${Code[err.code]}`);
    assert.ok(Date.now() - started < 5000, "shutdown waited for the whole stream");
  });
});
