import type { Worker } from "node:cluster";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Broker, Unsubscribe } from "./broker.js";
import { MemoryBroker } from "./memory.js";
import { TopicTable, type Listener } from "./topics.js";

/**
 * Fan-out between the workers of ONE machine without Redis: the cluster primary holds a
 * MemoryBroker and every worker talks to it over the cluster's IPC channel (advanced
 * serialization, so payloads travel as bytes). One primary means one order per topic for all
 * workers; each worker subscribes a topic once and fans out locally, so delivery is exactly once.
 */

/** What a worker asks the primary. */
type Body =
  | { op: "sub" | "unsub"; topic: string }
  | { op: "pub"; topic: string; payload: Uint8Array }
  | { op: "append"; topic: string; payload: Uint8Array; limit: number }
  | { op: "history"; topic: string; offset: number; count: number };

/** Worker -> primary requests. */
type Request = Body & { oneport: "relay"; id: number };

/** Primary -> worker: a reply to a request, or a payload of a subscribed topic. */
type Reply = { oneport: "relay"; op: "reply"; id: number; error?: { message: string; code: Code }; items?: Uint8Array[] } | { oneport: "relay"; op: "msg"; topic: string; payload: Uint8Array };

const isRelay = (m: unknown): m is { oneport: "relay" } => typeof m === "object" && m !== null && (m as { oneport?: unknown }).oneport === "relay";

/** Primary side: serves the relay protocol for one worker; call the returned function when it exits. */
export function serveRelay(hub: MemoryBroker, worker: Worker): () => void {
  const subs = new Map<string, Unsubscribe>();
  const send = (m: Reply) => {
    if (worker.isConnected()) worker.send(m);
  };
  const onMessage = async (m: unknown) => {
    if (!isRelay(m)) return;
    const req = m as Request;
    try {
      let items: Uint8Array[] | undefined;
      switch (req.op) {
        case "sub":
          if (!subs.has(req.topic)) subs.set(req.topic, await hub.subscribe(req.topic, (payload) => send({ oneport: "relay", op: "msg", topic: req.topic, payload })));
          break;
        case "unsub":
          await subs.get(req.topic)?.();
          subs.delete(req.topic);
          break;
        case "pub":
          await hub.publish(req.topic, req.payload);
          break;
        case "append":
          await hub.append(req.topic, req.payload, req.limit);
          break;
        case "history":
          items = await hub.history(req.topic, req.offset, req.count);
      }
      send({ oneport: "relay", op: "reply", id: req.id, items });
    } catch (err) {
      const e = ConnectError.from(err);
      send({ oneport: "relay", op: "reply", id: req.id, error: { message: e.rawMessage, code: e.code } });
    }
  };
  worker.on("message", onMessage);
  return () => {
    worker.off("message", onMessage);
    for (const u of subs.values()) void u();
    subs.clear();
  };
}

/** Worker side: a Broker whose backend is the cluster primary. */
export class ClusterRelayBroker implements Broker {
  private readonly topics = new TopicTable();
  private readonly pending = new Map<number, { resolve: (r: Uint8Array[] | undefined) => void; reject: (e: Error) => void }>();
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private readonly inflight = new Set<Promise<unknown>>();
  private nextId = 1;
  private closed = false;
  private readonly onMessage = (m: unknown) => this.receive(m as Reply);
  private readonly onDisconnect = () => {
    for (const p of this.pending.values()) p.reject(down("the cluster primary went away"));
    this.pending.clear();
    for (const l of [...this.healthListeners]) l(false);
  };

  constructor(private readonly proc: NodeJS.Process = process) {
    if (!proc.send) throw new Error("ClusterRelayBroker runs only in a cluster worker (no IPC channel to the primary)");
    proc.on("message", this.onMessage);
    proc.on("disconnect", this.onDisconnect);
  }

  /** True while the IPC channel to the primary is open. */
  get healthy(): boolean {
    return !this.closed && this.proc.connected;
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => void this.healthListeners.delete(listener);
  }

  async publish(topic: string, payload: Uint8Array): Promise<void> {
    await this.request({ op: "pub", topic, payload });
  }

  async subscribe(topic: string, listener: Listener): Promise<Unsubscribe> {
    return this.topics.subscribe(
      topic,
      listener,
      () => this.request({ op: "sub", topic }),
      () => this.request({ op: "unsub", topic }),
    );
  }


  async append(topic: string, payload: Uint8Array, limit: number): Promise<void> {
    await this.request({ op: "append", topic, payload, limit });
  }

  async history(topic: string, offset: number, count: number): Promise<Uint8Array[]> {
    return (await this.request({ op: "history", topic, offset, count })) ?? [];
  }

  /** Stops delivery, waits for requests in flight, and detaches from the IPC channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topics.clear();
    await Promise.allSettled(this.inflight);
    this.proc.off("message", this.onMessage);
    this.proc.off("disconnect", this.onDisconnect);
    this.healthListeners.clear();
  }

  private request(body: Body): Promise<Uint8Array[] | undefined> {
    if (this.closed) return Promise.reject(new ConnectError("the message broker is closed (the server is shutting down)", Code.Unavailable));
    if (!this.proc.connected) return Promise.reject(down("the cluster primary is gone"));
    const id = this.nextId++;
    const p = new Promise<Uint8Array[] | undefined>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send!({ oneport: "relay", id, ...body }, undefined, undefined, (err) => {
        if (!err) return;
        this.pending.delete(id);
        reject(down("cannot reach the cluster primary"));
      });
    });
    // close() waits for these; each settles on the primary's reply or when the channel drops.
    this.inflight.add(p);
    const forget = () => void this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  private receive(m: Reply): void {
    if (!isRelay(m)) return;
    if (m.op === "msg") {
      // A broken listener must not starve the others (the chat's listeners never throw).
      this.topics.deliver(m.topic, m.payload, () => {});
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error) p.reject(new ConnectError(m.error.message, m.error.code));
    else p.resolve(m.items);
  }
}

function down(why: string): ConnectError {
  return new ConnectError(`${why}: the message broker (cluster relay) is unavailable; retry later`, Code.Unavailable);
}
