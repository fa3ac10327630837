// Chat fan-out encodes each message once per frame format and splices it into every subscriber's
// frame: each subscriber must still get its own stream id and the same message, in both subprotocols,
// also with several subscriptions to one room on one socket.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { WebSocket } from "ws";
import { ChatService, SubscribeRequestSchema, SubscribeResponseSchema } from "../../src/gen/chat/v1/chat_pb.js";
import { FrameSchema } from "../../src/gen/oneport/ws/v1/frame_pb.js";
import { startChatServer, TOKENS, waitForSubscribers } from "../chat/support.js";

const srv = await startChatServer();
const ROOM = "fanout-encoding";
const auth = { authorization: `Bearer ${TOKENS.carol}` };

interface Received {
  id: string;
  text: string;
  author: string;
  messageId: string;
}

/** Opens a socket in one subprotocol and subscribes to ROOM once per id; collects message frames. */
async function subscriber(subprotocol: "oneport.json.v1" | "oneport.proto.v1", ids: string[]) {
  const socket = new WebSocket(`${srv.url.replace(/^http/, "ws")}/ws`, subprotocol);
  after(() => socket.terminate());
  await new Promise((resolve, reject) => (socket.once("open", resolve), socket.once("error", reject)));
  const received: Received[] = [];
  socket.on("message", (data: Buffer, isBinary: boolean) => {
    if (subprotocol === "oneport.json.v1") {
      assert.equal(isBinary, false);
      const f = JSON.parse(data.toString()) as { id: string; message?: { message: { text: string; author: string; id: string } } };
      if (f.message) received.push({ id: f.id, text: f.message.message.text, author: f.message.message.author, messageId: f.message.message.id });
    } else {
      assert.equal(isBinary, true);
      const f = fromBinary(FrameSchema, data);
      if (f.message !== undefined) {
        const m = fromBinary(SubscribeResponseSchema, f.message).message!;
        received.push({ id: f.id, text: m.text, author: m.author, messageId: m.id });
      }
    }
  });
  for (const id of ids) {
    if (subprotocol === "oneport.json.v1") socket.send(JSON.stringify({ id, method: "chat.v1.ChatService/Subscribe", headers: auth, message: { room: ROOM } }));
    else socket.send(toBinary(FrameSchema, create(FrameSchema, { id, method: "chat.v1.ChatService/Subscribe", headers: auth, message: toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room: ROOM })) })));
  }
  return { ids, received };
}

describe("chat fan-out over /ws with one encoding per message", () => {
  it("gives every subscriber its own stream id and the same message, in both subprotocols", async () => {
    const subs = [
      await subscriber("oneport.json.v1", ["1", "a-much-longer-stream-id-with-\"quotes\"-and-\\backslash"]),
      await subscriber("oneport.json.v1", ["7"]),
      await subscriber("oneport.proto.v1", ["2", "another-id"]),
      await subscriber("oneport.proto.v1", ["99"]),
    ];
    await waitForSubscribers(srv.broker, ROOM, 6);
    const client = createClient(ChatService, createConnectTransport({ baseUrl: srv.url, httpVersion: "1.1" }));
    const texts = ["first", "second with \"quotes\" and ünïcödé"];
    const sent = [];
    for (const text of texts) sent.push((await client.send({ room: ROOM, text }, { headers: { authorization: `Bearer ${TOKENS.alice}` } })).message!);
    for (const s of subs) {
      while (s.received.length < s.ids.length * texts.length) await new Promise((r) => setTimeout(r, 5));
      for (const id of s.ids) {
        const mine = s.received.filter((r) => r.id === id);
        assert.deepEqual(
          mine.map((r) => [r.text, r.author, r.messageId]),
          sent.map((m) => [m.text, "alice", m.id]),
          `stream ${id} got both messages, in order, with its own id`,
        );
      }
      assert.equal(s.received.length, s.ids.length * texts.length, "no frame for an id that was not subscribed");
    }
  });
});
