import { after } from "node:test";
import type { ServerOptions } from "../../src/config.js";
import { authInterceptor, parseTokens } from "../../src/core/auth.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { MemoryBroker } from "../../src/pubsub/memory.js";
import { createChat, type ChatOptions, type ChatRooms } from "../../src/services/chat.js";
import { topicOf } from "../../src/services/chat-rooms.js";
import { exampleService } from "../../src/services/example.js";
import { startServer, type TestServer } from "../support/server.js";

/** The tokens every chat test server accepts: name -> token. */
export const TOKENS = { alice: "alice-token", bob: "bob-token", carol: "carol-token", dave: "dave-token", erin: "erin-token" } as const;

/** A chat test server: the example and chat services, the auth interceptor, a memory broker. */
export interface ChatTestServer extends TestServer {
  broker: MemoryBroker;
  rooms: ChatRooms;
}

/** Starts a server with chat as main.ts serves it; it and its broker are closed after the file. */
export async function startChatServer(opts: { chat?: Partial<ChatOptions>; server?: Partial<ServerOptions> } = {}): Promise<ChatTestServer> {
  const broker = new MemoryBroker();
  const chat = createChat(broker, opts.chat);
  const tokens = parseTokens(Object.entries(TOKENS).map(([name, token]) => `${name}:${token}`).join(","));
  const t = await startServer({
    services: [exampleService(), chat.service],
    interceptors: [authInterceptor({ tokens, services: [ChatService.typeName] })],
    ...opts.server,
    features: [chat.feature, ...(opts.server?.features ?? [])],
  });
  after(() => broker.close());
  return { ...t, broker, rooms: chat.rooms };
}

/** Waits (without a deadline of its own: the test's timeout is the bound) until the room has n subscribers. */
export async function waitForSubscribers(broker: MemoryBroker, room: string, n: number): Promise<void> {
  while (broker.subscriberCount(topicOf(room)) !== n) await new Promise((r) => setTimeout(r, 2));
}
