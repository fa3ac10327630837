import type { DescMessage, MessageShape, Registry } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { OutgoingHttpHeaders } from "node:http2";
import { responseHeadersOf, writeResponseHeader, type CallContext, type Pipeline } from "../core/pipeline.js";
import type { RegisteredMethod } from "../core/registry.js";
import type { Exchange, RequestHead } from "./exchange.js";
import { clientError, codecOf, encodeGrpcMessage, envelope, nodeHeaders, singleEnvelope, tooLarge } from "./wire.js";

/** What the fast path needs from the server. */
export interface RpcEnv {
  readonly pipeline: Pipeline;
  /** Largest message a client may send. */
  readonly maxBytes: number;
  /** Largest message the server sends. */
  readonly maxSendBytes: number;
  /** Every registered message type, for JSON with google.protobuf.Any. */
  readonly types: Registry;
}

/** A gRPC or gRPC-Web request the fast path takes. */
export interface GrpcType {
  web: boolean;
  binary: boolean;
}

// connect-es's content-type rules, without grpc-web-text (left to connect-node).
const contentTypeRe = /^application\/grpc(-web)?(?:\+(?:(json)(?:; ?charset=utf-?8)?|proto))?$/i;
const trailerFlag = 0x80;
const okWebTrailer = envelope(trailerFlag, Buffer.from("grpc-status: 0\r\n"));
const responseType = ["application/grpc+json", "application/grpc+proto", "application/grpc-web+json", "application/grpc-web+proto"];

/**
 * Whether the fast path serves this request (from headers only, before any body is read); anything
 * else (client/bidi streams, compression, grpc-web-text, gRPC over HTTP/1.1) goes to connect-node.
 */
export function acceptGrpc(m: RegisteredMethod, ex: RequestHead): GrpcType | undefined {
  if (m.spec.kind !== "unary" && m.spec.kind !== "server_streaming") return undefined;
  if (ex.method !== "POST") return undefined;
  const match = contentTypeRe.exec(ex.headers["content-type"] ?? "");
  if (match === null) return undefined;
  const web = match[1] !== undefined;
  if (!web && ex.httpVersion !== "2.0") return undefined;
  const enc = ex.headers["grpc-encoding"];
  if (enc !== undefined && enc !== "identity") return undefined;
  return { web, binary: match[2] === undefined };
}

/** Serves one unary or server-streaming gRPC / gRPC-Web call accepted by acceptGrpc. */
export function serveGrpc(env: RpcEnv, m: RegisteredMethod, ex: Exchange, type: GrpcType): void {
  const timeout = parseTimeout((ex.headers["grpc-timeout"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
  const ctx = env.pipeline.context(m, {
    protocol: type.web ? "grpc-web" : "grpc",
    requestMethod: "POST",
    url: ex.url(),
    nodeHeaders: ex.headers,
    timeoutMs: timeout.timeoutMs,
  });
  ex.onAbort((reason) => ctx.abort(reason));
  const reply = new Reply(ex, ctx, type);
  if (timeout.error) return reply.finish(timeout.error);
  const max = env.maxBytes;
  const kind = m.spec.kind === "unary" ? "unary" : "server-streaming";
  ex.read(max + 5, (body, over) => {
    const data = over ? overLimit(body, max, kind) : singleEnvelope(body, max, kind);
    if (data instanceof ConnectError) return reply.finish(data);
    const codec = codecOf(m, max, env.maxSendBytes, env.types);
    let input: MessageShape<DescMessage>;
    try {
      input = codec.parse(type.binary, data);
    } catch (e) {
      return reply.finish(clientError(e));
    }
    if (m.spec.kind === "unary") {
      env.pipeline.unary(m, ctx, input).then(
        (out) => {
          let bytes: Uint8Array;
          try {
            bytes = codec.serialize(type.binary, out);
          } catch (e) {
            return reply.finish(clientError(e));
          }
          reply.finish(undefined, bytes);
        },
        (e) => reply.finish(clientError(e)),
      );
    } else {
      void streamOut(env, m, ctx, input, reply);
    }
  });
}

// A body over the limit is either one oversized message or more than one message.
function overLimit(body: Buffer, max: number, kind: string): ConnectError {
  const len = body.length >= 5 ? body.readUInt32BE(1) : 0;
  if (len > max) return tooLarge(len, max);
  const r = singleEnvelope(body.subarray(0, 5 + len), max, kind);
  return r instanceof ConnectError ? r : tooLarge(undefined, max);
}

async function streamOut(env: RpcEnv, m: RegisteredMethod, ctx: HandlerContext, input: MessageShape<DescMessage>, reply: Reply) {
  const codec = codecOf(m, env.maxBytes, env.maxSendBytes, env.types);
  const it = env.pipeline.stream(m, ctx, createAsyncIterable([input]))[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      await reply.message(codec.serialize(reply.type.binary, r.value));
      if (reply.ex.closed) {
        await it.return?.();
        return;
      }
    }
    reply.finish();
  } catch (e) {
    reply.finish(clientError(e));
  }
}

/** Writes one gRPC / gRPC-Web response: headers once, messages, then the status trailer. */
class Reply {
  private started = false;

  constructor(
    readonly ex: Exchange,
    private readonly ctx: CallContext,
    readonly type: GrpcType,
  ) {}

  private headers(): OutgoingHttpHeaders {
    const h: OutgoingHttpHeaders = { "content-type": responseType[(this.type.web ? 2 : 0) + (this.type.binary ? 1 : 0)] };
    return writeResponseHeader(this.ctx, h);
  }

  /** Sends one message (headers first, after the implementation had its chance to set them). */
  message(bytes: Uint8Array): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.ex.start(200, this.headers(), !this.type.web);
    }
    return this.ex.write(envelope(0, bytes));
  }

  /** Ends the call with OK (optionally with the single unary response) or with an error. */
  finish(error?: ConnectError, bytes?: Uint8Array): void {
    const ctx = this.ctx;
    const trailer = this.trailer(error);
    if (this.type.web) {
      const t = trailer === undefined ? okWebTrailer : envelope(trailerFlag, trailerText(trailer));
      const body = bytes === undefined ? t : Buffer.concat([envelope(0, bytes), t]);
      if (this.started) this.ex.end(body);
      else this.ex.send(200, this.headers(), body);
    } else {
      const t = trailer === undefined ? { "grpc-status": "0" } : nodeHeaders(trailer);
      if (this.started) this.ex.end(undefined, t);
      else this.ex.send(200, this.headers(), bytes === undefined ? undefined : envelope(0, bytes), t);
    }
    ctx.abort(error);
  }

  // The trailer as connect-node builds it, or undefined for the common "grpc-status: 0" alone.
  private trailer(error: ConnectError | undefined): Headers | undefined {
    const t = responseHeadersOf(this.ctx, "trailer");
    if (error === undefined) {
      if (t === undefined || isEmpty(t)) return undefined;
      const h = new Headers(t);
      h.set("grpc-status", "0");
      return h;
    }
    const h = setTrailerStatus(new Headers(t), error);
    if (error.rawMessage !== "") h.set("grpc-message", encodeGrpcMessage(error.rawMessage));
    return h;
  }
}

function trailerText(t: Headers): Buffer {
  const b = trailerSerialize(t);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function isEmpty(h: Headers): boolean {
  let empty = true;
  h.forEach(() => (empty = false));
  return empty;
}
