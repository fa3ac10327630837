/** Stops a subscription; resolves once no more payloads will be delivered to its listener. */
export type Unsubscribe = () => Promise<void>;

/**
 * Fan-out of opaque payloads to every subscriber of a topic. The in-memory broker serves one
 * process; the Redis broker (REDIS_URL) spans instances. Services see only this interface.
 *
 * Guarantees: within one instance every subscriber gets each payload published after its
 * subscribe() resolved exactly once, in one order that is the same for all subscribers of a topic.
 */
export interface Broker {
  /** Delivers a payload to every subscriber of the topic; rejects with ConnectError UNAVAILABLE when the backend is down. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  /** Registers a listener for the topic's future payloads; resolves when the subscription is active. */
  subscribe(topic: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe>;
  /** Appends to the topic's bounded history, keeping only the newest `limit` entries. */
  append(topic: string, payload: Uint8Array, limit: number): Promise<void>;
  /** History entries, oldest first: skips the `offset` newest, then returns up to `count` before them. */
  history(topic: string, offset: number, count: number): Promise<Uint8Array[]>;
  /** True while the backend is reachable (always true in memory). */
  readonly healthy: boolean;
  /** Calls the listener whenever `healthy` changes; returns a function that removes it. */
  onHealthChange(listener: (healthy: boolean) => void): () => void;
  /** Drains subscribers and releases connections. */
  close(): Promise<void>;
}
