import assert from "node:assert/strict";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { WebSocket } from "ws";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ChatService, SubscribeRequestSchema, type ChatRequest } from "../../src/gen/chat/v1/chat_pb.js";
import { startChatServer, TOKENS, waitForSubscribers } from "./support.js";

const srv = await startChatServer({ chat: { historyLimit: 10, maxTextChars: 200, subscriberQueue: 8, defaultPageSize: 4, maxPageSize: 6 } });
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const h2 = createClient(ChatService, createConnectTransport({ baseUrl: srv.url, httpVersion: "2" }));

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("expected an error"),
    (e: unknown) => ConnectError.from(e),
  );

describe("ChatService.Send", () => {
  it("returns the stored message with id, author, room, text and timestamp", async () => {
    const { message } = await h2.send({ room: "send-ok", text: "hi there" }, as(TOKENS.alice));
    assert.ok(message);
    assert.match(message.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual([message.room, message.author, message.text], ["send-ok", "alice", "hi there"]);
    assert.ok(Math.abs(Number(message.timestamp?.seconds) - Date.now() / 1000) < 60);
  });

  for (const [what, room, text, error] of [
    ["an empty room", "", "hi", /room must not be empty/],
    ["a room with a space", "a b", "hi", /is not a valid name: use 1 to 64 characters/],
    ["a room with a slash", "../etc", "hi", /is not a valid name/],
    ["a room of 65 characters", "r".repeat(65), "hi", /is not a valid name/],
    ["a blank text", "lobby", "  \n ", /text must not be blank/],
    ["a text over the limit", "lobby", "x".repeat(201), /text is too long: at most 200 characters/],
  ] as const) {
    it(`rejects ${what} with INVALID_ARGUMENT`, async () => {
      const err = await errorOf(h2.send({ room, text }, as(TOKENS.alice)));
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, error);
    });
  }

  it("counts characters, not UTF-16 units", async () => {
    const { message } = await h2.send({ room: "lobby", text: "😀".repeat(200) }, as(TOKENS.alice));
    assert.equal(message?.text, "😀".repeat(200));
  });
});

describe("ChatService.History", () => {
  const room = "history";
  const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
  before(async () => {
    for (const text of texts) await h2.send({ room, text }, as(TOKENS.bob));
  });

  it("keeps only the newest historyLimit messages, newest page first, each page oldest first", async () => {
    const pages: string[][] = [];
    let token = "";
    do {
      const page = await h2.history({ room, pageSize: 3, pageToken: token }, as(TOKENS.alice));
      pages.push(page.messages.map((m) => m.text));
      token = page.nextPageToken;
    } while (token !== "");
    assert.deepEqual(pages, [["m9", "m10", "m11"], ["m6", "m7", "m8"], ["m3", "m4", "m5"], ["m2"]]);
  });

  it("uses the default page size for 0", async () => {
    const page = await h2.history({ room }, as(TOKENS.alice));
    assert.deepEqual(page.messages.map((m) => m.text), ["m8", "m9", "m10", "m11"]);
  });

  it("neither repeats nor skips messages when new ones arrive between pages", async () => {
    const r = "history-moving";
    for (let i = 0; i < 6; i++) await h2.send({ room: r, text: `a${i}` }, as(TOKENS.bob));
    const first = await h2.history({ room: r, pageSize: 3 }, as(TOKENS.alice));
    await h2.send({ room: r, text: "new1" }, as(TOKENS.bob));
    await h2.send({ room: r, text: "new2" }, as(TOKENS.bob));
    const second = await h2.history({ room: r, pageSize: 3, pageToken: first.nextPageToken }, as(TOKENS.alice));
    assert.deepEqual(first.messages.map((m) => m.text), ["a3", "a4", "a5"]);
    assert.deepEqual(second.messages.map((m) => m.text), ["a0", "a1", "a2"]);
    assert.equal(second.nextPageToken, "");
  });

  it("answers an empty page for a room nobody wrote to", async () => {
    const page = await h2.history({ room: "silent" }, as(TOKENS.alice));
    assert.deepEqual([page.messages.length, page.nextPageToken], [0, ""]);
  });

  for (const [what, req, error] of [
    ["a page size over the maximum", { pageSize: 7 }, /page_size must be from 1 to 6/],
    ["a negative page size", { pageSize: -1 }, /page_size must be from 1 to 6/],
    ["a page token it did not issue", { pageToken: "bm90LWEtdG9rZW4" }, /page_token is not valid/],
    ["a page token that is not base64url", { pageToken: "%%%" }, /page_token is not valid/],
  ] as const) {
    it(`rejects ${what} with INVALID_ARGUMENT`, async () => {
      const err = await errorOf(h2.history({ room, ...req }, as(TOKENS.alice)));
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, error);
    });
  }
});

