import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { UpgradeHandler, StreamHandler } from "../http/types.js";
import type { Feature } from "../server.js";

// WebSocket over HTTP/2 (RFC 8441). A browser that speaks h2 to the server opens its WebSocket as a
// stream of that connection: `CONNECT` with `:protocol: websocket` instead of an HTTP/1.1 GET with
// `Upgrade`. After the opening handshake the stream carries the same WebSocket frames as a TCP socket
// would. So the handshake is translated here, and the bridge's own upgrade handler serves the result
// unchanged: the same path, origin, capacity and subprotocol checks, the same sessions, limits and
// shutdown, whichever HTTP version the browser chose. (The listener must advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL; see src/http/listener.ts.)

/** The RFC 8441 feature: hands extended CONNECT streams to `upgrade` (the HTTP/1.1 upgrade handlers). */
export function http2WebSocketFeature(upgrade: UpgradeHandler, logger?: Logger): Feature {
  return { name: "ws-h2", stream: http2ConnectHandler(upgrade, logger) };
}

/** Takes `CONNECT` + `:protocol: websocket` streams; every other stream passes on untouched. */
export function http2ConnectHandler(upgrade: UpgradeHandler, logger?: Logger): StreamHandler {
  return (stream, headers) => {
    if (headers[":method"] !== "CONNECT" || headers[":protocol"] !== "websocket") return false;
    logger?.debug({ path: headers[":path"], origin: headers.origin, httpVersion: "2" }, "websocket over http/2 (extended CONNECT)");
    const socket = new Http2WebSocketStream(stream);
    if (!upgrade(upgradeRequest(headers, socket), socket, Buffer.alloc(0))) {
      stream.respond({ ":status": 404, "content-type": "application/json" });
      stream.end(JSON.stringify({ code: "not_found", message: `no WebSocket endpoint at ${headers[":path"] ?? "/"}` }));
    }
    return true;
  };
}

/** RFC 8441 §5 in reverse: the HTTP/1.1 upgrade request an extended CONNECT stands for (pure). */
export function upgradeHeaders(h2: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h2)) if (!k.startsWith(":") && v !== undefined) out[k] = v;
  out.host = h2[":authority"] ?? h2.host;
  out.upgrade = "websocket";
  out.connection = "Upgrade";
  // HTTP/2 has no key/accept exchange (the stream itself proves the server understood); the
  // HTTP/1.1 machinery wants a key, and its accept value is dropped again in the response.
  out["sec-websocket-key"] = randomBytes(16).toString("base64");
  out["sec-websocket-version"] ??= "13";
  return out;
}

function upgradeRequest(headers: IncomingHttpHeaders, socket: Http2WebSocketStream): IncomingMessage {
  // Only what upgrade handlers and ws's handleUpgrade read; the rest of IncomingMessage has no
  // meaning for a stream.
  const req = { method: "GET", url: headers[":path"] ?? "/", headers: upgradeHeaders(headers), httpVersion: "2.0", socket };
  return req as unknown as IncomingMessage;
}

/** Response header names that belong to the HTTP/1.1 handshake only. */
const h1Only = new Set(["connection", "upgrade", "sec-websocket-accept", "transfer-encoding", "keep-alive"]);

/** Parses an HTTP/1.1 response head ("HTTP/1.1 101 ...\r\nName: value...") (pure). */
export function parseResponseHead(text: string): { status: number; headers: Record<string, string> } {
  const [statusLine, ...lines] = text.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 500);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!h1Only.has(name)) headers[name] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

/**
 * An HTTP/2 stream dressed as the socket of an HTTP/1.1 upgrade: the response head written to it
 * becomes the stream's HEADERS (101 becomes 200, RFC 8441 §5), everything after is DATA both ways.
 */
export class Http2WebSocketStream extends Duplex {
  /** True over TLS, as on a TLSSocket. */
  readonly encrypted: boolean;
  private head: Buffer | undefined = Buffer.alloc(0);

  constructor(private readonly stream: ServerHttp2Stream) {
    super({ allowHalfOpen: false });
    this.encrypted = (stream.session?.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    stream.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    stream.on("end", () => this.push(null));
    stream.on("error", (err) => this.destroy(err));
    stream.on("close", () => this.destroy());
  }

  /** The peer's address (of the HTTP/2 connection). */
  get remoteAddress(): string | undefined {
    return this.stream.session?.socket?.remoteAddress;
  }

  /** Stream timeouts, as on a net.Socket (ws turns them off). */
  setTimeout(ms: number, cb?: () => void): this {
    this.stream.setTimeout(ms, cb);
    return this;
  }

  /** No-op: Nagle is the HTTP/2 connection's business. */
  setNoDelay(): this {
    return this;
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.head === undefined) {
      this.stream.write(chunk, cb);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf("\r\n\r\n");
    if (end < 0) return cb();
    const { status, headers } = parseResponseHead(this.head.subarray(0, end).toString("latin1"));
    const rest = this.head.subarray(end + 4);
    this.head = undefined;
    if (this.stream.destroyed || this.stream.headersSent) return cb(new Error("the HTTP/2 stream is gone"));
    this.stream.respond({ ...headers, ":status": status === 101 ? 200 : status });
    if (rest.length > 0) this.stream.write(rest, cb);
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.stream.destroyed) this.stream.close(err ? constants.NGHTTP2_INTERNAL_ERROR : constants.NGHTTP2_NO_ERROR);
    cb(err);
  }
}
