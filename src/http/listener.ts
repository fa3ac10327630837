import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { createServer as tlsServer } from "node:tls";
import type { Logger } from "pino";
import type { Limits, TlsOptions } from "../config.js";
import { AddressCooldown } from "./address-guard.js";
import { admitStream, guardSession, type GuardEnd } from "./h2-guard.js";
import type { NodeRequest, NodeResponse, StreamHandler, UpgradeHandler } from "./types.js";
import { unreadBodyResponse } from "./unread-body.js";

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

// After the shutdown grace period: how long the calls ended then have to send their status (gRPC
// trailers, a Connect end-of-stream, an SSE error event) before the connections are cut.
export const FINAL_FLUSH_MS = 1000;

/** What the listener hands connections to. */
export interface ListenerHandlers {
  request: (req: NodeRequest, res: NodeResponse) => void;
  upgrade: UpgradeHandler;
  /** Optional raw HTTP/2 stream hook, run before the compatibility API. */
  stream?: StreamHandler;
  /** Told of each connection once its protocol is known: "h1", "h2", "h1-tls" or "h2-tls" (metrics). */
  connection?: (socket: net.Socket, transport: string) => void;
  /** Told when the HTTP/2 guard ends a connection, and why (metrics). */
  http2Ended?: (reason: GuardEnd) => void;
}

/** One TCP port that speaks h2c and HTTP/1.1 (sniffed), or TLS with ALPN h2 and http/1.1. */
export interface Listener {
  readonly server: net.Server;
  readonly h2: http2.Http2Server | http2.Http2SecureServer;
  /** Resolves with the bound address once listening. */
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /**
   * Stops accepting, sends GOAWAY, waits up to `graceMs` for open calls; then, if any are left, calls
   * `graceOver` (which ends them), waits up to FINAL_FLUSH_MS for their last answers to go out, and
   * destroys what is left.
   */
  close(graceMs: number, graceOver?: () => void): Promise<void>;
  /** Open TCP connections right now. */
  connections(): number;
}

/** Classifies the first bytes of a cleartext connection: "h2", "http1", or "more" when undecided. */
export function sniff(bytes: Buffer): "h2" | "http1" | "more" {
  const n = Math.min(bytes.length, PREFACE.length);
  if (bytes.subarray(0, n).equals(PREFACE.subarray(0, n))) return n === PREFACE.length ? "h2" : "more";
  return "http1";
}

