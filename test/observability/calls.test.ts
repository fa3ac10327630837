// Per-call metrics on every protocol, with real clients: exact counter deltas, codes, histogram counts.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { EventSource } from "eventsource";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";
import { example, measure, scrapeUntil, type Delta } from "./support.js";
import { valueOf } from "./prom.js";

const { url, port } = await startServer();
// Messages over 64 bytes are not sent: the call ends with RESOURCE_EXHAUSTED.
const small = await startServer({ limits: { maxSendMessageBytes: 64 } });

/** Asserts one finished call of `method` on `protocol` with `code`, and its histogram entry. */
function assertCall(d: Delta, protocol: string, method: string, type: string, code: string, messages: { received: number; sent: number }) {
  const l = example(protocol, method, { type });
  assert.equal(d("oneport_server_started_total", l), 1, `${protocol} ${method} started`);
  assert.equal(d("oneport_server_handled_total", { ...l, code }), 1, `${protocol} ${method} handled with ${code}`);
  assert.equal(d("oneport_server_handled_total", l), 1, `${protocol} ${method} handled once in all`);
  assert.equal(d("oneport_server_handling_seconds_count", l), 1, `${protocol} ${method} timed once`);
  assert.equal(d("oneport_server_handling_seconds_bucket", { ...l, le: "+Inf" }), 1);
  assert.ok(d("oneport_server_handling_seconds_sum", l) > 0);
  assert.equal(d("oneport_server_msg_received_total", l), messages.received, `${protocol} ${method} received`);
  assert.equal(d("oneport_server_msg_sent_total", l), messages.sent, `${protocol} ${method} sent`);
}

const failure = (p: Promise<unknown>) => p.then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));

