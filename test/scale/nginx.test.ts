import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { WebSocket } from "ws";
import { createWebSocketTransport } from "../../src/client/index.js";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { topicOf } from "../../src/services/chat-rooms.js";
import { grpcJs } from "../chat/adapters.js";
import { nginxMissing, TestNginx } from "./support/nginx.js";
import { OneportProcess } from "./support/proc.js";
import { redisMissing, TestRedis, until } from "./support/redis.js";

const skip = nginxMissing();
const noRedis = skip ? undefined : redisMissing();

// deploy/nginx.conf in front of three oneport processes: every client kind reaches them through it.
describe("three instances behind nginx (deploy/nginx.conf)", { skip, timeout: 60_000 }, () => {
  const instances: OneportProcess[] = [];
  let nginx: TestNginx;
  let redis: TestRedis | undefined;
  const closers: (() => void)[] = [];

  before(async () => {
    // With Redis the instances share chat rooms, so a stream through nginx may land anywhere.
    if (!noRedis) redis = await TestRedis.start();
    const env = { REDIS_URL: redis?.url ?? "", CHAT_TOKENS: "alice:alice-token" };
    for (let i = 0; i < 3; i++) instances.push(OneportProcess.start(["--port", "0", "--shutdown-timeout-ms", "1000"], env));
    const ports = await Promise.all(instances.map(async (p) => (await p.waitFor((l) => l.msg === "listening", "listening")).port as number));
    nginx = await TestNginx.start(ports);
  });
  after(async () => {
    closers.forEach((c) => c());
    await nginx?.stop();
    await Promise.all(instances.map((p) => p.stop()));
    await redis?.stop();
  });

  /** How many SayHello calls each instance logged since `marks`. */
  const callsPerInstance = (marks: number[]) => instances.map((p, i) => p.lines.slice(marks[i]).filter((l) => l.msg === "call" && l.method === "example.ExampleService/SayHello").length);
  const mark = () => instances.map((p) => p.lines.length);

  it("balances grpc-js unary calls over HTTP/2 (grpc_pass) across all instances", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${nginx.h2cPort}`);
    closers.push(() => client.close());
    const marks = mark();
    for (let i = 0; i < 9; i++) {
      const res = await new Promise<HelloResponse>((resolve, reject) =>
        (client.sayHello as (r: object, cb: (e: grpc.ServiceError | null, r: HelloResponse) => void) => void)({ name: `g${i}` }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.equal(res.message, `Hello, g${i}`);
    }
    await until(() => callsPerInstance(marks).reduce((a, b) => a + b) === 9, "9 call log lines");
    assert.ok(callsPerInstance(marks).every((n) => n > 0), `every instance served calls: ${callsPerInstance(marks).join(",")}`);
  });

  it("streams a grpc-js server stream through nginx", async () => {
    const client = createGrpcJsClient(ExampleService, `127.0.0.1:${nginx.h2cPort}`);
    closers.push(() => client.close());
    const call = (client.sayHelloStream as (r: object) => grpc.ClientReadableStream<HelloResponse>)({ name: "Ann", count: 3 });
    const got: string[] = [];
    for await (const m of call) got.push((m as HelloResponse).message);
    assert.equal(got.length, 3);
    assert.match(got[0]!, /Ann/);
  });

  for (const [name, transport] of [
    ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: `http://127.0.0.1:${nginx.h1Port}`, httpVersion: "1.1" })],
    ["Connect binary over HTTP/2", () => createConnectTransport({ baseUrl: `http://127.0.0.1:${nginx.h2cPort}`, httpVersion: "2", useBinaryFormat: true })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${nginx.h1Port}`, httpVersion: "1.1" })],
  ] as const) {
    it(`reaches the instances with ${name}, unary and server streaming`, async () => {
      const client = createClient(ExampleService, transport());
      const marks = mark();
      for (let i = 0; i < 6; i++) assert.equal((await client.sayHello({ name: `c${i}` })).message, `Hello, c${i}`);
      await until(() => callsPerInstance(marks).reduce((a, b) => a + b) === 6, "6 call log lines");
      assert.ok(callsPerInstance(marks).filter((n) => n > 0).length >= 2, `calls spread over instances: ${callsPerInstance(marks).join(",")}`);
      const got: string[] = [];
      for await (const m of client.sayHelloStream({ name: "Bo", count: 3 })) got.push(m.message);
      assert.equal(got.length, 3);
    });
  }

  it("passes the WebSocket upgrade at /ws through, with calls multiplexed on one socket", async () => {
    const transport = createWebSocketTransport({ baseUrl: `http://127.0.0.1:${nginx.h1Port}`, WebSocket: WebSocket as never, heartbeatIntervalMs: 0 });
    closers.push(() => void transport.close());
    const client = createClient(ExampleService, transport);
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => client.sayHello({ name: `w${i}` })));
    assert.deepEqual(replies.map((r) => r.message), [0, 1, 2, 3, 4].map((i) => `Hello, w${i}`));
    const got: string[] = [];
    for await (const m of client.sayHelloStream({ name: "Wes", count: 2 })) got.push(m.message);
    assert.equal(got.length, 2);
  });

  it("streams SSE through nginx unbuffered: a chat message sent over gRPC arrives as an event", { skip: noRedis }, async () => {
    const ctl = new AbortController();
    closers.push(() => ctl.abort());
    // Not awaited yet: the response head may come only with the first event.
    const response = fetch(`http://127.0.0.1:${nginx.h1Port}/v1/rooms/edge/events`, { headers: { accept: "text/event-stream", authorization: "Bearer alice-token" }, signal: ctl.signal });
    response.catch(() => {});
    const { Redis } = await import("ioredis");
    const inspect = new Redis(redis!.url);
    try {
      await until(async () => ((await inspect.pubsub("NUMSUB", `oneport:pub:${topicOf("edge")}`)) as [string, number])[1] === 1, "the SSE subscription");
    } finally {
      inspect.disconnect();
    }
    const sender = grpcJs(`http://127.0.0.1:${nginx.h2cPort}`, "alice-token");
    closers.push(() => sender.close());
    await sender.send("edge", "through the edge");
    const res = await response;
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctl.abort();
    assert.match(text, /^data: .*"text":"through the edge"/m);
  });
});
