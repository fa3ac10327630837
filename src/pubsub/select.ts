import cluster from "node:cluster";
import type { Logger } from "pino";
import { silentLogger } from "../log.js";
import type { Broker } from "./broker.js";
import { ClusterRelayBroker } from "./cluster-relay.js";
import { MemoryBroker } from "./memory.js";
import { RedisBroker } from "./redis.js";

/** How to pick the broker; everything is optional. */
export interface BrokerSelection {
  /** Redis URL (REDIS_URL); set, the broker is Redis pub/sub and instances share topics. */
  redisUrl?: string;
  /** Prefix of Redis channels and keys (default "oneport:"): lets several deployments share one Redis. */
  redisPrefix?: string;
  /** Running as a node:cluster worker (default: cluster.isWorker); without Redis the primary relays. */
  worker?: boolean;
  /** How long to wait for Redis at start before serving anyway, NOT_SERVING until it is up (default 5000). */
  readyTimeoutMs?: number;
  logger?: Logger;
}

/** The kind of broker createBroker() picks for a selection. */
export function brokerKind(sel: BrokerSelection): "redis" | "cluster-relay" | "memory" {
  if (sel.redisUrl) return "redis";
  return (sel.worker ?? cluster.isWorker) ? "cluster-relay" : "memory";
}

/**
 * Creates the broker: Redis when a URL is given, else an IPC relay through the cluster primary in a
 * worker, else in memory. Redis being down at start is not fatal: the broker reports unhealthy and
 * keeps reconnecting, so the chat turns SERVING once Redis answers.
 */
export async function createBroker(sel: BrokerSelection = {}): Promise<Broker> {
  const logger = sel.logger ?? silentLogger;
  const kind = brokerKind(sel);
  if (kind === "memory") return new MemoryBroker();
  if (kind === "cluster-relay") return new ClusterRelayBroker();
  const broker = new RedisBroker({ url: sel.redisUrl!, prefix: sel.redisPrefix, logger });
  try {
    await broker.ready(sel.readyTimeoutMs ?? 5000);
  } catch {
    logger.warn({ redis: redactUrl(sel.redisUrl!) }, "Redis is not reachable yet; serving without it (chat NOT_SERVING) and reconnecting");
  }
  return broker;
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}
