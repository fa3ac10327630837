import assert from "node:assert/strict";
import { request } from "node:http";
import { after, describe, it } from "node:test";
import { webSocket, type ChatClient } from "../chat/adapters.js";
import { OneportProcess, type LogLine } from "./support/proc.js";
import { redisMissing, sleep, TestRedis } from "./support/redis.js";

const TOKEN = "alice-token";

/** REST Send on a NEW TCP connection each time, so the cluster primary hands it to the next worker. */
function restSend(port: number, room: string, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: `/v1/rooms/${room}/messages`, agent: false, headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ text }));
  });
}

const pidsOf = (lines: LogLine[], method: string) => new Set(lines.filter((l) => l.msg === "call" && l.method === `chat.v1.ChatService/${method}`).map((l) => l.pid));

/** Two workers on one port, chat subscribers and senders spread over both; every message reaches everyone. */
async function crossWorkerChat(env: NodeJS.ProcessEnv): Promise<void> {
  const cluster = OneportProcess.start(["--workers", "2", "--port", "0", "--shutdown-timeout-ms", "1000"], { CHAT_TOKENS: `alice:${TOKEN}`, ...env });
  const clients: ChatClient[] = [];
  try {
    const port = (await cluster.waitFor((l) => l.msg === "cluster is ready", "the cluster")).port as number;
    const room = "workers";
    // One WebSocket per subscriber: four connections, handed out round-robin, two per worker.
    const subs = Array.from({ length: 4 }, () => {
      const c = webSocket(`http://127.0.0.1:${port}`, TOKEN);
      clients.push(c);
      return c.subscribe(room);
    });
    // Subscriptions become active asynchronously: probe until every subscriber has heard one.
    while (!subs.every((s) => s.received.messages.length > 0)) {
      assert.equal(await restSend(port, room, "probe"), 200);
      await sleep(20);
    }
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const text = `m${i}`;
      assert.equal(await restSend(port, room, text), 200);
      sent.push(text);
    }
    for (const s of subs) {
      await s.received.until(sent.length + s.received.messages.filter((m) => m.text === "probe").length);
      const texts = s.received.messages.map((m) => m.text).filter((t) => t !== "probe");
      assert.deepEqual(texts, sent);
    }
    // History is shared too (kept by the primary, or in Redis): ask on fresh connections, i.e. both workers.
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/rooms/${room}/messages?pageSize=3`, { headers: { authorization: `Bearer ${TOKEN}`, connection: "close" } });
      assert.deepEqual(((await res.json()) as { messages: { text: string }[] }).messages.map((m) => m.text), sent.slice(-3));
    }
    subs.forEach((s) => s.cancel());
    await cluster.waitFor(() => cluster.lines.filter((l) => l.msg === "call" && l.method === "chat.v1.ChatService/Subscribe").length === 4, "the Subscribe call lines");
    // Both workers sent and both had subscribers, so messages crossed from one worker to the other.
    assert.equal(pidsOf(cluster.lines, "Subscribe").size, 2, "subscribers on both workers");
    assert.equal(pidsOf(cluster.lines, "Send").size, 2, "sends on both workers");
  } finally {
    clients.forEach((c) => c.close());
    const { code } = await cluster.stop();
    assert.equal(code, 0);
  }
}

describe("chat across two workers on one port", { concurrency: true }, () => {
  it("relays rooms through the primary without Redis", () => crossWorkerChat({ REDIS_URL: "" }));

  const skip = redisMissing();
  let redis: TestRedis | undefined;
  after(() => redis?.stop());
  it("shares rooms through Redis with REDIS_URL", { skip }, async () => {
    redis = await TestRedis.start();
    await crossWorkerChat({ REDIS_URL: redis.url });
  });
});
