import { Code, ConnectError } from "@connectrpc/connect";
import type { Writable } from "node:stream";
import type { Logger } from "pino";
import type { WebSocket } from "ws";
import type { Pipeline } from "../core/pipeline.js";
import type { Registry } from "../core/registry.js";
import { WsCall, type CallHost } from "./call.js";
import { decodeClientFrame, encodeWsFrame, type ClientFrame, type FrameError, type ServerFrame, type WireFormat } from "./frame.js";
import type { MessageCodec } from "./message.js";
import type { WsOptions } from "./options.js";
import { isText, payloadOf } from "./wire.js";

/** What every session of the bridge shares. */
export interface SessionEnv {
  readonly registry: Registry;
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  readonly options: WsOptions;
  codec(format: WireFormat): MessageCodec;
  example(format: WireFormat): ServerFrame["example"];
  /** The session's socket closed. */
  closed(s: Session): void;
}

/** What a session knows of its upgrade request. */
export interface UpgradeInfo {
  /** Metadata every call starts from (Authorization, Cookie, ...). */
  headers: Headers;
  /** "ws://host/ws" or "wss://host/ws". */
  url: string;
}

const OPEN = 1;

/**
 * One WebSocket connection: routes frames to their streams by id, opens streams through the
 * Pipeline and owns the connection-level rules (stream limit, idle and heartbeat state, shutdown).
 * Takes any `ws` WebSocket, whatever carried the upgrade (HTTP/1.1, TLS, later HTTP/2 CONNECT).
 */
