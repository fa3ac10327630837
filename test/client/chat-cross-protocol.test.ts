import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { ChatMessage } from "../../src/gen/chat/v1/chat_pb.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { connectJson, grpcJs, grpcWeb, Received, webSocket, type ChatClient, type ChatClientFactory } from "../chat/adapters.js";
import { startChatServer, TOKENS, waitForSubscribers } from "../chat/support.js";
import { wsTransport } from "./support.js";

// The WebSocket issue's cross-protocol scenario table, with the Connect WebSocket transport as one
// more client (binary frames and JSON frames as two rows).

const transportClient = (binary: boolean): ChatClientFactory => (baseUrl, token) => {
  const transport = wsTransport(baseUrl, { useBinaryFormat: binary });
  const client = createClient(ChatService, transport);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const aborts = new Set<AbortController>();
  return {
    async send(room, text) {
      const res = await client.send({ room, text }, { headers });
      if (!res.message) throw new Error("Send answered without the stored message");
      return res.message;
    },
    subscribe(room) {
      const received = new Received();
      const ac = new AbortController();
      aborts.add(ac);
      void (async () => {
        try {
          for await (const r of client.subscribe({ room }, { headers, signal: ac.signal })) if (r.message) received.push(r.message);
          received.end();
        } catch (e) {
          received.end(ConnectError.from(e).code);
        }
      })();
      return { received, cancel: () => ac.abort() };
    },
    close() {
      aborts.forEach((a) => a.abort());
      void transport.close();
    },
  };
};

const srv = await startChatServer();

const protocols: Record<string, ChatClientFactory> = {
  grpc: grpcJs,
  connect: connectJson,
  "grpc-web": grpcWeb,
  websocket: webSocket,
  "ws-transport binary": transportClient(true),
  "ws-transport json": transportClient(false),
};

const clients: ChatClient[] = [];
after(() => clients.forEach((c) => c.close()));
const client = (make: ChatClientFactory, token: string | undefined) => {
  const c = make(srv.url, token);
  clients.push(c);
  return c;
};
const ids = (ms: ChatMessage[]) => ms.map((m) => m.id);

describe("chat across protocols, with the WebSocket transport as a client", () => {
  for (const [sender, make] of Object.entries(protocols)) {
    it(`delivers what ${sender} sends to every other client exactly once, in order`, async () => {
      const room = `wst-from-${sender.replace(/ /g, "-")}`;
      const subs = Object.entries(protocols)
        .filter(([name]) => name !== sender)
        .map(([name, f]) => ({ name, ...client(f, TOKENS.bob).subscribe(room) }));
      await waitForSubscribers(srv.broker, room, subs.length);
      const alice = client(make, TOKENS.alice);
      const sent: ChatMessage[] = [];
      for (let i = 0; i < 5; i++) sent.push(await alice.send(room, `${sender} says ${i}`));
      sent.push(await alice.send(room, "over"));
      for (const s of subs) {
        const got = await s.received.until(sent.length);
        assert.deepEqual(ids(got), ids(sent), `${s.name} received what ${sender} sent`);
        assert.deepEqual(got.map((m) => [m.author, m.text]), sent.map((m) => ["alice", m.text]));
        s.cancel();
      }
      await waitForSubscribers(srv.broker, room, 0);
    });
  }

  it("gives every subscriber the same order when every client sends at once", async () => {
    const room = "wst-everyone";
    const names = Object.keys(protocols);
    const subs = names.map((name) => ({ name, ...client(protocols[name], TOKENS.carol).subscribe(room) }));
    await waitForSubscribers(srv.broker, room, subs.length);
    const perSender = 10;
    await Promise.all(
      names.map(async (name) => {
        const c = client(protocols[name], TOKENS.alice);
        for (let i = 0; i < perSender; i++) await c.send(room, `${name} ${i}`);
      }),
    );
    const total = names.length * perSender;
    const history = await srv.rooms.history(room, total, "");
    for (const s of subs) assert.deepEqual(ids(await s.received.until(total)), ids(history.messages), `${s.name} saw the room's order`);
    subs.forEach((s) => s.cancel());
    await waitForSubscribers(srv.broker, room, 0);
  });

  it("answers a missing token with UNAUTHENTICATED over the transport", async () => {
    const c = client(transportClient(true), undefined);
    const err = await c.send("wst-auth", "x").catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
  });
});
