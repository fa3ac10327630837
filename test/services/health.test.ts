import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../src/gen/grpc/health/v1/health_pb.js";
import { startServer } from "../support/server.js";

describe("grpc.health.v1.Health", () => {
  it("reports SERVING for the server and each registered service, NOT_FOUND for others", async () => {
    const { url } = await startServer();
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    assert.equal((await health.check({ service: "" })).status, Status.SERVING);
    assert.equal((await health.check({ service: "example.ExampleService" })).status, Status.SERVING);
    const err = await health.check({ service: "nope.Service" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.NotFound);
  });

  it("streams status changes to Watch, and NOT_SERVING when shutdown starts", async () => {
    const { url, server } = await startServer();
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const seen: Status[] = [];
    const ctl = new AbortController();
    const watching = (async () => {
      try {
        for await (const r of health.watch({ service: "example.ExampleService" }, { signal: ctl.signal })) {
          seen.push(r.status);
          if (seen.length === 1) server.context.health.set("example.ExampleService", Status.NOT_SERVING);
          if (seen.length === 2) server.context.health.set("example.ExampleService", Status.SERVING);
          if (seen.length === 3) void server.close();
        }
      } catch (e) {
        // The stream ends when the server closes; any code but an abort by us is acceptable here.
        if (!ctl.signal.aborted) return;
        throw e;
      }
    })();
    await watching;
    assert.deepEqual(seen, [Status.SERVING, Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING]);
  });

  it("answers SERVICE_UNKNOWN to Watch for an unknown service", async () => {
    const { url } = await startServer();
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const ctl = new AbortController();
    for await (const r of health.watch({ service: "nope.Service" }, { signal: ctl.signal })) {
      assert.equal(r.status, Status.SERVICE_UNKNOWN);
      break;
    }
  });
});
