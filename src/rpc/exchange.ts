import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { constants as h2c, sensitiveHeaders } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { clientWentAway } from "../core/errors.js";
import type { NodeRequest, NodeResponse } from "../http/types.js";

/** What is known of a request before its body is read: enough to decide who serves it. */
export interface RequestHead {
  readonly method: string;
  /** Path and query as sent ("/pkg.Service/Method?x=y"). */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  /** "1.1" or "2.0". */
  readonly httpVersion: string;
}

/**
 * One HTTP request/response as the fast path sees it, over either a raw HTTP/2 stream or the
 * HTTP/1.1 (compat) request/response pair. Protocol code is written once against this.
 */
export interface Exchange extends RequestHead {
  /** The absolute URL, as connect-node reports it in the HandlerContext. */
  url(): string;
  /**
   * Collects the request body. Stops reading once more than `limit` bytes arrived and reports
   * `tooLarge` with what it has so far (the caller builds the protocol's error from it).
   */
  read(limit: number, done: (body: Buffer, tooLarge: boolean) => void): void;
  /** Called once if the client goes away (reset, closed connection) before the response ended. */
  onAbort(cb: (reason: ConnectError) => void): void;
  /** Sends the whole response at once: headers, body, and (HTTP/2 only) trailers. */
  send(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined, trailers?: OutgoingHttpHeaders): void;
  /**
   * Starts a streamed response: headers now, body chunks with write(), then end(). `withTrailers`
   * says the response will end with HTTP trailers (HTTP/2 streams are always ready for them).
   */
  start(status: number, headers: OutgoingHttpHeaders, withTrailers: boolean): void;
  /** Writes a body chunk; resolves when it may write more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Ends a streamed response, with trailers when start() asked for them. */
  end(chunk?: Buffer, trailers?: OutgoingHttpHeaders): void;
  /** True once the client went away or the response ended. */
  readonly closed: boolean;
}

/**
 * The error a handler sees when the client resets the stream. Whatever the code, the client left
 * (connect-node's client resets with INTERNAL_ERROR when its own deadline fires): CANCELED, as
 * grpc-go's server cancels the stream's context on any RST_STREAM, so logs and metrics do not
 * count a client that gave up as an internal error. The code stays in the message.
 */
// RFC 9113 §7's error code names (node:http2's constants also hold flags and settings under the same
// NGHTTP2_ prefix: 0x8 is FLAG_PADDED as well as CANCEL).
const RST_CODES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"];

export function errorFromRstCode(code: number): ConnectError {
  if (code === h2c.NGHTTP2_NO_ERROR) return clientWentAway();
  const name = RST_CODES[code] ?? "UNKNOWN";
  return new ConnectError(`the client reset the stream with error code ${name} (0x${code.toString(16)})`, Code.Canceled);
}

function noop() {}

// A header whose value differs in every response: sent without HPACK indexing (RFC 7541 §6.2.2).
// Indexed, each response's id entered the connection's header table and pushed out the entries that
// repeat (content-type, ...), so those were sent as literals again: ~2 µs of HPACK work per call.
const unindexed = ["x-request-id"];

/** Marks the per-response headers of an HTTP/2 response as not to be indexed. */
function headerFields(status: number, headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  headers[":status"] = status;
  if (headers["x-request-id"] !== undefined) (headers as Record<symbol, unknown>)[sensitiveHeaders] = unindexed;
  return headers;
}

/** Gathers a request body up to a limit; reports once, either at the end or when over the limit. */
class Collector {
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private over = false;

  constructor(
    private readonly limit: number,
    private readonly done: (body: Buffer, tooLarge: boolean) => void,
  ) {}

  push(c: Buffer): void {
    if (this.over) return;
    this.size += c.length;
    if (this.first === undefined) this.first = c;
    else (this.chunks ??= [this.first]).push(c);
    if (this.size > this.limit) {
      this.over = true;
      this.done(this.body(), true);
    }
  }

  end(): void {
    if (!this.over) this.done(this.body(), false);
  }

  private body(): Buffer {
    return this.chunks ? Buffer.concat(this.chunks, this.size) : (this.first ?? Buffer.alloc(0));
  }
}

