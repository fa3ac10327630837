import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChatMessageSchema,
  ChatResponseSchema,
  SubscribeResponseSchema,
  type ChatMessage,
  type ChatResponse,
  type SubscribeResponse,
} from "../gen/chat/v1/chat_pb.js";
import { yieldsFullMessages } from "../core/stream.js";
import type { Broker, Unsubscribe } from "../pubsub/broker.js";
import { BoundedQueue } from "../pubsub/queue.js";
import { markShared } from "../pubsub/shared.js";
import { checkPageSize, checkText, decodePageToken, encodePageToken } from "./chat-validate.js";

/** Limits and sizes of the chat; every field has a default. */
export interface ChatOptions {
  /** Messages kept per room for History (default 1000). */
  historyLimit: number;
  /** Longest message text, in characters (default 2000). */
  maxTextChars: number;
  /** Messages that may wait for one slow subscriber before it is dropped with RESOURCE_EXHAUSTED (default 256). */
  subscriberQueue: number;
  /** History page size when the request asks for none (default 50). */
  defaultPageSize: number;
  /** Largest History page (default 200). */
  maxPageSize: number;
}

/** Default chat limits. */
export const defaultChatOptions: ChatOptions = { historyLimit: 1000, maxTextChars: 2000, subscriberQueue: 256, defaultPageSize: 50, maxPageSize: 200 };

/**
 * One published message as every subscriber receives it: decoded once, wrapped once per response
 * type. Shared by all subscribers of the payload (read-only), so fan-out allocates nothing per reader.
 */
export interface Delivery {
  readonly message: ChatMessage;
  readonly subscribe: SubscribeResponse;
  readonly chat: ChatResponse;
}

/** One page of History. */
export interface HistoryPage {
  messages: ChatMessage[];
  nextPageToken: string;
}

/**
 * The chat's state over a Broker: one topic per room, messages encoded with toBinary, bounded
 * history, bounded per-subscriber queues. Knows nothing of protocols; the service maps it to RPCs.
 */
export class ChatRooms {
  readonly options: ChatOptions;
  /** Open subscription queues, so that shutdown can end them promptly. */
  private readonly open = new Set<BoundedQueue<unknown>>();
  /** Each payload is decoded once, however many subscribers it reaches. */
  private readonly decoded = new WeakMap<Uint8Array, Delivery | null>();
  private closing = false;