describe("per-call metrics", () => {
  it("counts a gRPC (grpc-js) call that succeeds and one that fails with InvalidArgument", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${port}`);
    after(() => client.close());
    const hello = (name: string) =>
      new Promise<HelloResponse>((resolve, reject) => client.sayHello({ name }, (err: grpc.ServiceError | null, res: HelloResponse) => (err ? reject(err) : resolve(res))));
    let d = await measure(url, () => hello("Bob"));
    assertCall(d, "grpc", "SayHello", "unary", "OK", { received: 1, sent: 1 });
    d = await measure(url, () => hello("").then(() => assert.fail("expected an error"), (e: grpc.ServiceError) => assert.equal(e.code, grpc.status.INVALID_ARGUMENT)));
    assertCall(d, "grpc", "SayHello", "unary", "InvalidArgument", { received: 1, sent: 0 });
  });

  it("counts Connect JSON over HTTP/1.1 and a Connect binary server stream over HTTP/2", async () => {
    const h1 = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }));
    let d = await measure(url, () => h1.sayHello({ name: "Ann" }));
    assertCall(d, "connect", "SayHello", "unary", "OK", { received: 1, sent: 1 });
    d = await measure(url, async () => assert.equal((await failure(h1.sayHello({ name: "" }))).code, Code.InvalidArgument));
    assertCall(d, "connect", "SayHello", "unary", "InvalidArgument", { received: 1, sent: 0 });

    const h2 = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));
    d = await measure(url, async () => {
      const got = [];
      for await (const r of h2.sayHelloStream({ name: "Cy", count: 4 })) got.push(r.message);
      assert.equal(got.length, 4);
    });
    assertCall(d, "connect", "SayHelloStream", "server_stream", "OK", { received: 1, sent: 4 });
  });

  it("counts client and bidi streams (connect-node's path) with the messages each way", async () => {
    const h2 = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));
    async function* names(...n: string[]) {
      for (const name of n) yield { name };
    }
    let d = await measure(url, () => h2.collectNames(names("A", "B", "C")));
    assertCall(d, "connect", "CollectNames", "client_stream", "OK", { received: 3, sent: 1 });
    d = await measure(url, async () => {
      for await (const _ of h2.chatter(names("X", "Y"))) void _;
    });
    assertCall(d, "connect", "Chatter", "bidi_stream", "OK", { received: 2, sent: 2 });
    d = await measure(url, async () => assert.equal((await failure(h2.collectNames(names("A", "")))).code, Code.InvalidArgument));
    assertCall(d, "connect", "CollectNames", "client_stream", "InvalidArgument", { received: 2, sent: 0 });
  });

  it("counts gRPC-Web calls under their own protocol label", async () => {
    const web = createClient(ExampleService, createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }));
    let d = await measure(url, () => web.sayHello({ name: "Web" }));
    assertCall(d, "grpc-web", "SayHello", "unary", "OK", { received: 1, sent: 1 });
    d = await measure(url, async () => assert.equal((await failure(web.sayHello({ name: "" }))).code, Code.InvalidArgument));
    assertCall(d, "grpc-web", "SayHello", "unary", "InvalidArgument", { received: 1, sent: 0 });
    assert.equal(d("oneport_server_started_total", example("grpc", "SayHello")), 0, "not counted as gRPC");
  });

  it("counts REST unary calls, their failures, and an SSE stream", async () => {
    let d = await measure(url, async () => assert.equal((await fetch(`${url}/v1/hello/Rest`)).status, 200));
    assertCall(d, "rest", "SayHello", "unary", "OK", { received: 1, sent: 1 });
    d = await measure(url, async () => {
      const res = await fetch(`${url}/v1/hello/Rest/stream?count=101`);
      assert.equal(res.status, 400);
      await res.text();
    });
    assertCall(d, "rest", "SayHelloStream", "server_stream", "InvalidArgument", { received: 1, sent: 0 });
    d = await measure(url, async () => {
      const es = new EventSource(`${url}/v1/hello/Sse/stream?count=3`);
      let n = 0;
      es.onmessage = () => n++;
      await new Promise<void>((resolve, reject) => {
        es.addEventListener("end", () => resolve());
        es.addEventListener("error", (e) => reject(new Error(`SSE failed: ${String((e as { message?: string }).message)}`)));
      });
      es.close();
      assert.equal(n, 3);
    });
    assertCall(d, "rest", "SayHelloStream", "server_stream", "OK", { received: 1, sent: 3 });
  });

  it("counts WebSocket unary calls and streams, failures included", async () => {
    const ws = await connect(url);
    let d = await measure(url, async () => {
      ws.send({ id: "1", method: "example.ExampleService/SayHello", message: { name: "Ws" } });
      const frames = await ws.stream("1");
      assert.equal(frames.at(-1)?.status?.code, "ok");
    });
    assertCall(d, "ws", "SayHello", "unary", "OK", { received: 1, sent: 1 });
    d = await measure(url, async () => {
      ws.send({ id: "2", method: "example.ExampleService/SayHello", message: { name: "" } });
      assert.equal((await ws.stream("2")).at(-1)?.status?.code, "invalid_argument");
    });
    assertCall(d, "ws", "SayHello", "unary", "InvalidArgument", { received: 1, sent: 0 });
    d = await measure(url, async () => {
      ws.send({ id: "3", method: "example.ExampleService/SayHelloStream", message: { name: "Ws", count: 2 } });
      assert.equal((await ws.stream("3")).filter((f) => f.message !== undefined).length, 2);
    });
    assertCall(d, "ws", "SayHelloStream", "server_stream", "OK", { received: 1, sent: 2 });
  });

  it("records a stream the client cancels as Canceled", async () => {
    const ws = await connect(url);
    const l = example("ws", "SayHelloStream", { code: "Canceled" });
    const before = valueOf(await scrapeUntil(url, () => true), "oneport_server_handled_total", l);
    ws.send({ id: "slow", method: "example.ExampleService/SayHelloStream", message: { name: "Slow", count: 100, interval_ms: 10_000 } });
    await ws.until((fs) => fs.some((f) => f.id === "slow" && f.message !== undefined));
    ws.send({ id: "slow", cancel: true });
    await scrapeUntil(url, (s) => valueOf(s, "oneport_server_handled_total", l) === before + 1);
  });

  it("records a WebSocket stream the bridge ends itself (a message over the send limit) with that code, not as Canceled", async () => {
    const ws = await connect(small.url);
    const d = await measure(small.url, async () => {
      ws.send({ id: "big", method: "example.ExampleService/SayHelloStream", message: { name: "x".repeat(100), count: 3 } });
      assert.equal((await ws.stream("big")).at(-1)?.status?.code, "resource_exhausted");
    });
    // `sent` counts what the implementation answered: the one message that was then too large.
    assertCall(d, "ws", "SayHelloStream", "server_stream", "ResourceExhausted", { received: 1, sent: 1 });
    ws.close();
  });

  it("does not count requests for methods that do not exist (no label per garbage path)", async () => {
    const d = await measure(url, async () => {
      const res = await fetch(`${url}/example.ExampleService/NoSuchMethod`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(res.status, 404);
      await res.text();
    });
    assert.equal(d("oneport_server_started_total", { method: "NoSuchMethod" }), 0);
  });
});
