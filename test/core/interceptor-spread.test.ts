// connect-es interceptors routinely replace the request with a spread copy (`next({...req, message})`).
// An interceptor further in (or the implementation) must still see a working `signal` (an AbortSignal
// that aborts at the call's deadline) and the request's `header`, on every protocol.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { service } from "../../src/config.js";
import { ExampleService, HelloRequestSchema } from "../../src/gen/example/example_pb.js";
import { create } from "@bufbuild/protobuf";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { untilAborted } from "../support/signal.js";
import { connect } from "../ws/client.js";

const DEADLINE = 300;

// What the inner interceptor saw of each call, by request name.
const seen = new Map<string, { signal: unknown; aborted?: Promise<unknown>; probe: unknown }>();

// The first interceptor spreads the request (and changes its message, as a real one would).
const spreading: Interceptor = (next) => (req) => (req.stream ? next(req) : next({ ...req, message: create(HelloRequestSchema, { name: `${(req.message as unknown as { name: string }).name}!` }) }));
// The second one records the signal it got and when it aborts, and the request header x-probe.
const watching: Interceptor = (next) => (req) => {
  const signal = req.signal as AbortSignal | undefined;
  const name = (req.message as unknown as { name?: string }).name ?? "";
  seen.set(name, {
    signal,
    probe: req.header instanceof Headers ? req.header.get("x-probe") : `req.header is ${String(req.header)}`,
    aborted: signal instanceof AbortSignal ? new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true })) : undefined,
  });
  return next(req);
};

const { url } = await startServer({
  interceptors: [spreading, watching],
  services: [
    service(ExampleService, {
      ...(exampleService().impl as object),
      // Waits for its own signal: the call ends at its deadline.
      async sayHello(req, ctx) {
        await untilAborted(ctx.signal);
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
        return { message: `no deadline came for ${req.name}` };
      },
    }),
  ],
});

async function assertSignalAbortedAtDeadline(name: string) {
  const s = seen.get(`${name}!`);
  assert.ok(s, "the second interceptor saw the spread request");
  assert.ok(s.signal instanceof AbortSignal, `req.signal after a spread is ${String(s.signal)}`);
  assert.equal(s.probe, "p", "req.header after a spread carries the request's metadata");
  const reason = await s.aborted;
  assert.equal(ConnectError.from(reason).code, Code.DeadlineExceeded, "the signal aborted at the deadline");
}

describe("an interceptor after one that spreads the request", { timeout: 30_000 }, () => {
  const transports: Array<[string, Transport, Record<string, string>]> = [
    ["Connect (HTTP/1.1)", createConnectTransport({ baseUrl: url, httpVersion: "1.1" }), { "connect-timeout-ms": String(DEADLINE) }],
    ["Connect (HTTP/2)", createConnectTransport({ baseUrl: url, httpVersion: "2" }), { "connect-timeout-ms": String(DEADLINE) }],
    ["gRPC", createGrpcTransport({ baseUrl: url }), { "grpc-timeout": `${DEADLINE}m` }],
    ["gRPC-Web", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }), { "grpc-timeout": `${DEADLINE}m` }],
  ];
  for (const [title, transport, headers] of transports) {
    it(`sees req.signal abort at the deadline over ${title}`, async () => {
      const name = `spread ${title}`;
      const err = await createClient(ExampleService, transport)
        .sayHello({ name }, { headers: { ...headers, "x-probe": "p" } })
        .then(() => assert.fail("expected DEADLINE_EXCEEDED"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.DeadlineExceeded);
      await assertSignalAbortedAtDeadline(name);
    });
  }

  it("sees req.signal abort at the deadline over REST", async () => {
    const res = await fetch(`${url}/v1/hello/rest`, { headers: { "grpc-timeout": `${DEADLINE}m`, "grpc-metadata-x-probe": "p" } });
    assert.equal(res.status, 504);
    await res.body?.cancel();
    await assertSignalAbortedAtDeadline("rest");
  });

  it("sees req.signal abort at the deadline over the WebSocket bridge", async () => {
    const c = await connect(url);
    c.send({ id: "1", method: "example.ExampleService/SayHello", message: { name: "ws" }, headers: { "x-probe": "p" }, timeout_ms: DEADLINE });
    const frames = await c.stream("1");
    assert.equal(frames.at(-1)?.status?.code, "deadline_exceeded");
    await assertSignalAbortedAtDeadline("ws");
    c.close();
  });
});
