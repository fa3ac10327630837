import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../src/gen/grpc/health/v1/health_pb.js";
import { topicOf } from "../../src/services/chat-rooms.js";
import { grpcJs, webSocket, type ChatClient, type Received } from "../chat/adapters.js";
import { OneportProcess } from "./support/proc.js";
import { redisMissing, TestRedis, until } from "./support/redis.js";

const skip = redisMissing();
const TOKEN = "alice-token";
const auth = { authorization: `Bearer ${TOKEN}` };

/** Send over REST: POST /v1/rooms/{room}/messages (google.api.http transcoding). */
async function restSend(baseUrl: string, room: string, text: string): Promise<{ status: number; body: { message?: { text: string }; code?: number; message_?: string } & Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/v1/rooms/${encodeURIComponent(room)}/messages`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text }) });
  return { status: res.status, body: (await res.json()) as never };
}

// Three oneport processes on one Redis: REST in on instance 1, WebSocket out on 2, gRPC out on 3.
describe("three instances sharing chat rooms through Redis", { skip }, () => {
  let redis: TestRedis;
  let inspect: Redis;
  const instances: OneportProcess[] = [];
  const urls: string[] = [];
  const clients: ChatClient[] = [];
  let lateRedis: TestRedis;
  let late: OneportProcess;

  before(async () => {
    redis = await TestRedis.start();
    inspect = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    inspect.on("error", () => {});
    await inspect.connect();
    for (let i = 0; i < 3; i++) instances.push(OneportProcess.start(["--port", "0", "--shutdown-timeout-ms", "1000"], { REDIS_URL: redis.url, CHAT_TOKENS: `alice:${TOKEN}` }));
    // A fourth instance whose Redis is not running yet (started here so its wait overlaps the others' start).
    lateRedis = await TestRedis.reserve();
    late = OneportProcess.start(["--port", "0", "--shutdown-timeout-ms", "1000"], { REDIS_URL: lateRedis.url, CHAT_TOKENS: `alice:${TOKEN}` });
    for (const p of instances) urls.push(`http://127.0.0.1:${(await p.waitFor((l) => l.msg === "listening", "listening")).port as number}`);
  });
  after(async () => {
    clients.forEach((c) => c.close());
    await Promise.all([...instances, late].map((p) => p?.stop()));
    inspect?.disconnect();
    await redis?.stop();
    await lateRedis?.stop();
  });

  /** Waits until `n` instances hold a Redis subscription for the room. */
  const subscribed = (room: string, n: number) =>
    until(async () => ((await inspect.pubsub("NUMSUB", `oneport:pub:${topicOf(room)}`)) as [string, number])[1] === n, `${n} instances subscribed to ${room}`);
  const client = (make: typeof grpcJs, url: string) => {
    const c = make(url, TOKEN);
    clients.push(c);
    return c;
  };

  it("delivers REST sends on instance 1 to WebSocket on 2 and gRPC on 3, every message once and in order", async () => {
    const rooms = ["r-a", "r-b", "r-c", "r-d", "r-e"];
    const perRoom = 30;
    const ws = client(webSocket, urls[1]!);
    const grpc = client(grpcJs, urls[2]!);
    const subs = new Map<string, Received[]>();
    for (const room of rooms) {
      // Two subscribers per protocol and room: exactly-once holds per subscriber, not per instance.
      subs.set(room, [ws.subscribe(room).received, ws.subscribe(room).received, grpc.subscribe(room).received, grpc.subscribe(room).received]);
      await subscribed(room, 2);
    }
    const sent = new Map(rooms.map((r) => [r, [] as string[]]));
    // Rooms in parallel, each room's messages one after the other: that defines the room's order.
    await Promise.all(
      rooms.map(async (room) => {
        for (let i = 0; i < perRoom; i++) {
          const text = `${room}#${i}`;
          const res = await restSend(urls[0]!, room, text);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          sent.get(room)!.push(text);
        }
      }),
    );
    for (const room of rooms) {
      for (const received of subs.get(room)!) {
        await received.until(perRoom);
        assert.deepEqual(received.messages.map((m) => m.text), sent.get(room));
        assert.ok(received.messages.every((m) => m.author === "alice" && m.room === room));
      }
    }
    // Nothing extra arrives later (exactly once): one more message is the next one everywhere.
    await restSend(urls[0]!, "r-a", "last");
    for (const received of subs.get("r-a")!) {
      await received.until(perRoom + 1);
      assert.equal(received.messages.length, perRoom + 1);
      assert.equal(received.messages.at(-1)!.text, "last");
    }
    // History lives in Redis: any instance answers it.
    const history = await createClient(ChatService, createGrpcTransport({ baseUrl: urls[2]! })).history({ room: "r-b", pageSize: 5 }, { headers: auth });
    assert.deepEqual(history.messages.map((m) => m.text), sent.get("r-b")!.slice(-5));
  });

  it("survives a Redis outage: UNAVAILABLE and NOT_SERVING while down, subscribers resume after", async () => {
    const room = "outage";
    const grpc = client(grpcJs, urls[2]!);
    const ws = client(webSocket, urls[1]!);
    const subs = [grpc.subscribe(room).received, ws.subscribe(room).received];
    await subscribed(room, 2);
    assert.equal((await restSend(urls[0]!, room, "before")).status, 200);
    for (const s of subs) await s.until(1);

    const health = createClient(Health, createGrpcTransport({ baseUrl: urls[2]! }));
    const statuses: Status[] = [];
    const watching = (async () => {
      const ctl = new AbortController();
      try {
        for await (const r of health.watch({ service: ChatService.typeName }, { signal: ctl.signal })) {
          statuses.push(r.status);
          if (statuses.length === 3) ctl.abort();
        }
      } catch {
        // aborted after the third status
      }
    })();
    await until(() => statuses.length === 1, "the first health status");

    await redis.kill();
    await until(() => statuses.length === 2, "NOT_SERVING from instance 3");
    const during = await restSend(urls[0]!, room, "during");
    assert.equal(during.status, 503);
    assert.match(JSON.stringify(during.body), /unavailable/i);

    await redis.restart();
    await watching;
    assert.deepEqual(statuses, [Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    // Every instance re-subscribed before its health turned SERVING; wait for the others too.
    await subscribed(room, 2);
    await until(async () => (await restSend(urls[0]!, room, "probe")).status === 200, "instance 1 to publish again");
    assert.equal((await restSend(urls[0]!, room, "after")).status, 200);
    for (const s of subs) {
      await until(() => s.messages.some((m) => m.text === "after"), "the message sent after the outage");
      assert.equal(s.ended, false, "the subscription stayed open");
      const texts = s.messages.map((m) => m.text);
      assert.equal(texts.includes("during"), false);
      assert.deepEqual(texts.filter((t) => t !== "probe"), ["before", "after"]);
    }
  });

  it("starts while Redis is unreachable with the chat NOT_SERVING, and serves it once Redis is up", async () => {
    const warned = await late.waitFor((l) => /Redis is not reachable yet/.test(String(l.msg)), "the warning about Redis");
    assert.equal(warned.level, 40);
    const url = `http://127.0.0.1:${(await late.waitFor((l) => l.msg === "listening", "listening")).port as number}`;
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    assert.equal((await health.check({ service: ChatService.typeName })).status, Status.NOT_SERVING);
    assert.equal((await health.check({ service: "example.ExampleService" })).status, Status.SERVING);
    assert.equal((await restSend(url, "late", "too early")).status, 503);
    await lateRedis.restart();
    await until(async () => (await health.check({ service: ChatService.typeName })).status === Status.SERVING, "the chat to turn SERVING");
    assert.equal((await restSend(url, "late", "now")).status, 200);
  });
});
