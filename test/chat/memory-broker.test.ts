import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { MemoryBroker } from "../../src/pubsub/memory.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("MemoryBroker", () => {
  it("delivers every payload to every subscriber exactly once, in publish order", async () => {
    const broker = new MemoryBroker();
    const got: string[][] = [[], [], []];
    const unsubs = await Promise.all(got.map((g) => broker.subscribe("t", (p) => g.push(text(p)))));
    const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await Promise.all(sent.map((s) => broker.publish("t", bytes(s))));
    for (const g of got) assert.deepEqual(g, sent);
    await Promise.all(unsubs.map((u) => u()));
    await broker.close();
  });

  it("keeps topics apart", async () => {
    const broker = new MemoryBroker();
    const a: string[] = [];
    const b: string[] = [];
    await broker.subscribe("a", (p) => a.push(text(p)));
    await broker.subscribe("b", (p) => b.push(text(p)));
    await broker.publish("a", bytes("1"));
    await broker.publish("b", bytes("2"));
    assert.deepEqual([a, b], [["1"], ["2"]]);
    await broker.close();
  });

  it("counts the same function subscribed twice as two subscriptions", async () => {
    const broker = new MemoryBroker();
    const got: string[] = [];
    const fn = (p: Uint8Array) => got.push(text(p));
    const u1 = await broker.subscribe("t", fn);
    await broker.subscribe("t", fn);
    await broker.publish("t", bytes("x"));
    assert.deepEqual(got, ["x", "x"]);
    await u1();
    await broker.publish("t", bytes("y"));
    assert.deepEqual(got, ["x", "x", "y"]);
    await broker.close();
  });

  it("keeps one order for all subscribers when a listener publishes re-entrantly", async () => {
    const broker = new MemoryBroker();
    const first: string[] = [];
    const second: string[] = [];
    await broker.subscribe("t", (p) => {
      first.push(text(p));
      if (text(p) === "a") void broker.publish("t", bytes("b"));
    });
    await broker.subscribe("t", (p) => second.push(text(p)));
    await broker.publish("t", bytes("a"));
    assert.deepEqual(first, ["a", "b"]);
    assert.deepEqual(second, ["a", "b"]);
    await broker.close();
  });

  it("goes on delivering to the others when a listener throws, and reports it", async () => {
    const errors: string[] = [];
    const broker = new MemoryBroker({ onListenerError: (err, topic) => errors.push(`${topic}: ${(err as Error).message}`) });
    const got: string[] = [];
    await broker.subscribe("t", () => {
      throw new Error("broken");
    });
    await broker.subscribe("t", (p) => got.push(text(p)));
    await broker.publish("t", bytes("x"));
    assert.deepEqual(got, ["x"]);
    assert.deepEqual(errors, ["t: broken"]);
    await broker.close();
  });

  it("stops delivering after unsubscribe and forgets topics nobody listens to", async () => {
    const broker = new MemoryBroker();
    const got: string[] = [];
    const unsub = await broker.subscribe("t", (p) => got.push(text(p)));
    assert.equal(broker.topicCount, 1);
    await broker.publish("t", bytes("1"));
    await unsub();
    await unsub(); // twice is harmless
    await broker.publish("t", bytes("2"));
    assert.deepEqual(got, ["1"]);
    assert.equal(broker.topicCount, 0);
    await broker.close();
  });

  it("does not deliver a payload to a subscriber removed by an earlier listener of the same payload", async () => {
    const broker = new MemoryBroker();
    const got: string[] = [];
    let unsubLater: (() => Promise<void>) | undefined;
    await broker.subscribe("t", () => void unsubLater?.());
    unsubLater = await broker.subscribe("t", (p) => got.push(text(p)));
    await broker.publish("t", bytes("x"));
    assert.deepEqual(got, []);
    assert.equal(broker.topicCount, 1);
    await broker.close();
  });

  it("keeps only the newest `limit` history entries and pages by offset, oldest first", async () => {
    const broker = new MemoryBroker();
    for (let i = 0; i < 10; i++) await broker.append("t", bytes(`h${i}`), 5);
    assert.deepEqual((await broker.history("t", 0, 100)).map(text), ["h5", "h6", "h7", "h8", "h9"]);
    assert.deepEqual((await broker.history("t", 0, 2)).map(text), ["h8", "h9"]);
    assert.deepEqual((await broker.history("t", 2, 2)).map(text), ["h6", "h7"]);
    assert.deepEqual((await broker.history("t", 4, 2)).map(text), ["h5"]);
    assert.deepEqual(await broker.history("t", 9, 2), []);
    assert.deepEqual(await broker.history("unknown", 0, 2), []);
    await broker.close();
  });

  it("forgets the history of the least recently appended topic beyond maxHistoryTopics", async () => {
    const broker = new MemoryBroker({ maxHistoryTopics: 2 });
    await broker.append("a", bytes("a1"), 10);
    await broker.append("b", bytes("b1"), 10);
    await broker.append("a", bytes("a2"), 10); // a is now the most recent
    await broker.append("c", bytes("c1"), 10); // evicts b
    assert.deepEqual((await broker.history("a", 0, 10)).map(text), ["a1", "a2"]);
    assert.deepEqual(await broker.history("b", 0, 10), []);
    assert.deepEqual((await broker.history("c", 0, 10)).map(text), ["c1"]);
    await broker.close();
  });

  it("rejects a history limit that is not a positive integer", async () => {
    const broker = new MemoryBroker();
    await assert.rejects(broker.append("t", bytes("x"), 0), /positive integer/);
    await broker.close();
    assert.throws(() => new MemoryBroker({ maxHistoryTopics: 0 }), /maxHistoryTopics/);
  });

  it("is always healthy and never calls health listeners", async () => {
    const broker = new MemoryBroker();
    let calls = 0;
    const off = broker.onHealthChange(() => calls++);
    assert.equal(broker.healthy, true);
    off();
    await broker.close();
    assert.equal(calls, 0);
  });

  it("drops every subscription at close and rejects later calls with UNAVAILABLE", async () => {
    const broker = new MemoryBroker();
    const got: string[] = [];
    const unsub = await broker.subscribe("t", (p) => got.push(text(p)));
    await broker.append("t", bytes("h"), 10);
    await broker.close();
    await broker.close(); // idempotent
    assert.equal(broker.topicCount, 0);
    for (const call of [() => broker.publish("t", bytes("x")), () => broker.subscribe("t", () => {}), () => broker.history("t", 0, 1), () => broker.append("t", bytes("x"), 1)]) {
      await assert.rejects(call(), (e: unknown) => ConnectError.from(e).code === Code.Unavailable);
    }
    await unsub(); // still safe after close
    assert.deepEqual(got, []);
  });
});
