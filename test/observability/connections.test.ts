// Connection, byte and WebSocket gauges, and broker counts, against a real server and real clients.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { authInterceptor, parseTokens } from "../../src/core/auth.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { instrumentBroker } from "../../src/observability/broker.js";
import { MemoryBroker } from "../../src/pubsub/memory.js";
import { RedisBroker } from "../../src/pubsub/redis.js";
import { createChat } from "../../src/services/chat.js";
import { topicOf } from "../../src/services/chat-rooms.js";
import { exampleService } from "../../src/services/example.js";
import { connectJson, webSocket } from "../chat/adapters.js";
import { connectH2WebSocket, nextMessage } from "../client/h2-websocket.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";
import { scrape, valueOf } from "./prom.js";
import { measure, scrapeUntil } from "./support.js";

/** One request on an HTTP/2 session; resolves with the status once the response ended. */
function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    let status = 0;
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", () => undefined);
    req.on("end", () => resolve(status));
    req.on("error", reject);
    req.end(body);
  });
}

describe("connection metrics", () => {
  it("shows an HTTP/2 connection as open while it is, and no longer once it closed", async () => {
    const { url } = await startServer();
    const open = (s: Awaited<ReturnType<typeof scrape>>) => valueOf(s, "oneport_connections_open", { transport: "h2" });
    const before = open(await scrape(url));
    const session = http2.connect(url);
    after(() => session.destroy());
    assert.equal(await h2request(session, { ":path": "/healthz" }), 200);
    const during = await scrape(url);
    assert.equal(open(during), before + 1);
    session.close();
    const later = await scrapeUntil(url, (s) => open(s) === before);
    assert.ok(valueOf(later, "oneport_connections_total", { transport: "h2" }) >= valueOf(during, "oneport_connections_total", { transport: "h2" }), "accepted connections never go down");
  });

  it("counts the bytes received and sent on the socket, open and closed connections alike", async () => {
    const { url } = await startServer();
    const name = "n".repeat(100_000);
    const body = Buffer.from(JSON.stringify({ name }));
    const session = http2.connect(url);
    after(() => session.destroy());
    let d = await measure(url, async () => {
      const status = await h2request(session, { ":method": "POST", ":path": "/example.ExampleService/SayHello", "content-type": "application/json" }, body);
      assert.equal(status, 200);
    });
    assert.ok(d("oneport_received_bytes_total", { transport: "h2" }) >= body.length, "the request body arrived on an open connection");
    assert.ok(d("oneport_sent_bytes_total", { transport: "h2" }) >= name.length, "the answer repeats the name");
    // Once closed, the socket's final counts stay in the totals.
    const totals = await scrape(url);
    session.close();
    const closed = await scrapeUntil(url, (s) => valueOf(s, "oneport_connections_open", { transport: "h2" }) === 0);
    assert.ok(valueOf(closed, "oneport_received_bytes_total", { transport: "h2" }) >= valueOf(totals, "oneport_received_bytes_total", { transport: "h2" }));
    d = await measure(url, () => fetch(`${url}/v1/hello/Bob`).then((r) => r.text()));
    assert.ok(d("oneport_received_bytes_total", { transport: "h1" }) > 0, "HTTP/1.1 requests count too");
  });

  it("shows WebSocket connections and open streams, and takes them off when they end", async () => {
    const { url } = await startServer();
    const gauges = (s: Awaited<ReturnType<typeof scrape>>) => [valueOf(s, "oneport_websocket_connections_open"), valueOf(s, "oneport_websocket_streams_open")];
    assert.deepEqual(gauges(await scrape(url)), [0, 0]);
    const ws = await connect(url);
    await scrapeUntil(url, (s) => gauges(s)[0] === 1);
    // A bidi stream stays open until the client half-closes it.
    ws.send({ id: "b", method: "example.ExampleService/Chatter", message: { name: "A" } });
    await ws.until((fs) => fs.some((f) => f.id === "b" && f.message !== undefined));
    assert.deepEqual(gauges(await scrape(url)), [1, 1]);
    ws.send({ id: "b", end: true });
    assert.equal((await ws.stream("b")).at(-1)?.status?.code, "ok");
    assert.deepEqual(gauges(await scrape(url)), [1, 0]);
    ws.close();
    await scrapeUntil(url, (s) => gauges(s)[0] === 0);
  });

  it("counts a WebSocket over an HTTP/2 CONNECT stream (RFC 8441) like an upgraded one", async () => {
    const { url } = await startServer();
    const h2 = await connectH2WebSocket(url, { protocol: "oneport.json.v1" });
    after(() => h2.session.destroy());
    assert.equal(h2.status, 200);
    const ws = h2.ws!;
    const s = await scrapeUntil(url, (x) => valueOf(x, "oneport_websocket_connections_open") === 1);
    assert.equal(valueOf(s, "oneport_connections_open", { transport: "h2" }), 1);
    ws.send(JSON.stringify({ id: "1", method: "example.ExampleService/SayHello", message: { name: "H2" } }));
    assert.match(await nextMessage(ws), /Hello, H2/);
    const d = await measure(url, async () => {
      ws.send(JSON.stringify({ id: "2", method: "example.ExampleService/SayHello", message: { name: "again" } }));
      await nextMessage(ws);
    });
    assert.equal(d("oneport_server_handled_total", { protocol: "ws", method: "SayHello", code: "OK" }), 1);
    ws.close();
    await scrapeUntil(url, (x) => valueOf(x, "oneport_websocket_connections_open") === 0);
  });
});

