import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout } from "@connectrpc/connect/protocol-connect";
import type { OutgoingHttpHeaders } from "node:http2";
import { responseHeadersOf, writeResponseHeader, type CallContext } from "../core/pipeline.js";
import type { RegisteredMethod } from "../core/registry.js";
import type { Exchange, RequestHead } from "./exchange.js";
import type { RpcEnv } from "./grpc.js";
import { clientError, codecOf, nodeHeaders, tooLarge } from "./wire.js";

/** A Connect unary request the fast path takes. */
export interface ConnectType {
  binary: boolean;
  /** The query of a GET request (message, base64, ...); undefined for POST. */
  query?: URLSearchParams;
}

// connect-es's unary content types (streaming ones start with application/connect+).
const unaryTypeRe = /^application\/(?:json(?:; ?charset=utf-?8)?|(proto))$/i;
const textEncoder = new TextEncoder();

/** Whether Connect lets a client call this method with GET: a unary method without side effects. */
export function getAllowed(m: RegisteredMethod): boolean {
  return m.spec.kind === "unary" && m.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

/**
 * Whether the fast path serves this Connect unary request, from headers only; compressed requests,
 * streams and anything connect-node answers with 405/415 go to connect-node.
 */
export function acceptConnect(m: RegisteredMethod, ex: RequestHead): ConnectType | undefined {
  if (m.spec.kind !== "unary") return undefined;
  if (ex.method === "POST") {
    const match = unaryTypeRe.exec(ex.headers["content-type"] ?? "");
    if (match === null) return undefined;
    const enc = ex.headers["content-encoding"];
    if (enc !== undefined && enc !== "identity") return undefined;
    return { binary: match[1] !== undefined };
  }
  if (ex.method === "GET" && getAllowed(m)) {
    const q = ex.target.indexOf("?");
    const query = new URLSearchParams(q < 0 ? "" : ex.target.slice(q + 1));
    const encoding = query.get("encoding");
    if (encoding !== "json" && encoding !== "proto") return undefined;
    const comp = query.get("compression");
    if (comp !== null && comp !== "identity") return undefined;
    return { binary: encoding === "proto", query };
  }
  return undefined;
}

/** Serves one Connect unary call accepted by acceptConnect, with connect-node's rules. */
export function serveConnect(env: RpcEnv, m: RegisteredMethod, ex: Exchange, type: ConnectType): void {
  const timeout = parseTimeout((ex.headers["connect-timeout-ms"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
  const ctx = env.pipeline.context(m, {
    protocol: "connect",
    requestMethod: ex.method,
    url: ex.url(),
    nodeHeaders: ex.headers,
    timeoutMs: timeout.timeoutMs,
  });
  const call = new ConnectCall(env, m, ex, type, ctx);
  ex.onAbort((reason) => ctx.abort(reason));
  if (timeout.error) return call.fail(timeout.error);
  if (type.query) {
    const message = type.query.get("message") ?? "";
    let bytes: Uint8Array;
    try {
      bytes = type.query.get("base64") === "1" ? base64Decode(message) : textEncoder.encode(message);
    } catch {
      // base64Decode throws a plain Error, which would reach the client as INTERNAL (a 500).
      return call.fail(new ConnectError('the "message" query parameter is not valid base64', Code.InvalidArgument));
    }
    return call.run(bytes);
  }
  const max = env.maxBytes;
  const hint = lengthHint(ex.headers["content-length"]);
  if (hint !== undefined && hint > max) return call.fail(tooLarge(hint, max));
  ex.read(max, (body, over) => {
    if (over) return call.fail(tooLarge(undefined, max));
    if (hint !== undefined && body.length !== hint) {
      return call.fail(new ConnectError(`protocol error: promised ${hint} bytes, received ${body.length}`, Code.InvalidArgument));
    }
    call.run(body);
  });
}

/** One Connect unary call from decoded request bytes to the response. */
class ConnectCall {
  constructor(
    private readonly env: RpcEnv,
    private readonly m: RegisteredMethod,
    private readonly ex: Exchange,
    private readonly type: ConnectType,
    private readonly ctx: CallContext,
  ) {}

  run(bytes: Uint8Array): void {
    const codec = codecOf(this.m, this.env.maxBytes, this.env.maxSendBytes, this.env.types);
    let input: MessageShape<DescMessage>;
    try {
      input = codec.parse(this.type.binary, bytes);
    } catch (e) {
      return this.fail(e);
    }
    this.env.pipeline.unary(this.m, this.ctx, input).then(
      (out) => this.succeed(out),
      (e) => this.fail(e),
    );
  }

  private succeed(out: MessageShape<DescMessage>): void {
    let body: Uint8Array;
    try {
      body = codecOf(this.m, this.env.maxBytes, this.env.maxSendBytes, this.env.types).serialize(this.type.binary, out);
    } catch (e) {
      return this.fail(e);
    }
    const headers: OutgoingHttpHeaders = { "content-type": this.type.binary ? "application/proto" : "application/json" };
    writeResponseHeader(this.ctx, headers);
    this.respond(200, headers, body);
    this.ctx.abort();
  }

  /** Answers with connect-node's error JSON, HTTP status from the code table, metadata as headers. */
  fail(e: unknown): void {
    const err = clientError(e);
    this.ctx.abort(err);
    const headers = writeResponseHeader(this.ctx, {});
    headers["content-type"] = "application/json";
    nodeHeaders(err.metadata, headers);
    this.respond(codeToHttpStatus(err.code), headers, errorToJsonBytes(err, { registry: this.env.types }));
  }

  // Unary Connect sends trailers as "trailer-" headers; the body length is always known.
  private respond(status: number, headers: OutgoingHttpHeaders, body: Uint8Array): void {
    const t = responseHeadersOf(this.ctx, "trailer");
    if (t !== undefined) nodeHeaders(t, headers, "trailer-");
    headers["content-length"] = body.byteLength;
    this.ex.send(status, headers, Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  }
}

function lengthHint(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