/** Creates the listener; nothing is bound until listen(). */
export function createListener(limits: Limits, tls: TlsOptions | undefined, handlers: ListenerHandlers, logger: Logger): Listener {
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  let closing = false;
  // Addresses whose connection was closed for a flood: their new connections are refused for a while.
  const cooldown = new AddressCooldown(limits.floodCooldownMs, logger);

  const h2opts: http2.ServerOptions = {
    // enableConnectProtocol: WebSockets over HTTP/2 streams (RFC 8441, src/ws/http2-connect.ts).
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes, enableConnectProtocol: true },
    maxSessionMemory: limits.http2MaxSessionMemoryMb,
    // nghttp2 counts the pseudo-headers too; a request has four (:method, :scheme, :authority, :path).
    maxHeaderListPairs: limits.maxHeaderCount + 4,
  };
  // TLS (when configured) is terminated before these servers: they get plain or TLS sockets alike.
  const h2 = http2.createServer(h2opts);
  h2.on("request", (req, res) => {
    if (req instanceof http2.Http2ServerRequest) req.stream.once("finish", () => drainUnreadBody(req, 2 * limits.maxMessageBytes));
    handlers.request(req, res);
  });
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    s.on("error", (err) => logger.debug({ err: err.message }, "http2 session error"));
    // Slowloris, idleness by open streams (not Node's activity timeout: PINGs would keep it open),
    // and floods of PING/SETTINGS/RST_STREAM.
    guardSession(s, limits, logger, (flooder) => cooldown.penalize(flooder.socket?.remoteAddress), handlers.http2Ended);
    if (closing) s.close();
  });
  h2.on("sessionError", (err) => logger.debug({ err: err.message }, "http2 session error"));
  interceptStreams(h2, handlers.stream, limits.maxHeaderBytes);

  const h1 = http.createServer({
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // A body left unread by an early answer is drained (small) or the connection closed (large).
    ServerResponse: unreadBodyResponse(limits.maxUnreadBodyBytes),
    maxHeaderSize: limits.maxHeaderBytes,
    // Node checks both timeouts only this often (30 s by default, which would triple a 10 s limit).
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  });
  // Node's parser keeps at most maxHeadersCount fields and drops the rest without a word: one more
  // than allowed tells a request over the limit, which gets 431 as HTTP/2 gets its reset.
  h1.maxHeadersCount = limits.maxHeaderCount + 1;
  const tooManyHeaders = (req: http.IncomingMessage) => req.rawHeaders.length > 2 * limits.maxHeaderCount;
  h1.on("request", (req, res) => {
    if (tooManyHeaders(req)) {
      res.shouldKeepAlive = false;
      res.writeHead(431, { "content-length": 0 }).end();
      return;
    }
    if (closing) res.shouldKeepAlive = false;
    toOriginForm(req);
    handlers.request(req, res);
  });
  // Node enforces headersTimeout and requestTimeout from a timer it starts on 'listening', which a
  // server fed through emit('connection') never sees: without this, slow requests were never cut.
  h1.emit("listening");
  h1.on("upgrade", upgrade);
  h1.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    // Malformed HTTP/1.1 gets a 400 (a slow request 408, too large headers 431) and a closed
    // connection; nothing else is affected.
    if (socket.writable && err.code !== "ECONNRESET") socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });

  let server: net.Server;
  if (tls) {
    // ALPN picks the server, as sniffing does on cleartext. Not http2.createSecureServer's
    // allowHTTP1: under load its HTTP/1.1 path left some requests unanswered (Connect conformance
    // suite, HTTP/1.1 over TLS), which plain https did not.
    const secure = tlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, ALPNProtocols: ["h2", "http/1.1"], handshakeTimeout: limits.headersTimeoutMs, noDelay: true }, (socket) => {
      track(socket);
      handlers.connection?.(socket, socket.alpnProtocol === "h2" ? "h2-tls" : "h1-tls");
      (socket.alpnProtocol === "h2" ? h2 : h1).emit("connection", socket);
    });
    secure.on("connection", (socket: net.Socket) => cooldown.refuse(socket));
    // A listener here takes over: without destroy() a handshake that times out leaves its socket open.
    secure.on("tlsClientError", (err, socket) => {
      logger.debug({ err: err.message }, "tls handshake failed");
      socket.destroy();
    });
    server = secure;
  } else {
    // noDelay as node:http and node:http2 servers set it (net's default is Nagle on): answers are
    // written as they are ready, not held for the ACK of the previous write (up to 40 ms with a
    // client's delayed ACK), which HTTP/2 frames and pipelined HTTP/1.1 answers would wait for.
    server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => {
      if (cooldown.refuse(socket)) return;
      track(socket);
      route(socket, h1);
    });
  }
  server.maxConnections = limits.maxConnections > 0 ? limits.maxConnections : Infinity as unknown as number;
  // Past maxConnections Node closes new sockets right after accepting them; logged at most once a second.
  let dropped = 0;
  let dropLogged = 0;
  server.on("drop", () => {
    dropped++;
    if (Date.now() - dropLogged < 1000) return;
    dropLogged = Date.now();
    logger.warn({ dropped, maxConnections: limits.maxConnections }, "connection limit reached; connections dropped");
    dropped = 0;
  });

  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  }

  function upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    toOriginForm(req);
    if (tooManyHeaders(req)) socket.end("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else if (closing || !handlers.upgrade(req, socket, head)) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    }
  }

  // Reads until the bytes either are the HTTP/2 preface or cannot become it, then hands the socket over.
  function route(socket: net.Socket, h1: http.Server) {
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const kind = sniff(seen);
      if (kind === "more") return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.pause();
      socket.unshift(seen);
      // http2 drains what was unshifted through socket.read() and then reads the handle itself;
      // the HTTP/1.1 parser listens for 'data', so its socket must flow again.
      handlers.connection?.(socket, kind === "h2" ? "h2" : "h1");
      if (kind === "h2") h2.emit("connection", socket);
      else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    const onEnd = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", () => clearTimeout(timer));
  }

  return {
    server,
    h2,
    connections: () => sockets.size,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as net.AddressInfo);
        });
      });
    },
    async close(graceMs, graceOver) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      h1.close(); // stops its timeout checker; its idle keep-alive sockets close now
      for (const s of sessions) s.close();
      // Until every connection is gone (HTTP/2 sessions close once their streams ended) or the time is up.
      const drain = async (until: number) => {
        while (sockets.size > 0 && Date.now() < until) {
          // Idle HTTP/1.1 keep-alive sockets have nothing in flight: close them now.
          for (const s of sockets) if (isIdleHttp1(s)) s.destroy();
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await drain(Date.now() + graceMs);
      if (sockets.size > 0 && graceOver) {
        // The calls still running are ended (with a status), and their answers get a moment to go out.
        graceOver();
        await drain(Date.now() + FINAL_FLUSH_MS);
      }
      for (const s of sockets) s.destroy();
      await stopped;
    },
  };
}