describe("broker metrics", () => {
  const tokens = parseTokens("alice:alice-token,bob:bob-token");
  const inner = new MemoryBroker();
  const broker = instrumentBroker(inner, "memory");
  const chat = createChat(broker);
  after(() => inner.close());

  it("counts each publish once and each delivery once per subscriber (a Connect and a WebSocket subscriber)", async () => {
    const { url } = await startServer({
      services: [exampleService(), chat.service],
      interceptors: [authInterceptor({ tokens, services: [ChatService.typeName] })],
      features: [chat.feature],
      metrics: { brokers: [broker] },
    });
    const alice = connectJson(url, "alice-token");
    const bob = webSocket(url, "bob-token");
    after(() => {
      alice.close();
      bob.close();
    });
    const subs = [alice.subscribe("metrics"), bob.subscribe("metrics")];
    while (inner.subscriberCount(topicOf("metrics")) !== 2) await new Promise((r) => setTimeout(r, 5));
    const d = await measure(url, async () => {
      await alice.send("metrics", "one");
      await alice.send("metrics", "two");
      await Promise.all(subs.map((s) => s.received.until(2)));
    });
    assert.equal(d("oneport_broker_published_total", { broker: "memory" }), 2);
    assert.equal(d("oneport_broker_delivered_total", { broker: "memory" }), 4, "two messages to two subscribers");
    assert.equal(d("oneport_server_handled_total", { protocol: "connect", service: "chat.v1.ChatService", method: "Send", code: "OK" }), 2);
    subs.forEach((s) => s.cancel());
  });

  it("counts a publish the backend refuses as a failure, not as published", async () => {
    // A real Redis broker whose server is down (nothing listens on port 1): publish rejects with UNAVAILABLE.
    const down = instrumentBroker(new RedisBroker({ url: "redis://127.0.0.1:1" }), "redis");
    after(() => down.close());
    const { url } = await startServer({ metrics: { brokers: [broker, down] } });
    const d = await measure(url, async () => {
      const err = await down.publish("t", new Uint8Array([1])).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
      assert.equal(err.code, Code.Unavailable);
    });
    assert.equal(d("oneport_broker_publish_failures_total", { broker: "redis" }), 1);
    assert.equal(d("oneport_broker_published_total", { broker: "redis" }), 0);
    assert.equal(d("oneport_broker_published_total", { broker: "memory" }), 0);
  });

  it("counts each chat Send that fails on a backend that is down as one publish failure (storing it fails first)", async () => {
    const down = instrumentBroker(new RedisBroker({ url: "redis://127.0.0.1:1" }), "redis");
    after(() => down.close());
    const downChat = createChat(down);
    const { url } = await startServer({
      services: [downChat.service],
      interceptors: [authInterceptor({ tokens, services: [ChatService.typeName] })],
      features: [downChat.feature],
      metrics: { brokers: [down] },
    });
    const alice = connectJson(url, "alice-token");
    after(() => alice.close());
    const d = await measure(url, async () => {
      for (const text of ["one", "two"]) {
        const err = await alice.send("outage", text).then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));
        assert.equal(err.code, Code.Unavailable);
      }
    });
    assert.equal(d("oneport_server_handled_total", { protocol: "connect", service: "chat.v1.ChatService", method: "Send", code: "Unavailable" }), 2);
    assert.equal(d("oneport_broker_publish_failures_total", { broker: "redis" }), 2);
  });
});
