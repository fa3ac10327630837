import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { ChatMessage } from "../../src/gen/chat/v1/chat_pb.js";
import { connectJson, grpcJs, grpcWeb, rest, webSocket, type ChatClient, type ChatClientFactory } from "./adapters.js";
import { startChatServer, TOKENS, waitForSubscribers } from "./support.js";

const srv = await startChatServer();

/** Every protocol a chat client may speak: one row each. */
const protocols: Record<string, ChatClientFactory> = {
  grpc: grpcJs,
  connect: connectJson,
  "grpc-web": grpcWeb,
  rest,
  websocket: webSocket,
};

const clients: ChatClient[] = [];
after(() => clients.forEach((c) => c.close()));
const client = (make: ChatClientFactory, token: string) => {
  const c = make(srv.url, token);
  clients.push(c);
  return c;
};
const ids = (ms: ChatMessage[]) => ms.map((m) => m.id);

describe("chat across protocols", () => {
  for (const [sender, make] of Object.entries(protocols)) {
    it(`delivers what ${sender} sends to every other protocol exactly once, in order`, async () => {
      const room = `from-${sender}`;
      const subs = Object.entries(protocols)
        .filter(([name]) => name !== sender)
        .map(([name, f]) => ({ name, ...client(f, TOKENS.bob).subscribe(room) }));
      await waitForSubscribers(srv.broker, room, subs.length);

      const alice = client(make, TOKENS.alice);
      const sent: ChatMessage[] = [];
      for (let i = 0; i < 5; i++) sent.push(await alice.send(room, `${sender} says ${i}`));
      // A last message: once it arrived, anything duplicated or reordered before it would show.
      sent.push(await alice.send(room, "over"));

      for (const s of subs) {
        const got = await s.received.until(sent.length);
        assert.deepEqual(ids(got), ids(sent), `${s.name} received what ${sender} sent`);
        assert.deepEqual(
          got.map((m) => [m.author, m.room, m.text]),
          sent.map((m) => ["alice", room, m.text]),
        );
        assert.ok(got.every((m) => m.timestamp && m.timestamp.seconds > 0n), "every message has a timestamp");
        s.cancel();
      }
      // Every subscription is released on the server once its client went away.
      await waitForSubscribers(srv.broker, room, 0);
    });
  }

  it("gives every subscriber the same order when every protocol sends at once", async () => {
    const room = "everyone";
    const names = Object.keys(protocols);
    const subs = names.map((name) => ({ name, ...client(protocols[name], TOKENS.carol).subscribe(room) }));
    await waitForSubscribers(srv.broker, room, subs.length);

    const perSender = 10;
    const sent = await Promise.all(
      names.map(async (name) => {
        const c = client(protocols[name], TOKENS.alice);
        const mine: ChatMessage[] = [];
        for (let i = 0; i < perSender; i++) mine.push(await c.send(room, `${name} ${i}`));
        return mine;
      }),
    );
    const total = names.length * perSender;
    const reference = await subs[0].received.until(total);
    // The server's own order (History) is the order every subscriber saw.
    const history = await srv.rooms.history(room, total, "");
    assert.deepEqual(ids(reference), ids(history.messages));
    for (const s of subs) assert.deepEqual(ids(await s.received.until(total)), ids(reference), `${s.name} saw the room's order`);
    // Each sender's own messages keep their send order within the room's order.
    for (const mine of sent) {
      const positions = mine.map((m) => ids(reference).indexOf(m.id));
      assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])), "a sender's messages stay in its order");
    }
    assert.equal(new Set(ids(reference)).size, total, "no message twice");
    subs.forEach((s) => s.cancel());
    await waitForSubscribers(srv.broker, room, 0);
  });
});
