import type { Broker } from "../pubsub/broker.js";

/** A Broker that counts what passes through it; its counts are exported by the servers it is given to. */
export interface CountingBroker extends Broker {
  /** The `broker` label: "memory", "redis", "cluster-relay", ... */
  readonly kind: string;
  /** Payloads published successfully, publishes that failed (storing the message or publishing it), payloads handed to local subscribers. */
  readonly counts: { published: number; publishFailures: number; delivered: number };
}

/**
 * Wraps a broker so that publishes and deliveries are counted (plain increments, no prom-client
 * on the path). Pass the result to the chat (createChat) and to the server's `metrics.brokers`.
 */
export function instrumentBroker(broker: Broker, kind: string): CountingBroker {
  const counts = { published: 0, publishFailures: 0, delivered: 0 };
  return {
    kind,
    counts,
    publish(topic, payload) {
      return broker.publish(topic, payload).then(
        () => {
          counts.published++;
        },
        (e: unknown) => {
          counts.publishFailures++;
          throw e;
        },
      );
    },
    subscribe(topic, listener) {
      return broker.subscribe(topic, (payload) => {
        counts.delivered++;
        listener(payload);
      });
    },
    // A chat message is stored before it is published: when storing fails, the publish never
    // happens, and that send is counted as the failed publish it is.
    append: (topic, payload, limit) =>
      broker.append(topic, payload, limit).catch((e: unknown) => {
        counts.publishFailures++;
        throw e;
      }),
    history: (topic, offset, count) => broker.history(topic, offset, count),
    get healthy() {
      return broker.healthy;
    },
    onHealthChange: (listener) => broker.onHealthChange(listener),
    close: () => broker.close(),
  };
}
