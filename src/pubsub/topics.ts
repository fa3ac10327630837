import type { Unsubscribe } from "./broker.js";

/** A subscriber's callback for one topic. */
export type Listener = (payload: Uint8Array) => void;

interface Topic {
  listeners: Set<Listener>;
  /** Settles when the upstream subscription (Redis SUBSCRIBE, relay "sub") is confirmed. */
  active: Promise<unknown>;
}

/**
 * Local listeners per topic over ONE upstream subscription each, for the brokers whose backend is
 * shared (Redis, the cluster primary): one upstream delivery fans out to every local listener, which
 * makes delivery exactly-once per listener and keeps the upstream's order for all of them.
 */
export class TopicTable {
  private readonly topics = new Map<string, Topic>();

  /**
   * Adds a listener. The topic's first listener opens the upstream subscription with `open` (and
   * every concurrent first listener waits for that one); its last listener to leave calls `close`.
   */
  async subscribe(topic: string, listener: Listener, open: () => Promise<unknown>, close: () => Promise<unknown>): Promise<Unsubscribe> {
    let t = this.topics.get(topic);
    if (!t) {
      const created: Topic = { listeners: new Set(), active: open() };
      this.topics.set(topic, created);
      created.active.catch(() => {
        if (this.topics.get(topic) === created && created.listeners.size === 0) this.topics.delete(topic);
      });
      t = created;
    }
    await t.active;
    const { listeners } = t;
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const entry: Listener = (p) => listener(p);
    listeners.add(entry);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      listeners.delete(entry);
      if (listeners.size > 0 || this.topics.get(topic)?.listeners !== listeners) return;
      this.topics.delete(topic);
      await close().catch(() => {});
    };
  }

  /** Hands a payload to every listener of the topic; one that throws does not starve the others. */
  deliver(topic: string, payload: Uint8Array, onError: (err: unknown) => void): void {
    const set = this.topics.get(topic)?.listeners;
    if (!set) return;
    // A live Set iteration skips listeners removed meanwhile: an unsubscribed listener gets nothing more.
    for (const l of set) {
      try {
        l(payload);
      } catch (err) {
        onError(err);
      }
    }
  }

  /** True while the topic has an upstream subscription (or one being opened). */
  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** Every topic with an upstream subscription. */
  names(): string[] {
    return [...this.topics.keys()];
  }

  /** Forgets every topic: nothing is delivered any more. */
  clear(): void {
    this.topics.clear();
  }
}
