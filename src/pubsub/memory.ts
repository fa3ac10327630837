import { Code, ConnectError } from "@connectrpc/connect";
import type { Broker, Unsubscribe } from "./broker.js";

/** Options of the in-memory broker. */
export interface MemoryBrokerOptions {
  /**
   * Most topics whose history is kept; appending to one more forgets the history of the topic
   * appended to least recently. Bounds memory when clients invent topic (room) names.
   */
  maxHistoryTopics: number;
  /** Told about a listener that threw; delivery to the other listeners goes on regardless. */
  onListenerError?: (err: unknown, topic: string) => void;
}

type Listener = (payload: Uint8Array) => void;

/** One topic: its live listeners and the payloads waiting to be delivered to them. */
interface Topic {
  /** Insertion-ordered, so every subscriber sees the same order. */
  readonly listeners: Set<Listener>;
  /** Payloads published while a delivery of this topic was running (re-entrant publish). */
  readonly pending: Uint8Array[];
  delivering: boolean;
}

/**
 * The Broker of a single process. publish() delivers synchronously, before it returns; a publish
 * from inside a listener is queued behind the payload being delivered, so every subscriber of a
 * topic sees one order even then. A listener that throws does not stop delivery to the others.
 */
export class MemoryBroker implements Broker {
  private readonly topics = new Map<string, Topic>();
  /** Per topic, newest last. The Map's order is the least recently appended topic first. */
  private readonly histories = new Map<string, Uint8Array[]>();
  private readonly options: MemoryBrokerOptions;
  private closed = false;

  constructor(options: Partial<MemoryBrokerOptions> = {}) {
    const maxHistoryTopics = options.maxHistoryTopics ?? 10_000;
    if (!Number.isInteger(maxHistoryTopics) || maxHistoryTopics < 1) throw new Error(`maxHistoryTopics must be a positive integer, got ${String(maxHistoryTopics)}`);
    this.options = { maxHistoryTopics, onListenerError: options.onListenerError };
  }

  /** Always true: memory does not go away. */
  get healthy(): boolean {
    return true;
  }

  /** Health never changes in memory; the listener is never called. */
  onHealthChange(_listener: (healthy: boolean) => void): () => void {
    return () => {};
  }

  /** Delivers the payload to every current subscriber of the topic before it resolves. */
  async publish(topic: string, payload: Uint8Array): Promise<void> {
    this.checkOpen();
    const t = this.topics.get(topic);
    if (!t) return;
    t.pending.push(payload);
    if (!t.delivering) this.drain(topic, t);
  }

  /** Registers the listener; payloads published after this resolves reach it exactly once. */
  async subscribe(topic: string, listener: Listener): Promise<Unsubscribe> {
    this.checkOpen();
    let t = this.topics.get(topic);
    if (!t) {
      t = { listeners: new Set(), pending: [], delivering: false };
      this.topics.set(topic, t);
    }
    // A wrapper per subscription, so subscribing the same function twice means two subscriptions.
    const entry: Listener = (p) => listener(p);
    t.listeners.add(entry);
    const topicState = t;
    return async () => {
      topicState.listeners.delete(entry);
      // Forget the topic when nobody listens, so that topics do not pile up.
      if (topicState.listeners.size === 0 && !topicState.delivering && this.topics.get(topic) === topicState) this.topics.delete(topic);
    };
  }

  /** Appends to the topic's history and drops its oldest entries beyond `limit`. */
  async append(topic: string, payload: Uint8Array, limit: number): Promise<void> {
    this.checkOpen();
    if (!Number.isInteger(limit) || limit < 1) throw new ConnectError(`history limit must be a positive integer, got ${String(limit)}`, Code.Internal);
    let h = this.histories.get(topic);
    if (h) this.histories.delete(topic); // re-inserted below: most recently appended last
    else h = [];
    h.push(payload);
    if (h.length > limit) h.splice(0, h.length - limit);
    this.histories.set(topic, h);
    if (this.histories.size > this.options.maxHistoryTopics) {
      const oldest = this.histories.keys().next().value as string;
      this.histories.delete(oldest);
    }
  }

  /** Up to `count` entries before the `offset` newest, oldest first. */
  async history(topic: string, offset: number, count: number): Promise<Uint8Array[]> {
    this.checkOpen();
    const h = this.histories.get(topic) ?? [];
    const end = Math.max(0, h.length - Math.max(0, offset));
    const start = Math.max(0, end - Math.max(0, count));
    return h.slice(start, end);
  }

  /** Finishes deliveries in progress, drops every subscription and history; later calls reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Delivery is synchronous, so nothing is in flight once we get here; drop the state.
    for (const t of this.topics.values()) t.listeners.clear();
    this.topics.clear();
    this.histories.clear();
  }

  /** Number of topics with at least one subscriber (for tests and metrics). */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Number of subscriptions of a topic (for tests and metrics). */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.listeners.size ?? 0;
  }

  private drain(name: string, t: Topic): void {
    t.delivering = true;
    try {
      for (let p = t.pending.shift(); p !== undefined; p = t.pending.shift()) {
        // Iterating a Set sees listeners added during iteration; a snapshot keeps "after subscribe".
        for (const l of [...t.listeners]) {
          if (!t.listeners.has(l)) continue; // unsubscribed by an earlier listener of this payload
          try {
            l(p);
          } catch (err) {
            // A broken listener must not starve the others.
            this.options.onListenerError?.(err, name);
          }
        }
      }
    } finally {
      t.delivering = false;
      if (t.listeners.size === 0 && this.topics.get(name) === t) this.topics.delete(name);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new ConnectError("the message broker is closed (the server is shutting down)", Code.Unavailable);
  }
}
