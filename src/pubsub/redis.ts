import { Code, ConnectError } from "@connectrpc/connect";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { silentLogger } from "../log.js";
import type { Broker, Unsubscribe } from "./broker.js";
import { TopicTable, type Listener } from "./topics.js";

/** Options of the Redis broker; only `url` is required. */
export interface RedisBrokerOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  url: string;
  /** Prefix of every channel and key this broker uses (default "oneport:"). */
  prefix?: string;
  logger?: Logger;
  /** First reconnect delay; doubles per attempt up to `maxRetryMs` (default 50). */
  minRetryMs?: number;
  /** Longest delay between reconnect attempts (default 2000). */
  maxRetryMs?: number;
  /** A command without a reply after this long fails with UNAVAILABLE (default 5000). */
  commandTimeoutMs?: number;
}

/**
 * Broker over Redis pub/sub, so instances share topics. Two connections: one in subscriber mode
 * (Redis allows nothing else on it) and one for PUBLISH and the history lists. Each topic is ONE
 * Redis subscription per instance, fanned out locally: that is what makes delivery exactly-once per
 * local subscriber and keeps one order (Redis's) for all of them.
 *
 * While Redis is unreachable: publish/append/history/new subscriptions reject with UNAVAILABLE,
 * existing subscriptions stay registered and are re-subscribed when Redis is back. Payloads
 * published during the outage are not replayed (History keeps what was appended before it).
 */
export class RedisBroker implements Broker {
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly topics = new TopicTable();
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private readonly prefix: string;
  private readonly logger: Logger;
  private cmdReady = false;
  private subReady = false;
  private state: "open" | "closing" | "closed" = "open";
  private readyWaiters: (() => void)[] = [];
  private healthyNow = false;

  constructor(opts: RedisBrokerOptions) {
    this.prefix = opts.prefix ?? "oneport:";
    this.logger = (opts.logger ?? silentLogger).child({ component: "redis-broker" });
    const min = opts.minRetryMs ?? 50;
    const max = opts.maxRetryMs ?? 2000;
    const base: RedisOptions = {
      // Jittered exponential backoff, forever: an outage ends when Redis is back, not after N tries.
      retryStrategy: (times) => Math.round(Math.min(max, min * 2 ** Math.min(times - 1, 16)) * (0.5 + Math.random() / 2)),
      // Fail fast instead of queueing: a chat message must not be sent minutes late, silently.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false, // we re-subscribe ourselves, then report healthy
      // RESP2, the long-proven subscriber mode (ioredis 6 defaults to RESP3).
      protocol: 2,
      commandTimeout: opts.commandTimeoutMs ?? 5000,
      connectTimeout: 5000,
      keepAlive: 10_000,
      lazyConnect: true,
    };
    this.cmd = new Redis(opts.url, { ...base, connectionName: "oneport-cmd" });
    // No command timeout on the subscriber: a SUBSCRIBE answered while this process was busy
    // would be reported failed although Redis holds it (timers run before socket reads after a
    // stall). A dead subscriber connection is noticed by its close event and TCP keep-alive.
    this.sub = new Redis(opts.url, { ...base, commandTimeout: undefined, connectionName: "oneport-sub" });
    this.cmd.on("ready", () => this.setReady("cmd", true));
    this.sub.on("ready", () => void this.resubscribe());
    for (const [name, conn] of [["cmd", this.cmd], ["sub", this.sub]] as const) {
      conn.on("close", () => this.setReady(name, false));
      conn.on("error", (err: Error) => this.logger.debug({ conn: name, err: err.message }, "redis connection error"));
    }
    this.sub.on("messageBuffer", (channel: Buffer, message: Buffer) => this.dispatch(channel, message));
    // Connection failures are retried by retryStrategy; the promise only reports the first attempt.
    this.cmd.connect().catch(() => {});
    this.sub.connect().catch(() => {});
  }

  /** True while both connections are up and every topic is subscribed again. */
  get healthy(): boolean {
    return this.healthyNow;
  }