export class Session implements CallHost {
  private readonly streams = new Map<string, WsCall>();
  private state: { s: "open" } | { s: "closing"; done: Promise<void> } | { s: "closed" } = { s: "open" };
  private lastActive = Date.now();
  private alive = true;
  readonly pipeline: Pipeline;
  readonly codec: MessageCodec;
  readonly maxBufferedBytes: number;
  readonly maxPendingMessages: number;
  // The TCP/TLS socket (or HTTP/2 stream adapter) under `ws`, when whole frames may be written to it
  // directly: see write().
  private readonly raw: Writable | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly env: SessionEnv,
    private readonly upgrade: UpgradeInfo,
    readonly format: WireFormat,
  ) {
    this.pipeline = env.pipeline;
    this.codec = env.codec(format);
    this.maxBufferedBytes = env.options.maxBufferedBytes;
    this.maxPendingMessages = env.options.maxPendingMessages;
    this.raw = rawSocket(socket);
    socket.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on("pong", () => (this.alive = true));
    socket.on("error", (err) => env.logger.debug({ err: err.message }, "websocket error"));
    socket.once("close", () => this.onClose());
  }

  /** Open streams right now. */
  get openStreams(): number {
    return this.streams.size;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.lastActive = Date.now();
    this.alive = true;
    if (this.state.s !== "open") return;
    // The answers to frames read in this turn (a batch of requests arrives in one read) go out together.
    this.cork();
    const f = decodeClientFrame(data, isBinary, this.format, this.env.options.maxFrameBytes);
    if ("error" in f) return this.reject(f);
    if (f.id === "") return this.errorFrame(Code.InvalidArgument, 'the frame has no "id": every frame names its stream with a client-chosen string id such as "1"');
    const call = this.streams.get(f.id);
    if (call) {
      if (f.method !== "") return this.errorFrame(Code.InvalidArgument, `stream "${f.id}" is already open: choose another id for a new stream`);
      return call.onFrame(f);
    }
    if (f.method !== "") return this.open(f);
    // A cancel or end that crossed the stream's final frame is harmless.
    if (f.message === undefined) return;
    this.errorFrame(Code.InvalidArgument, `no open stream "${f.id}": the first frame of a stream names its "method"`);
  }

  private open(f: ClientFrame): void {
    const path = f.method.startsWith("/") ? f.method : `/${f.method}`;
    const m = this.env.registry.lookup(path);
    if (!m) return this.finalOnly(f.id, Code.Unimplemented, `unknown method "${f.method}": name it "package.Service/Method"`);
    if (this.streams.size >= this.env.options.maxStreamsPerConnection) {
      return this.finalOnly(f.id, Code.ResourceExhausted, `too many open streams on this connection (limit ${this.env.options.maxStreamsPerConnection})`);
    }
    // Most frames carry no headers: the upgrade's Headers are then passed as they are (the context
    // copies them only if an interceptor or the implementation reads them).
    let headers = this.upgrade.headers;
    if (f.headers) {
      headers = new Headers(headers);
      try {
        for (const [k, v] of Object.entries(f.headers)) headers.set(k, v);
      } catch {
        return this.finalOnly(f.id, Code.InvalidArgument, "a header name or value is not valid in HTTP");
      }
    }
    const ctx = this.pipeline.context(m, { protocol: "ws", requestMethod: "GET", url: this.upgrade.url, requestHeader: headers, timeoutMs: f.timeoutMs });
    const call = new WsCall(this, f.id, m, ctx);
    this.streams.set(f.id, call);
    call.start(f);
  }

  // A frame that could not be used fails its own stream if it has one, else answers without an id.
  private reject(e: FrameError): void {
    const call = e.id ? this.streams.get(e.id) : undefined;
    if (call) return call.fail(new ConnectError(e.error, e.code));
    if (e.id && e.opens) return this.finalOnly(e.id, e.code, e.error);
    this.errorFrame(e.code, e.id ? `stream "${e.id}": ${e.error}` : e.error);
  }

  private finalOnly(id: string, code: Code, message: string): void {
    this.send({ id, end: true, status: { code, message } });
  }

  private errorFrame(code: Code, message: string): void {
    this.send({ id: "", end: true, status: { code, message }, example: this.env.example(this.format) });
  }

  /** Bytes waiting in the send buffer (ws's queue plus the socket's). */
  buffered(): number {
    // ws's bufferedAmount is this plus its Sender's queue, which stays empty without compression.
    return this.raw ? this.raw.writableLength : this.socket.bufferedAmount;
  }

  /** Sends a frame if the connection is open. */
  send(frame: ServerFrame): void {
    if (this.socket.readyState !== OPEN) return;
    this.write(encodeWsFrame(frame, this.format));
  }

  /** Sends a whole WebSocket frame made by wire.ts if the connection is open. */
  sendFrame(frame: Buffer): void {
    if (this.socket.readyState !== OPEN) return;
    this.write(frame);
  }

  // A whole frame in one write to the socket under `ws`. Safe because the bridge never negotiates
  // permessage-deflate: ws's Sender then writes every frame of its own (ping, pong, close)
  // synchronously to that same socket, never queues (ws 8 lib/sender.js: only compression and Blobs
  // queue), so frames keep one order; and what waits in the socket counts in ws's bufferedAmount
  // (the socket's writableLength plus the Sender's queue), which the slow-consumer policy reads.
  private write(frame: Buffer): void {
    if (this.raw) this.raw.write(frame);
    else this.socket.send(payloadOf(frame), { binary: !isText(frame) });
  }

  // Every write is a syscall. Frames sent in the turn of the event loop that read frames from this
  // connection (the answers to a batch of requests read together) are corked into one write,
  // flushed by setImmediate. Frames sent in other turns (a fan-out delivery, a stream's next
  // message) go out at once: a fan-out's first subscribers get the message while later ones are
  // still being served, instead of all of them after the last.
  private corked = false;
  private cork(): void {
    if (this.corked) return;
    const raw = (this.socket as unknown as { _socket?: Corkable })._socket;
    if (!raw?.cork || !raw.uncork) return;
    this.corked = true;
    raw.cork();
    uncorkSoon(raw, this);
  }

  /** Called by the shared flush after the socket was uncorked. */
  uncorked(): void {
    this.corked = false;
  }

  /** Forgets a finished stream; the idle clock starts when the last one ends, not at the last frame read. */
  done(id: string): void {
    this.streams.delete(id);
    if (this.streams.size === 0) this.lastActive = Date.now();
  }

  /** Logs an internal error; the client only sees "internal error". */
  report(err: unknown, id: string, method: string): void {
    this.env.logger.error({ err, protocol: "ws", id, method }, "ws call failed");
  }

  /** Heartbeat tick: drops a peer that did not answer the last ping, then pings. */
  heartbeat(): void {
    if (this.state.s !== "open") return;
    if (!this.alive) {
      this.env.logger.debug("websocket peer did not answer ping; dropping it");
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** Idle tick: closes the connection when it has had no streams and no frames for idleTimeoutMs. */
  idleCheck(now: number): void {
    const limit = this.env.options.idleTimeoutMs;
    if (this.state.s !== "open" || limit === 0 || this.streams.size > 0 || now - this.lastActive < limit) return;
    this.socket.close(1000, "idle timeout");
  }

  /** Graceful shutdown: every stream ends with UNAVAILABLE, then close code 1001; resolves once closed. */
  shutdown(graceMs: number): Promise<void> {
    if (this.state.s === "closed") return Promise.resolve();
    if (this.state.s === "closing") return this.state.done;
    const done = new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      // A peer that never answers the close handshake is cut off when the grace period ends.
      setTimeout(() => this.socket.terminate(), graceMs).unref();
    });
    this.state = { s: "closing", done };
    const reason = new ConnectError("the server is shutting down", Code.Unavailable);
    for (const call of [...this.streams.values()]) call.fail(reason);
    this.socket.close(1001, "server shutting down");
    return done;
  }

  private onClose(): void {
    this.state = { s: "closed" };
    for (const call of this.streams.values()) call.drop();
    this.streams.clear();
    this.env.closed(this);
  }
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

// `_socket` is ws's own field: the TCP/TLS socket, or the HTTP/2 stream adapter; both are Duplexes.
// Whole frames go to it only without extensions (none is offered: perMessageDeflate is off).
function rawSocket(ws: WebSocket): Writable | undefined {
  const raw = (ws as unknown as { _socket?: Writable })._socket;
  return raw && typeof raw.write === "function" && ws.extensions === "" ? raw : undefined;
}

// One setImmediate flushes every corked socket (a fan-out to 10k connections schedules one, not 10k).
const corked: Array<[Corkable, Session]> = [];
function uncorkSoon(raw: Corkable, s: Session): void {
  if (corked.push([raw, s]) > 1) return;
  setImmediate(() => {
    const all = corked.splice(0);
    for (const [r, session] of all) {
      session.uncorked();
      r.uncork();
    }
  });
}