// A response that ends before the request body does (an early error, e.g. a message over the size
// limit) leaves the client blocked on flow control, sending a body nobody reads. The rest of the body
// is read and dropped so the client can finish its upload and see the response; a client that keeps
// sending past `maxDrain` bytes is stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1), but only once
// our END_STREAM (and so the trailers) is on the wire: nghttp2 sends a reset ahead of queued trailers.
function drainUnreadBody(req: http2.Http2ServerRequest, maxDrain: number) {
  const stream = req.stream;
  if (req.complete || stream.destroyed || stream.closed) return;
  let drained = 0;
  // Read the raw stream: the compatibility request was usually destroyed by a handler that stopped
  // reading, and its own data listener pauses the stream on every chunk it can no longer buffer.
  stream.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxDrain && stream.state.localClose === 1) {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    } else if (stream.isPaused()) stream.resume();
  });
  stream.resume();
}

// The status line for an HTTP/1.1 request Node's parser refused.
function clientErrorStatus(code: string | undefined): string {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "408 Request Timeout";
  if (code === "HPE_HEADER_OVERFLOW") return "431 Request Header Fields Too Large";
  return "400 Bad Request";
}

// Node's HTTP/1.1 server marks a socket with no request in flight through its parser state.
// An upgraded (WebSocket) socket has parser null: its owner closes it (Feature.close), not this.
function isIdleHttp1(socket: net.Socket): boolean {
  const s = socket as net.Socket & { _httpMessage?: unknown; parser?: unknown; session?: unknown };
  return s.parser != null && s._httpMessage == null;
}

// The compatibility API listens to 'stream' and emits 'request'. To run the fast path first without a
// second pass over every stream, the compat listener is taken off and called only for streams the
// fast path passes on.
function interceptStreams(h2: http2.Http2Server | http2.Http2SecureServer, fast: StreamHandler | undefined, maxHeaderBytes: number) {
  const compat = h2.listeners("stream") as ((...args: unknown[]) => void)[];
  h2.removeAllListeners("stream");
  const dispatch = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rest: unknown[]) => {
    if (fast?.(stream, headers)) return;
    for (const l of compat) l.call(h2, stream, headers, ...rest);
  };
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    // Node holds a header block to our SETTINGS_MAX_HEADER_LIST_SIZE only once the client has
    // acknowledged our SETTINGS: a request sent with the connection preface would pass whatever its
    // size. Those first streams are measured here, as HTTP/2 counts (RFC 9113 §6.5.2).
    if (stream.session?.pendingSettingsAck && headerListSize(rest[1]) > maxHeaderBytes) {
      stream.on("error", () => {});
      stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    // Floods and rapid resets: refused or held back by the guard (see h2-guard.ts admitStream).
    admitStream(stream, headers, rest, dispatch);
  });
}

/** The size of a header list as HTTP/2 counts it: each field's name and value plus 32 octets. */
function headerListSize(raw: unknown): number {
  if (!Array.isArray(raw)) return 0;
  let n = 0;
  for (let i = 0; i < raw.length; i++) n += Buffer.byteLength(String(raw[i])) + (i % 2 === 0 ? 32 : 0);
  return n;
}

/** Serves an absolute-form request target as its origin form (see originForm); the common "/..." costs one test. */
function toOriginForm(req: http.IncomingMessage): void {
  if (req.url !== undefined && req.url.charCodeAt(0) !== 47 /* "/" */) req.url = originForm(req.url);
}

/**
 * The origin form ("/v1/x?y") of an absolute-form request target ("http://host:port/v1/x?y", what a
 * client sends to a proxy), which a server must accept (RFC 9112 §3.2.2); anything else as it is.
 */
export function originForm(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  if (m === null) return url;
  const rest = url.slice(m[0].length);
  return rest === "" || rest[0] === "?" ? `/${rest}` : rest;
}