describe("ChatService.Chat (bidi)", () => {
  /** A request stream the test feeds by hand. */
  function requests() {
    const queue: ChatRequest[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    return {
      push(r: Partial<ChatRequest>) {
        queue.push(r as ChatRequest);
        wake?.();
      },
      close() {
        closed = true;
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length > 0) yield queue.shift() as ChatRequest;
          else if (closed) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    };
  }

  it("joins with the first request, delivers everyone's messages and its own, and ends after half-close", async () => {
    const room = "bidi";
    const reqs = requests();
    reqs.push({ room });
    const got: string[] = [];
    const stream = (async () => {
      for await (const r of h2.chat(reqs, as(TOKENS.alice))) got.push(`${r.message?.author}: ${r.message?.text}`);
    })();
    await waitForSubscribers(srv.broker, room, 1);
    await h2.send({ room, text: "from bob" }, as(TOKENS.bob));
    reqs.push({ text: "from alice" });
    reqs.push({ room, text: "again" });
    reqs.close();
    await stream; // ends by itself once alice's own messages came back
    assert.deepEqual(got, ["bob: from bob", "alice: from alice", "alice: again"]);
    await waitForSubscribers(srv.broker, room, 0);
  });

  it("sends the text of the first request too", async () => {
    const reqs = requests();
    reqs.push({ room: "bidi-first", text: "hello" });
    reqs.close();
    const got: string[] = [];
    for await (const r of h2.chat(reqs, as(TOKENS.carol))) got.push(r.message?.text ?? "");
    assert.deepEqual(got, ["hello"]);
  });

  it("ends with INVALID_ARGUMENT when a later request names another room", async () => {
    const reqs = requests();
    reqs.push({ room: "bidi-a" });
    reqs.push({ room: "bidi-b", text: "x" });
    const err = await errorOf(
      (async () => {
        for await (const _ of h2.chat(reqs, as(TOKENS.alice)));
      })(),
    );
    assert.equal(err.code, Code.InvalidArgument);
    assert.match(err.rawMessage, /this stream is in room "bidi-a"/);
    reqs.close();
    await waitForSubscribers(srv.broker, "bidi-a", 0);
  });

  it("rejects a bad room in the first request with INVALID_ARGUMENT", async () => {
    const reqs = requests();
    reqs.push({ room: "no spaces allowed" });
    reqs.close();
    const err = await errorOf(
      (async () => {
        for await (const _ of h2.chat(reqs, as(TOKENS.alice)));
      })(),
    );
    assert.equal(err.code, Code.InvalidArgument);
  });

  it("works over grpc-js too", async () => {
    const client = createGrpcJsClient(ChatService, `127.0.0.1:${srv.port}`);
    after(() => client.close());
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${TOKENS.dave}`);
    const call = client.chat(md) as grpc.ClientDuplexStream<Partial<ChatRequest>, { message?: { text: string } }>;
    const got: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on("data", (r) => got.push(r.message?.text ?? ""));
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ room: "bidi-grpc", text: "one" });
    call.write({ text: "two" });
    call.end();
    await ended;
    assert.deepEqual(got, ["one", "two"]);
  });
});

describe("ChatService.Chat over the WebSocket bridge", () => {
  it("sends and receives on one stream and ends with ok after the half-close", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, "oneport.json.v1");
    after(() => ws.close());
    const frames: { id?: string; message?: { message?: { text?: string; author?: string } }; end?: boolean; status?: { code: string } }[] = [];
    const ended = new Promise<void>((resolve) =>
      ws.on("message", (d) => {
        const f = JSON.parse(String(d)) as (typeof frames)[number];
        frames.push(f);
        if (f.end) resolve();
      }),
    );
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ id: "c", method: "chat.v1.ChatService/Chat", headers: { authorization: `Bearer ${TOKENS.bob}` }, message: { room: "bidi-ws", text: "first" } }));
    ws.send(JSON.stringify({ id: "c", message: { text: "second" } }));
    ws.send(JSON.stringify({ id: "c", end: true }));
    await ended;
    const got = frames.filter((f) => f.message).map((f) => `${f.message?.message?.author}: ${f.message?.message?.text}`);
    assert.deepEqual(got, ["bob: first", "bob: second"]);
    assert.deepEqual(frames.at(-1)?.status, { code: "ok" });
  });
});

describe("ChatService.Subscribe", () => {
  it("drops a subscriber that stops reading with RESOURCE_EXHAUSTED instead of buffering without bound", async () => {
    // A gRPC client on node:http2 that does not read: grpc-js would keep reading into its own buffer.
    const room = "slow";
    const session = http2.connect(srv.url);
    after(() => session.close());
    const req = session.request({ ":method": "POST", ":path": "/chat.v1.ChatService/Subscribe", "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${TOKENS.erin}` });
    const msg = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room }));
    const envelope = Buffer.alloc(5 + msg.length);
    envelope.writeUInt32BE(msg.length, 1);
    envelope.set(msg, 5);
    req.end(envelope);
    req.pause(); // reads nothing: the HTTP/2 window fills up, then the server-side queue of 8
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on("trailers", resolve));
    await waitForSubscribers(srv.broker, room, 1);
    let sent = 0;
    while (srv.broker.subscriberCount(`chat:${room}`) > 0) {
      await Promise.all(Array.from({ length: 20 }, () => h2.send({ room, text: "y".repeat(200) }, as(TOKENS.alice))));
      if ((sent += 20) > 100_000) assert.fail("the slow subscriber was never dropped");
    }
    req.resume();
    req.on("data", () => {});
    const t = await trailers;
    assert.equal(t["grpc-status"], String(Code.ResourceExhausted));
    assert.match(decodeURIComponent(String(t["grpc-message"])), /fell more than 8 messages behind/);
    assert.equal(srv.rooms.subscriptions, 0);
  });

  it("releases the subscription when the client cancels", async () => {
    const ac = new AbortController();
    const done = (async () => {
      for await (const _ of h2.subscribe({ room: "cancel" }, { ...as(TOKENS.alice), signal: ac.signal }));
    })().catch((e: unknown) => ConnectError.from(e).code);
    await waitForSubscribers(srv.broker, "cancel", 1);
    ac.abort();
    assert.equal(await done, Code.Canceled);
    await waitForSubscribers(srv.broker, "cancel", 0);
    assert.equal(srv.rooms.subscriptions, 0);
  });
});
