// A chat participant over the bidi ChatService.Chat stream (join, then send and receive on one
// stream) through a generated Connect client: the soak runs it over Connect binary on HTTP/2 and
// over the WebSocket bridge's binary subprotocol, the two wires the unary adapters do not cover.
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { ChatService, type ChatRequest } from "../../src/gen/chat/v1/chat_pb.js";
import { Received } from "../chat/adapters.js";

type Init = Partial<Pick<ChatRequest, "room" | "text">>;

/** An async iterable of requests fed by push(); end() half-closes. */
class Requests implements AsyncIterable<Init> {
  private items: Init[] = [];
  private wake?: () => void;
  private ended = false;

  push(r: Init): void {
    this.items.push(r);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Init> {
    for (;;) {
      while (this.items.length) yield this.items.shift()!;
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** One member of a room on a Chat stream. */
export interface BidiParticipant {
  received: Received;
  /** Sends a text to the room over the stream (no answer but the echo in `received`). */
  send(text: string): void;
  /** Aborts the stream. */
  cancel(): void;
}

/** Joins `room` over `transport` with the token and collects every message of the room. */
export function joinChat(transport: Transport, token: string, room: string): BidiParticipant {
  const client = createClient(ChatService, transport);
  const received = new Received();
  const reqs = new Requests();
  const ac = new AbortController();
  reqs.push({ room, text: "" });
  void (async () => {
    try {
      for await (const r of client.chat(reqs, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal })) if (r.message) received.push(r.message);
      received.end();
    } catch (e) {
      received.end(ConnectError.from(e).code);
    }
  })();
  return {
    received,
    send: (text) => reqs.push({ text }),
    cancel: () => {
      reqs.end();
      ac.abort();
    },
  };
}
