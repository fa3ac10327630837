import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../config.js";
import { authorKey } from "../core/auth.js";
import { ChatService, type ChatMessage, type ChatRequest } from "../gen/chat/v1/chat_pb.js";
import type { Broker } from "../pubsub/broker.js";
import type { Feature, ServerContext } from "../server.js";
import { ServingStatus } from "./health.js";
import { ChatRooms, type ChatOptions } from "./chat-rooms.js";
import { checkRoom } from "./chat-validate.js";

export { ChatRooms, defaultChatOptions, type ChatOptions } from "./chat-rooms.js";

/** The author the auth interceptor found for this call; UNAUTHENTICATED when there is none. */
function authorOf(ctx: HandlerContext): string {
  const author = ctx.values.get(authorKey);
  // Reached only when the server was built without authInterceptor for ChatService.
  if (author === "") throw new ConnectError("chat needs an authenticated author: the server has no auth interceptor for chat.v1.ChatService", Code.Unauthenticated);
  return author;
}

/** The chat.v1.ChatService implementation over ChatRooms (and so over its Broker). */
export function chatService(rooms: ChatRooms): ServiceRegistration {
  return service(ChatService, {
    async send(req, ctx) {
      const author = authorOf(ctx);
      const msg = rooms.compose(checkRoom(req.room), author, req.text);
      await rooms.publish(msg);
      return { message: msg };
    },

    subscribe(req, ctx) {
      authorOf(ctx);
      // The room's stream itself, without a generator around it: fan-out pays every layer per reader.
      return rooms.stream(checkRoom(req.room), ctx.signal, (d) => d.subscribe);
    },

    async *chat(reqs, ctx) {
      const author = authorOf(ctx);
      const it = reqs[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) return; // the client closed without joining: nothing to do
      const room = checkRoom(first.value.room);
      const { queue, release } = await rooms.subscribe(room, ctx.signal, (d) => d.chat);
      // Ids of this caller's messages not yet seen coming back: after the client half-closes, the
      // stream ends once its own messages have been delivered to it, so none is cut off.
      const outstanding = new Set<string>();
      let reading = true;
      let active = true;
      const send = async (r: ChatRequest) => {
        if (r.room !== "" && r.room !== room) throw new ConnectError(`this stream is in room "${room}": open another stream to chat in "${r.room}"`, Code.InvalidArgument);
        const msg = rooms.compose(room, author, r.text);
        outstanding.add(msg.id);
        try {
          await rooms.publish(msg);
        } catch (e) {
          outstanding.delete(msg.id);
          throw e;
        }
      };
      const finishIfDone = () => {
        if (!reading && outstanding.size === 0) queue.end();
      };
      const reader = (async () => {
        if (first.value.text !== "") await send(first.value);
        for (let r = await it.next(); !r.done && active; r = await it.next()) await send(r.value);
        reading = false;
        finishIfDone();
      })().catch((e: unknown) => queue.fail(ConnectError.from(e)));
      try {
        for await (const response of queue) {
          yield response;
          if (outstanding.delete(response.message?.id ?? "")) finishIfDone();
        }
      } finally {
        active = false;
        await release();
        // The request side may still be open (the response side failed first): stop reading it,
        // without waiting, since a pending read only settles when the client sends or leaves.
        void Promise.resolve(it.return?.()).catch(() => undefined);
        void reader;
      }
    },

    async history(req, ctx) {
      authorOf(ctx);
      return rooms.history(checkRoom(req.room), req.pageSize, req.pageToken);
    },
  });
}

/**
 * Ties the chat to the server: chat.v1.ChatService turns NOT_SERVING while the broker is
 * unhealthy, and at shutdown every open Subscribe/Chat stream ends at once with UNAVAILABLE
 * (instead of holding the grace period until it runs out).
 */
export function chatFeature(rooms: ChatRooms): (ctx: ServerContext) => Feature {
  return (ctx) => {
    const name = ChatService.typeName;
    const apply = (healthy: boolean) => ctx.health.set(name, healthy ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    apply(rooms.broker.healthy);
    const stop = rooms.broker.onHealthChange(apply);
    return {
      name: "chat",
      async close() {
        stop();
        rooms.shutdown();
      },
    };
  };
}

/** Everything the chat needs, from one broker: the service registration and the server feature. */
export function createChat(broker: Broker, options: Partial<ChatOptions> = {}): { rooms: ChatRooms; service: ServiceRegistration; feature: (ctx: ServerContext) => Feature } {
  const rooms = new ChatRooms(broker, options);
  return { rooms, service: chatService(rooms), feature: chatFeature(rooms) };
}

/** A ChatMessage for the type's users outside this module. */
export type { ChatMessage };