  constructor(
    readonly broker: Broker,
    options: Partial<ChatOptions> = {},
  ) {
    this.options = { ...defaultChatOptions };
    for (const [k, v] of Object.entries(options)) {
      if (!(k in defaultChatOptions)) throw new Error(`unknown chat option "${k}"; known: ${Object.keys(defaultChatOptions).join(", ")}`);
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`chat option ${k} must be a positive integer, got ${String(v)}`);
      (this.options as unknown as Record<string, number>)[k] = v;
    }
    if (this.options.defaultPageSize > this.options.maxPageSize) throw new Error("chat option defaultPageSize must not exceed maxPageSize");
  }

  /** A new message with a server-assigned id and timestamp; validates the text. */
  compose(room: string, author: string, text: string): ChatMessage {
    checkText(text, this.options.maxTextChars);
    return create(ChatMessageSchema, { id: randomUUID(), room, author, text, timestamp: timestampNow() });
  }

  /** Stores the message in the room's history, then publishes it to the room's subscribers. */
  async publish(msg: ChatMessage): Promise<void> {
    this.checkOpen();
    const payload = toBinary(ChatMessageSchema, msg);
    // History first: whoever receives the message can already find it in History.
    await this.broker.append(topicOf(msg.room), payload, this.options.historyLimit);
    await this.broker.publish(topicOf(msg.room), payload);
  }

  /**
   * Subscribes to a room: the returned queue yields `pick(delivery)` for every message published
   * after this resolves; it ends with CANCELED when the signal aborts, RESOURCE_EXHAUSTED when the
   * reader falls too far behind, UNAVAILABLE at shutdown. The subscription is released when the
   * reader is done, when the signal aborts, or by calling `release()`.
   */
  async subscribe<T>(room: string, signal: AbortSignal, pick: (d: Delivery) => T): Promise<{ queue: BoundedQueue<T>; release: () => Promise<void> }> {
    this.checkOpen();
    const overflow = `this subscriber fell more than ${this.options.subscriberQueue} messages behind and was dropped: read faster, then resubscribe and catch up with History`;
    const queue = new BoundedQueue<T>(this.options.subscriberQueue, overflow, signal);
    let unsubscribe: Unsubscribe | undefined;
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => {
      queue.end();
      this.open.delete(queue);
      signal.removeEventListener("abort", onAbort);
      // Before broker.subscribe() resolved there is nothing to undo yet; see below.
      released ??= unsubscribe ? unsubscribe() : Promise.resolve();
      return released;
    };
    const onAbort = () => void release();
    const listener = (payload: Uint8Array) => {
      const d = this.decode(payload);
      // On overflow the queue fails; unsubscribing right away stops any further buffering.
      if (d && !queue.push(pick(d))) void release();
    };
    unsubscribe = await this.broker.subscribe(topicOf(room), listener);
    queue.onDone = () => void release();
    if (released) {
      await unsubscribe(); // released while subscribing: undo it now
      return { queue, release };
    }
    if (signal.aborted) {
      await release();
      return { queue, release };
    }
    signal.addEventListener("abort", onAbort, { once: true });
    this.open.add(queue);
    if (this.closing) queue.fail(shuttingDown());
    return { queue, release };
  }

  /**
   * The room as a lazy stream of `pick(delivery)`: subscribes on the first read, releases when the
   * reader stops. A plain iterator, no generator, since fan-out pays for each layer per reader.
   * `pick` must return complete messages (the Delivery's own): the stream is marked yieldsFullMessages.
   */
  stream<T>(room: string, signal: AbortSignal, pick: (d: Delivery) => T): AsyncIterable<T> & { [yieldsFullMessages]: true } {
    return {
      // pick() returns the Delivery's own responses, made with create(): no normalizing per message.
      [yieldsFullMessages]: true,
      [Symbol.asyncIterator]: () => {
        let queue: BoundedQueue<T> | undefined;
        let starting: Promise<BoundedQueue<T>> | undefined;
        const start = () => (starting ??= this.subscribe(room, signal, pick).then((s) => (queue = s.queue)));
        return {
          next: () => (queue ? queue.next() : start().then((q) => q.next())),
          return: () => (queue ? queue.return() : starting ? starting.then((q) => q.return()) : Promise.resolve({ value: undefined, done: true as const })),
        };
      },
    };
  }

  /** One page of the room's history; see HistoryRequest for the paging rules. */
  async history(room: string, pageSize: number, pageToken: string): Promise<HistoryPage> {
    this.checkOpen();
    const size = checkPageSize(pageSize, this.options.defaultPageSize, this.options.maxPageSize);
    const topic = topicOf(room);
    let older: Uint8Array[];
    if (pageToken === "") {
      // One more than the page: if it exists, there is a next page.
      older = await this.broker.history(topic, 0, size + 1);
    } else {
      // The token names the oldest message already seen, not an offset, so that messages sent
      // between two page requests neither repeat nor skip entries. History is bounded: scanning it is cheap.
      const before = decodePageToken(pageToken);
      const all = await this.broker.history(topic, 0, this.options.historyLimit);
      const at = all.findIndex((p) => this.decode(p)?.message.id === before);
      older = at < 0 ? [] : all.slice(Math.max(0, at - size - 1), at);
    }
    const hasMore = older.length > size;
    const messages = (hasMore ? older.slice(1) : older).flatMap((p) => this.decode(p)?.message ?? []);
    return { messages, nextPageToken: hasMore && messages.length > 0 ? encodePageToken(messages[0].id) : "" };
  }

  /** Ends every open subscription with UNAVAILABLE and refuses new calls; the broker stays open. */
  shutdown(): void {
    this.closing = true;
    for (const q of this.open) q.fail(shuttingDown());
    this.open.clear();
  }

  /** Number of open subscriptions (for tests and metrics). */
  get subscriptions(): number {
    return this.open.size;
  }

  private decode(payload: Uint8Array): Delivery | null {
    let d = this.decoded.get(payload);
    if (d === undefined) {
      try {
        const message = fromBinary(ChatMessageSchema, payload);
        // Every subscriber gets these same objects: marked shared, adapters encode each once per message.
        d = { message, subscribe: markShared(create(SubscribeResponseSchema, { message })), chat: markShared(create(ChatResponseSchema, { message })) };
      } catch {
        d = null; // not a chat message (another publisher on the topic): skip it
      }
      this.decoded.set(payload, d);
    }
    return d;
  }

  private checkOpen(): void {
    if (this.closing) throw shuttingDown();
  }
}

/** The broker topic of a room. */
export function topicOf(room: string): string {
  return `chat:${room}`;
}

const shuttingDown = () => new ConnectError("the server is shutting down: reconnect and resubscribe", Code.Unavailable);