  /** Resolves once the broker is healthy, or rejects after `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.healthyNow) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(unavailable(`cannot reach Redis within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => void this.healthListeners.delete(listener);
  }

  async publish(topic: string, payload: Uint8Array): Promise<void> {
    this.check("publish");
    await this.run("publish", () => this.cmd.publish(this.channel(topic), toBuffer(payload)));
  }

  async subscribe(topic: string, listener: Listener): Promise<Unsubscribe> {
    this.check("subscribe");
    return this.topics.subscribe(
      topic,
      listener,
      () => this.run("subscribe", () => this.sub.subscribe(this.channel(topic))),
      // Commands on one connection run in order, so a later SUBSCRIBE of the topic wins.
      async () => {
        if (this.subReady) await this.sub.unsubscribe(this.channel(topic));
      },
    );
  }

  async append(topic: string, payload: Uint8Array, limit: number): Promise<void> {
    this.check("append to history");
    const key = this.historyKey(topic);
    await this.run("append to history", () => this.cmd.multi().rpush(key, toBuffer(payload)).ltrim(key, -Math.max(1, limit), -1).exec());
  }

  async history(topic: string, offset: number, count: number): Promise<Uint8Array[]> {
    this.check("read history");
    if (count <= 0) return [];
    const end = -1 - Math.max(0, offset);
    const start = end - count + 1;
    const items = await this.run("read history", () => this.cmd.lrangeBuffer(this.historyKey(topic), start, end));
    return items.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  }

  async close(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "closing";
    this.topics.clear();
    this.setHealthy(false);
    this.healthListeners.clear();
    // QUIT lets replies still in flight (publishes) arrive; a connection that is down is just dropped.
    await Promise.all([this.cmd, this.sub].map((c) => (c.status === "ready" ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
    this.state = "closed";
    this.logger.debug("closed");
  }

  /** Subscribes every topic again after a reconnect; only then is the subscriber side ready. */
  private async resubscribe(): Promise<void> {
    const channels = this.topics.names().map((t) => this.channel(t));
    try {
      if (channels.length > 0) await this.sub.subscribe(...channels);
      // Topics whose last listener left while we were re-subscribing must not stay subscribed.
      const stale = channels.filter((c) => !this.topics.has(c.slice(this.prefix.length + 4)));
      if (stale.length > 0) await this.sub.unsubscribe(...stale);
      this.setReady("sub", true);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "re-subscribing after reconnect failed; retrying");
      this.sub.disconnect(true);
    }
  }

  private dispatch(channel: Buffer, message: Buffer): void {
    const topic = channel.toString("utf8").slice(this.prefix.length + 4);
    const payload = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    this.topics.deliver(topic, payload, (err) => this.logger.error({ err, topic }, "subscriber threw; it keeps its subscription"));
  }

  private setReady(conn: "cmd" | "sub", ready: boolean): void {
    if (conn === "cmd") this.cmdReady = ready;
    else this.subReady = ready;
    this.setHealthy(this.state === "open" && this.cmdReady && this.subReady);
  }

  private setHealthy(healthy: boolean): void {
    if (healthy === this.healthyNow) return;
    this.healthyNow = healthy;
    if (this.state === "open") this.logger[healthy ? "info" : "warn"]({ healthy }, healthy ? "Redis is reachable" : "Redis is unreachable; reconnecting");
    if (healthy) for (const w of this.readyWaiters.splice(0)) w();
    for (const l of [...this.healthListeners]) l(healthy);
  }

  private check(what: string): void {
    if (this.state !== "open") throw new ConnectError(`cannot ${what}: the message broker is closed`, Code.Unavailable);
    if (!this.healthyNow) throw unavailable(`cannot ${what}`);
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      // While healthy a failure is news (a timeout, a Redis error); during an outage it is expected.
      this.logger[this.healthyNow ? "warn" : "debug"]({ err: (err as Error).message, what }, "Redis command failed");
      throw unavailable(`cannot ${what}`, err);
    }
  }

  private channel(topic: string): string {
    return `${this.prefix}pub:${topic}`;
  }

  private historyKey(topic: string): string {
    return `${this.prefix}history:${topic}`;
  }
}

function unavailable(what: string, cause?: unknown): ConnectError {
  return new ConnectError(`${what}: the message broker (Redis) is unavailable; retry later`, Code.Unavailable, undefined, undefined, cause);
}

function toBuffer(payload: Uint8Array): Buffer {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}
