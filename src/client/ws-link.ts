import { Code, ConnectError } from "@connectrpc/connect";
import { decodeServerFrame, encodeClientFrame, type InFrame, type OutFrame } from "./ws-codec.js";
import type { ResolvedWsTransportOptions, WebSocketLike } from "./ws-options.js";

/** What a stream registers on a link to receive its frames. */
export interface StreamSink {
  /** A server frame with this stream's id. */
  frame(f: InFrame): void;
  /** The link died before the stream's final frame. */
  fail(err: ConnectError): void;
}

const OPEN = 1;

/**
 * One open WebSocket as the calls see it: sends frames, routes server frames to streams by id, and
 * probes the peer while streams are open. A link never reconnects; when it dies every stream on it
 * fails with UNAVAILABLE and the connection manager makes a new link for later calls.
 */
export class Link {
  private readonly streams = new Map<string, StreamSink>();
  private alive = true;
  private lastInbound = Date.now();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private probe: { deadline: number; id?: string } | undefined;
  private probeSeq = 0;
  private taken = 0;
  private readonly waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly socket: WebSocketLike,
    private readonly opts: ResolvedWsTransportOptions,
    private readonly onDead: (link: Link) => void,
  ) {
    socket.addEventListener("message", this.onMessage);
    socket.addEventListener("close", this.onClose);
    // ws (Node) answers pings itself but tells us about pongs; browsers expose neither.
    socket.on?.("pong", () => (this.lastInbound = Date.now(), (this.probe = undefined)));
  }

  /** True until the socket closed or failed a heartbeat. */
  get isAlive(): boolean {
    return this.alive && this.socket.readyState === OPEN;
  }

  /** Open streams, heartbeat probes excluded. */
  get size(): number {
    return this.streams.size - (this.probe?.id ? 1 : 0);
  }

  /** Bytes queued in the socket and not yet sent. */
  get buffered(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * Waits for room to open one more stream (at most maxConcurrentStreams at once, as the bridge
   * refuses more); the stream must then be register()ed at once. Rejects with the signal's reason,
   * or UNAVAILABLE when the link dies first.
   */
  take(signal: AbortSignal): Promise<void> {
    if (!this.isAlive) return Promise.reject(new ConnectError("the WebSocket connection is closed", Code.Unavailable));
    if (this.taken < this.opts.maxConcurrentStreams) {
      this.taken++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve: () => (signal.removeEventListener("abort", onAbort), resolve()),
        reject: (e: unknown) => (signal.removeEventListener("abort", onAbort), reject(e)),
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Registers a stream id (after take()); frames for it go to `sink` until release(). */
  register(id: string, sink: StreamSink): void {
    this.streams.set(id, sink);
    if (this.heartbeat === undefined && this.opts.heartbeatIntervalMs > 0) this.startHeartbeat();
  }

  /** Forgets a stream id (after its final frame, or after cancelling it) and frees its place. */
  release(id: string): void {
    if (!this.streams.delete(id)) return;
    if (this.size === 0) this.stopHeartbeat();
    // The place goes straight to the longest waiter, so a new call cannot overtake it.
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.taken--;
  }

  /** Sends a frame; throws UNAVAILABLE when the link is gone. */
  send(f: OutFrame): void {
    if (!this.isAlive) throw new ConnectError("the WebSocket connection is closed", Code.Unavailable);
    this.cork();
    this.socket.send(encodeClientFrame(f, this.opts.format));
  }

  // Node's `ws` writes every frame with its own system call; corking its TCP socket until the event
  // loop turns makes the frames of a burst (many calls, or a stream's requests) one write. Browsers
  // batch by themselves and expose no socket.
  private corked = false;
  private cork(): void {
    if (this.corked || typeof setImmediate !== "function") return;
    const tcp = (this.socket as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
    if (!tcp?.cork || !tcp.uncork) return;
    this.corked = true;
    tcp.cork();
    setImmediate(() => {
      this.corked = false;
      tcp.uncork!();
    });
  }

  /** Closes the socket and fails its streams with `err`. */
  kill(err: ConnectError, code = 1000, reason = ""): void {
    if (!this.alive) return;
    this.alive = false;
    this.stopHeartbeat();
    this.socket.removeEventListener("message", this.onMessage);
    this.socket.removeEventListener("close", this.onClose);
    try {
      // A peer that stopped answering will not answer a closing handshake either.
      if (code === 4000 && this.socket.terminate) this.socket.terminate();
      else this.socket.close(code, reason);
    } catch {
      // Already closing.
    }
    const sinks = [...this.streams.values()];
    this.streams.clear();
    this.onDead(this);
    for (const s of sinks) s.fail(err);
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** Resolves when the socket is closed (immediately if it is). */
  closed(): Promise<void> {
    if (this.socket.readyState === 3) return Promise.resolve();
    return new Promise((resolve) => this.socket.addEventListener("close", () => resolve()));
  }

  private readonly onMessage = (ev: { data: unknown }): void => {
    this.lastInbound = Date.now();
    const raw = ev.data;
    const data = typeof raw === "string" ? raw : raw instanceof ArrayBuffer ? new Uint8Array(raw) : (raw as Uint8Array);
    let f: InFrame;
    try {
      f = decodeServerFrame(data, this.opts.format);
    } catch (e) {
      // A frame we cannot read might have belonged to any stream: none of them can be trusted now.
      // (Scripts may only close with 1000 or 3000-4999; 1002 would throw in browsers.)
      this.kill(ConnectError.from(e, Code.Internal), 4001, "unreadable frame");
      return;
    }
    // Frames for ids we released (cancelled streams) and connection-level errors have no reader.
    this.streams.get(f.id)?.frame(f);
  };

  private readonly onClose = (ev: { code?: number; reason?: string }): void => {
    const why = ev.reason ? `${ev.code}: ${ev.reason}` : String(ev.code ?? "");
    this.kill(new ConnectError(`the WebSocket connection closed (${why})`, Code.Unavailable));
  };

  private startHeartbeat(): void {
    const every = this.opts.heartbeatIntervalMs;
    this.lastInbound = Date.now();
    this.heartbeat = setInterval(() => this.tick(), Math.max(10, Math.min(every, this.opts.heartbeatTimeoutMs) / 2));
    (this.heartbeat as { unref?: () => void }).unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.probe?.id) this.streams.delete(this.probe.id);
    this.probe = undefined;
  }

  private tick(): void {
    const now = Date.now();
    if (this.probe) {
      if (now >= this.probe.deadline) {
        this.kill(new ConnectError("the WebSocket connection stopped answering heartbeats", Code.Unavailable), 4000, "heartbeat timeout");
      }
      return;
    }
    if (now - this.lastInbound < this.opts.heartbeatIntervalMs || !this.isAlive) return;
    const deadline = now + this.opts.heartbeatTimeoutMs;
    try {
      this.sendProbe(deadline);
    } catch {
      // The socket is closing: its close event fails the streams.
    }
  }

  private sendProbe(deadline: number): void {
    if (this.socket.ping) {
      this.probe = { deadline };
      this.socket.ping();
      return;
    }
    // Browsers cannot ping: a call the server answers at once (even with "unimplemented") will do.
    // "-" never appears in a call id (base 36 digits): a probe cannot take a call's place in streams.
    const id = `hb-${++this.probeSeq}`;
    this.probe = { deadline, id };
    this.streams.set(id, {
      frame: (f) => {
        if (!f.end) return;
        this.streams.delete(id);
        this.probe = undefined;
      },
      fail: () => {},
    });
    this.send({ id, method: this.opts.heartbeatMethod, message: this.opts.format === "json" ? {} : new Uint8Array(0), end: true });
  }
}