/** An Exchange over a raw HTTP/2 server stream (no compat objects are created). */
export class StreamExchange implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly httpVersion = "2.0";
  private trailers: OutgoingHttpHeaders | undefined;
  private ended = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    private readonly scheme: string,
  ) {
    this.method = headers[":method"] ?? "";
    this.target = headers[":path"] ?? "/";
    // A reset stream emits 'error'; without a listener that would crash the process.
    stream.on("error", noop);
  }

  get closed(): boolean {
    return this.ended || this.stream.destroyed || this.stream.closed;
  }

  url(): string {
    return `${this.scheme}://${this.headers[":authority"] ?? this.headers.host ?? "localhost"}${this.target}`;
  }

  read(limit: number, done: (body: Buffer, tooLarge: boolean) => void): void {
    // Inline listeners and no off(): over the limit, the rest flows by and is dropped. (Named closures
    // would cost an Object.defineProperty each under tsx's keepNames.) on() rather than once() here
    // and below: 'end' and 'close' fire at most once, and once() makes a bound wrapper per call
    // (with h2-guard's two, ~4.6% of a Connect call's CPU over HTTP/2, paired runs).
    const c = new Collector(limit, done);
    // Ended before anyone read it (a bodyless request whose handler started late): nothing to read.
    if (this.stream.readableEnded) return c.end();
    this.stream.on("data", (chunk: Buffer) => c.push(chunk));
    this.stream.on("end", () => c.end());
  }

  onAbort(cb: (reason: ConnectError) => void): void {
    this.stream.on("close", () => {
      if (!this.ended) cb(errorFromRstCode(this.stream.rstCode ?? h2c.NGHTTP2_NO_ERROR));
    });
  }

  send(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined, trailers?: OutgoingHttpHeaders): void {
    if (trailers !== undefined) {
      this.start(status, headers);
      return this.end(body, trailers);
    }
    // No trailers (Connect and gRPC-Web unary): the body's DATA frame ends the stream. Node then
    // destroys the stream before the body's write callback and builds (and drops) an
    // ERR_STREAM_DESTROYED per response, ~7 µs; waiting for trailers instead costs an extra empty
    // DATA frame, measured ~10 µs more per call (raw node:http2 handler, h2load, 6 interleaved rounds).
    if (this.closed) return;
    this.stream.respond(headerFields(status, headers));
    this.end(body);
  }

  start(status: number, headers: OutgoingHttpHeaders): void {
    const s = this.stream;
    if (this.closed) return;
    headerFields(status, headers);
    // waitForTrailers: trailers go out in the same flush as the last DATA frame. Empty trailers are
    // sent as an empty DATA frame with END_STREAM, not as a HEADERS frame.
    s.respond(headers, { waitForTrailers: true });
    s.once("wantTrailers", () => {
      if (!s.destroyed) s.sendTrailers(this.trailers ?? {});
    });
  }

  write(chunk: Buffer): Promise<void> {
    const s = this.stream;
    if (this.closed) return Promise.resolve();
    if (s.write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const go = () => {
        s.off("drain", go);
        s.off("close", go);
        resolve();
      };
      s.on("drain", go);
      s.on("close", go);
    });
  }

  end(chunk?: Buffer, trailers?: OutgoingHttpHeaders): void {
    if (this.closed) return;
    this.trailers = trailers;
    this.ended = true;
    if (chunk !== undefined) this.stream.end(chunk);
    else this.stream.end();
    // A request body the handler did not read (an early error) must not hold the stream open.
    if (this.stream.readable) this.stream.resume();
  }
}

/** An Exchange over Node's request/response pair (HTTP/1.1, or HTTP/2 compat as a fallback). */
export class CompatExchange implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  private ended = false;

  constructor(
    private readonly req: NodeRequest,
    private readonly res: NodeResponse,
    private readonly scheme: string,
  ) {
    this.method = req.method ?? "";
    this.target = req.url ?? "/";
    this.headers = req.headers;
    this.httpVersion = req.httpVersion;
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  url(): string {
    const authority = "authority" in this.req ? this.req.authority : this.req.headers.host;
    return `${this.scheme}://${authority ?? "localhost"}${this.target}`;
  }

  read(limit: number, done: (body: Buffer, tooLarge: boolean) => void): void {
    const c = new Collector(limit, done);
    this.req.on("data", (chunk: Buffer) => c.push(chunk));
    this.req.on("end", () => c.end());
    this.req.on("error", noop);
  }

  onAbort(cb: (reason: ConnectError) => void): void {
    // The request emits 'close' once its body is read; only the response's close means the client left.
    this.res.on("close", () => {
      if (!this.ended) cb(clientWentAway());
    });
  }

  send(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined, trailers?: OutgoingHttpHeaders): void {
    if (this.closed) return;
    this.ended = true;
    if (trailers === undefined) headers["content-length"] = body?.length ?? 0;
    // writeHead merges what earlier features (CORS) set with setHeader.
    (this.res as import("node:http").ServerResponse).writeHead(status, headers);
    if (trailers !== undefined) this.res.addTrailers(trailers as Record<string, string>);
    if (body !== undefined) this.res.end(body);
    else this.res.end();
  }

  start(status: number, headers: OutgoingHttpHeaders): void {
    if (this.closed) return;
    (this.res as import("node:http").ServerResponse).writeHead(status, headers);
  }

  write(chunk: Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    if ((this.res as import("node:http").ServerResponse).write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const go = () => {
        this.res.off("drain", go);
        this.res.off("close", go);
        resolve();
      };
      this.res.on("drain", go);
      this.res.on("close", go);
    });
  }

  end(chunk?: Buffer, trailers?: OutgoingHttpHeaders): void {
    if (this.closed) return;
    this.ended = true;
    if (trailers) this.res.addTrailers(trailers as Record<string, string>);
    if (chunk !== undefined) this.res.end(chunk);
    else this.res.end();
  }
}
