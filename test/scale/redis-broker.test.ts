import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/pubsub/redis.js";
import { redisMissing, TestRedis, until } from "./support/redis.js";

const skip = redisMissing();
const enc = new TextEncoder();
const dec = new TextDecoder();

describe("RedisBroker", { skip }, () => {
  let redis: TestRedis;
  let inspect: Redis;
  const brokers: RedisBroker[] = [];
  const open = async (prefix = "t:") => {
    const b = new RedisBroker({ url: redis.url, prefix, minRetryMs: 20, maxRetryMs: 100 });
    brokers.push(b);
    await b.ready();
    return b;
  };

  before(async () => {
    redis = await TestRedis.start();
    inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    inspect.on("error", () => {});
    await inspect.connect();
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    inspect.disconnect();
    await redis.stop();
  });

  it("delivers every payload from two instances exactly once and in one order to all subscribers", async () => {
    const [a, b] = [await open(), await open()];
    const rooms = ["r1", "r2", "r3"];
    const got = new Map<string, string[]>();
    const unsubs = [];
    for (const room of rooms) {
      for (const [i, broker] of [a, b, b].entries()) {
        const key = `${room}#${i}`;
        got.set(key, []);
        unsubs.push(await broker.subscribe(room, (p) => got.get(key)!.push(dec.decode(p))));
      }
    }
    const sent = new Map(rooms.map((r) => [r, [] as string[]]));
    const publishes = [];
    for (let n = 0; n < 100; n++) {
      for (const room of rooms) {
        const msg = `${room}-${n}`;
        sent.get(room)!.push(msg);
        publishes.push(a.publish(room, enc.encode(msg)));
      }
    }
    await Promise.all(publishes);
    await until(() => [...got.values()].every((m) => m.length >= 100), "all deliveries");
    for (const room of rooms) {
      // Messages from one publisher arrive in publish order, identically on every subscriber.
      for (let i = 0; i < 3; i++) assert.deepEqual(got.get(`${room}#${i}`), sent.get(room));
    }
    await Promise.all(unsubs.map((u) => u()));
  });

  it("orders payloads from different instances the same way for every subscriber", async () => {
    const [a, b] = [await open(), await open()];
    const onA: string[] = [];
    const onB: string[] = [];
    const u1 = await a.subscribe("mixed", (p) => onA.push(dec.decode(p)));
    const u2 = await b.subscribe("mixed", (p) => onB.push(dec.decode(p)));
    await Promise.all(Array.from({ length: 200 }, (_, n) => (n % 2 ? a : b).publish("mixed", enc.encode(String(n)))));
    await until(() => onA.length === 200 && onB.length === 200, "200 deliveries each");
    assert.deepEqual(onA, onB);
    assert.equal(new Set(onA).size, 200);
    await u1();
    await u2();
  });

  it("shares one Redis subscription per topic and drops it when the last listener leaves", async () => {
    const a = await open("share:");
    const got: string[] = [];
    const [u1, u2] = await Promise.all([a.subscribe("room", (p) => got.push(`1:${dec.decode(p)}`)), a.subscribe("room", (p) => got.push(`2:${dec.decode(p)}`))]);
    assert.deepEqual(await inspect.pubsub("NUMSUB", "share:pub:room"), ["share:pub:room", 1]);
    await a.publish("room", enc.encode("x"));
    await until(() => got.length === 2, "both listeners");
    await u1();
    await a.publish("room", enc.encode("y"));
    await until(() => got.length === 3, "the remaining listener");
    assert.deepEqual(got.sort(), ["1:x", "2:x", "2:y"]);
    await u2();
    await u2(); // idempotent
    assert.deepEqual(await inspect.pubsub("NUMSUB", "share:pub:room"), ["share:pub:room", 0]);
  });

  it("keeps a bounded history that any instance reads, newest last, with paging", async () => {
    const [a, b] = [await open("hist:"), await open("hist:")];
    for (let n = 0; n < 30; n++) await a.append("room", enc.encode(`m${n}`), 20);
    assert.equal(await inspect.llen("hist:history:room"), 20);
    const page1 = (await b.history("room", 0, 5)).map((p) => dec.decode(p));
    assert.deepEqual(page1, ["m25", "m26", "m27", "m28", "m29"]);
    const page2 = (await b.history("room", 5, 5)).map((p) => dec.decode(p));
    assert.deepEqual(page2, ["m20", "m21", "m22", "m23", "m24"]);
    const tail = (await b.history("room", 18, 5)).map((p) => dec.decode(p));
    assert.deepEqual(tail, ["m10", "m11"]);
    assert.deepEqual(await b.history("room", 20, 5), []);
    assert.deepEqual(await b.history("room", 0, 0), []);
    assert.deepEqual(await b.history("empty", 0, 10), []);
  });

  it("fails publishes with UNAVAILABLE while Redis is down and resumes subscriptions when it is back", async () => {
    const [a, b] = [await open("outage:"), await open("outage:")];
    const transitions: string[] = [];
    a.onHealthChange((h) => transitions.push(`a:${h}`));
    b.onHealthChange((h) => transitions.push(`b:${h}`));
    const got: string[] = [];
    const unsub = await b.subscribe("room", (p) => got.push(dec.decode(p)));
    await a.publish("room", enc.encode("before"));
    await until(() => got.length === 1, "the first message");

    await redis.kill();
    await until(() => !a.healthy && !b.healthy, "both brokers to notice the outage");
    for (const op of [() => a.publish("room", enc.encode("lost")), () => a.append("room", enc.encode("lost"), 10), () => a.history("room", 0, 1), () => a.subscribe("other", () => {})]) {
      await assert.rejects(op(), (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.Unavailable);
        assert.match(err.rawMessage, /message broker \(Redis\) is unavailable/);
        return true;
      });
    }

    await redis.restart();
    await Promise.all([a.ready(10_000), b.ready(10_000)]);
    assert.deepEqual(await inspect.pubsub("NUMSUB", "outage:pub:room"), ["outage:pub:room", 1]);
    await a.publish("room", enc.encode("after"));
    await until(() => got.length === 2, "the message published after the outage");
    assert.deepEqual(got, ["before", "after"]);
    assert.deepEqual(transitions.filter((t) => t.startsWith("a:")), ["a:false", "a:true"]);
    assert.deepEqual(transitions.filter((t) => t.startsWith("b:")), ["b:false", "b:true"]);
    await unsub();
  });

  it("closes its connections and refuses work after close()", async () => {
    const a = await open("close:");
    await a.subscribe("room", () => {});
    const clients = async () => String(await inspect.client("LIST")).split("\n").filter((l: string) => /name=oneport-(cmd|sub)/.test(l)).length;
    const before = await clients();
    const seen: boolean[] = [];
    a.onHealthChange((h) => seen.push(h));
    await a.close();
    await a.close(); // idempotent
    assert.deepEqual(seen, [false]);
    assert.equal(a.healthy, false);
    await until(async () => (await clients()) === before - 2, "both connections to be gone");
    await assert.rejects(a.publish("room", enc.encode("x")), (err: ConnectError) => err.code === Code.Unavailable && /closed/.test(err.rawMessage));
  });
});
