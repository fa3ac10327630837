// The client's deadline reaches the implementation's AbortSignal on every protocol: grpc-timeout
// (gRPC, gRPC-Web), connect-timeout-ms (Connect), the REST deadline header, the WebSocket frame's
// timeout_ms. The implementation sees ctx.timeoutMs() and an abort with DEADLINE_EXCEEDED; the client
// gets DEADLINE_EXCEEDED in its protocol's own format.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { untilAborted } from "../support/signal.js";
import { eventually } from "../attack/support.js";
import { connect } from "../ws/client.js";

interface Seen {
  timeoutMs?: number;
  abortCode?: Code;
}
const seen = new Map<string, Seen>();

const { url } = await startServer({
  services: [
    service(ExampleService, {
      ...(exampleService().impl as object),
      // Waits for its AbortSignal (10 s at most) and records what it saw under the request's name.
      // (One that ignores its signal gets DEADLINE_EXCEEDED all the same: see test/core/late-deadline.test.ts.)
      async sayHello(req, ctx) {
        const s: Seen = { timeoutMs: ctx.timeoutMs() };
        seen.set(req.name, s);
        await untilAborted(ctx.signal);
        if (!ctx.signal.aborted) return { message: "no deadline came" };
        s.abortCode = ConnectError.from(ctx.signal.reason).code;
        // As an implementation should: stop and report why.
        throw ConnectError.from(ctx.signal.reason);
      },
    }),
  ],
});

const DEADLINE = 300;

async function assertSeen(name: string) {
  const s = seen.get(name);
  assert.ok(s, "the call reached the implementation");
  await eventually(() => s.abortCode !== undefined, "the implementation's signal aborted");
  assert.ok(s.timeoutMs !== undefined && s.timeoutMs > 0 && s.timeoutMs <= DEADLINE, `ctx.timeoutMs() = ${s.timeoutMs}`);
  assert.equal(s.abortCode, Code.DeadlineExceeded, "the implementation's signal aborted with DEADLINE_EXCEEDED");
}

describe("a client deadline reaches the implementation's AbortSignal", { timeout: 30_000 }, () => {
  const transports = {
    "gRPC (grpc-timeout)": createGrpcTransport({ baseUrl: url }),
    "gRPC-Web (grpc-timeout)": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    "Connect (connect-timeout-ms)": createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    it(`over ${name}`, async () => {
      // The deadline goes as a header, without a client-side timer: a client that gave up first
      // would cancel the call and hide whether the server enforced the deadline itself.
      const header: Record<string, string> = name.startsWith("Connect") ? { "connect-timeout-ms": String(DEADLINE) } : { "grpc-timeout": `${DEADLINE}m` };
      const err = await createClient(ExampleService, transport)
        .sayHello({ name }, { headers: header })
        .then(() => assert.fail("expected DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.DeadlineExceeded);
      await assertSeen(name);
    });
  }

  it("over REST (the grpc-timeout header, rest.deadlineHeader)", async () => {
    const name = "rest";
    const res = await fetch(`${url}/v1/hello/${name}`, { headers: { "grpc-timeout": `${DEADLINE}m` } });
    assert.equal(res.status, 504);
    const body = (await res.json()) as { code: number; message: string };
    assert.equal(body.code, Code.DeadlineExceeded, JSON.stringify(body));
    await assertSeen(name);
  });

  it("over the WebSocket bridge (the frame's timeout_ms)", async () => {
    const name = "ws";
    const c = await connect(url);
    c.send({ id: "1", method: "example.ExampleService/SayHello", message: { name }, timeout_ms: DEADLINE });
    const frames = await c.stream("1");
    assert.equal(frames.at(-1)?.status?.code, "deadline_exceeded");
    await assertSeen(name);
    c.ws.close();
  });
});
