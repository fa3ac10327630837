import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { authInterceptor, parseTokens } from "../../src/core/auth.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../src/gen/grpc/health/v1/health_pb.js";
import type { Broker } from "../../src/pubsub/broker.js";
import { MemoryBroker } from "../../src/pubsub/memory.js";
import { createChat } from "../../src/services/chat.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { startChatServer, TOKENS, waitForSubscribers } from "./support.js";

/**
 * A memory broker whose health the test switches. Only the health is simulated: an outage of a
 * real backend is the Redis broker's own test; here it is the chat's reaction that is under test.
 */
class SwitchableBroker extends MemoryBroker implements Broker {
  private up = false;
  private readonly listeners = new Set<(healthy: boolean) => void>();
  override get healthy() {
    return this.up;
  }
  override onHealthChange(l: (healthy: boolean) => void) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  setHealthy(up: boolean) {
    this.up = up;
    this.listeners.forEach((l) => l(up));
  }
  get healthListeners() {
    return this.listeners.size;
  }
}

describe("chat health", () => {
  it("reports chat.v1.ChatService NOT_SERVING while the broker is unhealthy, SERVING otherwise", async () => {
    const broker = new SwitchableBroker();
    const chat = createChat(broker);
    const { url, server } = await startServer({ services: [exampleService(), chat.service], features: [chat.feature] });
    const health = createClient(Health, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
    const status = async (service: string) => (await health.check({ service })).status;

    assert.equal(await status(ChatService.typeName), Status.NOT_SERVING, "unhealthy at start stays NOT_SERVING after listen()");
    assert.equal(await status("example.ExampleService"), Status.SERVING);
    broker.setHealthy(true);
    assert.equal(await status(ChatService.typeName), Status.SERVING);
    broker.setHealthy(false);
    assert.equal(await status(ChatService.typeName), Status.NOT_SERVING);
    assert.equal(await status(""), Status.SERVING, "the server as a whole still serves");

    await server.close();
    assert.equal(broker.healthListeners, 0, "the health listener is removed at shutdown");
    await broker.close();
  });
});

describe("chat shutdown", () => {
  it("ends open Subscribe streams with UNAVAILABLE as soon as shutdown starts", async () => {
    const srv = await startChatServer({ server: { limits: { shutdownTimeoutMs: 60_000 } } });
    const client = createClient(ChatService, createConnectTransport({ baseUrl: srv.url, httpVersion: "2" }));
    const headers = { authorization: `Bearer ${TOKENS.alice}` };
    const ended = (async () => {
      for await (const _ of client.subscribe({ room: "closing" }, { headers }));
    })().then(
      () => assert.fail("expected UNAVAILABLE"),
      (e: unknown) => ConnectError.from(e),
    );
    await waitForSubscribers(srv.broker, "closing", 1);
    // With a 60 s grace period, close() only returns promptly if the stream ended by itself.
    const closed = srv.server.close();
    const err = await ended;
    assert.equal(err.code, Code.Unavailable);
    assert.match(err.rawMessage, /shutting down/);
    await closed;
    assert.equal(srv.rooms.subscriptions, 0);
    await waitForSubscribers(srv.broker, "closing", 0);
  });
});

describe("createChat()", () => {
  it("rejects unknown and non-positive options with a clear message", () => {
    const broker = new MemoryBroker();
    assert.throws(() => createChat(broker, { historyLimt: 5 } as never), /unknown chat option "historyLimt"/);
    assert.throws(() => createChat(broker, { subscriberQueue: 0 }), /subscriberQueue must be a positive integer/);
    assert.throws(() => createChat(broker, { defaultPageSize: 300 }), /defaultPageSize must not exceed maxPageSize/);
  });

  it("needs no auth interceptor to be constructed, but refuses calls without an author", async () => {
    const broker = new MemoryBroker();
    const chat = createChat(broker);
    const { url } = await startServer({ services: [chat.service], interceptors: [authInterceptor({ tokens: parseTokens("x:y"), services: [] })] });
    const client = createClient(ChatService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const err = await client.history({ room: "r" }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Unauthenticated);
    await broker.close();
  });
});
