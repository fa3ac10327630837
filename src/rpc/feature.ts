import { createRegistry } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { h2StreamKey } from "../core/errors.js";
import type { RegisteredMethod } from "../core/registry.js";
import { pathOf } from "../http/dispatcher.js";
import type { NodeRequest, NodeResponse } from "../http/types.js";
import type { Feature, ServerContext } from "../server.js";
import { acceptConnect, getAllowed, serveConnect } from "./connect.js";
import { CompatExchange, StreamExchange, type RequestHead } from "./exchange.js";
import { acceptGrpc, serveGrpc, type RpcEnv } from "./grpc.js";
import { encodeGrpcMessage } from "./wire.js";

/**
 * gRPC, gRPC-Web and Connect for every registered method. Unary and server-streaming calls in the
 * common shapes take the fast path (raw HTTP/2 stream or HTTP/1.1 request, straight into the shared
 * Pipeline); everything else (client and bidi streams, compression, grpc-web-text, odd requests
 * that connect-node answers with 405/415) is served by connect-node's universal handler.
 */
export function rpcFeature(ctx: ServerContext): Feature {
  const { limits } = ctx.options;
  // JSON needs every registered type to write google.protobuf.Any fields (connect-node's default has none).
  const types = createRegistry(...ctx.registry.files());
  const adapter = connectNodeAdapter({
    jsonOptions: { registry: types },
    routes: (router) => {
      for (const r of ctx.registry.registrations()) router.service(r.service, r.impl);
    },
    interceptors: ctx.pipeline.interceptors,
    // The error guard reads the HTTP/2 stream's `aborted` to count a client's reset as a cancel.
    contextValues: (req) => {
      const values = createContextValues();
      if ("stream" in req) values.set(h2StreamKey, req.stream);
      return values;
    },
    readMaxBytes: limits.maxMessageBytes,
    writeMaxBytes: limits.maxSendMessageBytes,
    // connect-node would reject a deadline over its maxTimeoutMs (and 0 would reject every deadline);
    // the Pipeline caps instead, so connect-node is left to accept any.
    shutdownSignal: ctx.shutdownSignal,
  });
  const env: RpcEnv = { pipeline: ctx.pipeline, maxBytes: limits.maxMessageBytes, maxSendBytes: limits.maxSendMessageBytes, types };
  const scheme = ctx.options.tls ? "https" : "http";

  // Decides from the request head alone; the exchange is only built for requests the fast path takes.
  function fast(m: RegisteredMethod, head: RequestHead, exchange: () => StreamExchange | CompatExchange): boolean {
    const ct = head.headers["content-type"];
    if (ct !== undefined && ct.startsWith("application/grpc")) {
      const t = acceptGrpc(m, head);
      if (t === undefined) return false;
      serveGrpc(env, m, exchange(), t);
      return true;
    }
    const c = acceptConnect(m, head);
    if (c === undefined) return false;
    serveConnect(env, m, exchange(), c);
    return true;
  }

  return {
    name: "rpc",
    stream(stream, headers) {
      const target = headers[":path"] ?? "/";
      // Browser requests (with Origin) take the compat path, where the CORS feature sees them first.
      if (headers.origin !== undefined) return false;
      const m = ctx.registry.lookup(pathOf(target));
      if (m === undefined) return false;
      const head: RequestHead = { method: headers[":method"] ?? "", target, headers, httpVersion: "2.0" };
      return fast(m, head, () => new StreamExchange(stream, headers, scheme));
    },
    http(req, res) {
      const m = ctx.registry.lookup(pathOf(req.url));
      if (m === undefined) return false;
      const head: RequestHead = { method: req.method ?? "", target: req.url ?? "/", headers: req.headers, httpVersion: req.httpVersion };
      if (fast(m, head, () => new CompatExchange(req, res, scheme))) return true;
      // connect-node answers another method with a bare 405; RFC 9110 §15.5.6 asks for Allow (connect-go sends it).
      if (req.method !== "POST" && !(req.method === "GET" && getAllowed(m))) {
        (res as import("node:http").ServerResponse).writeHead(405, { allow: getAllowed(m) ? "POST, GET" : "POST", "content-length": 0 });
        res.end();
        return true;
      }
      // connect-node builds the call's URL from the Host header and throws on one that is no host
      // (found by test/fuzz/tcp.test.ts); RFC 9112 §3.2 asks for a 400, given here in the caller's protocol.
      if (!URL.canParse(`${scheme}://${("authority" in req ? req.authority : req.headers.host) ?? ""}`)) return refuse(req, res, "invalid Host header"), true;
      // Its query decoding runs before any interceptor and makes bad base64 an INTERNAL error (500).
      if (req.method === "GET" && !validBase64Message(req.url)) return refuse(req, res, 'the "message" query parameter is not valid base64'), true;
      // connect-node's pending write waits for "drain" or "error" only, so a server stream whose
      // client stopped reading and then left would wait forever, and so would its implementation.
      // When the response closes, the "drain" wakes the write, which fails on the closed response and
      // makes connect-node end the implementation. HTTP/2 in Node 20: a client that reset the stream
      // with NO_ERROR emits "aborted" on the request but never "close" on the response, so the
      // response is destroyed (and so closed) then.
      res.once("close", () => res.emit("drain"));
      if (req.httpVersion === "2.0") req.once("aborted", () => res.destroy());
      if (isGrpc(req.headers["content-type"])) specGrpcMessage(res);
      adapter(req, res);
      return true;
    },
  };
}

// gRPC proper (not gRPC-Web, whose trailers travel in the body and whose clients decode them fully).
const isGrpc = (ct: string | undefined) => ct !== undefined && ct.startsWith("application/grpc") && !ct.startsWith("application/grpc-web");

/**
 * connect percent-encodes grpc-message with encodeURIComponent, ":" and "{" too; grpc-js decodes
 * with decodeURI, which leaves "%3A" in the text its users see. The fast path encodes as the gRPC
 * spec says (encodeGrpcMessage: only "%" and bytes outside 0x20-0x7E); the calls connect-node serves
 * get the same text: its grpc-message is re-encoded where it writes it (the headers of a
 * trailers-only answer, or the trailers).
 */
function specGrpcMessage(res: NodeResponse): void {
  const r = res as unknown as { writeHead(status: number, ...rest: unknown[]): unknown; addTrailers(headers: unknown): void };
  const writeHead = r.writeHead;
  const addTrailers = r.addTrailers;
  // writeHead(status), (status, headers) or (status, reason, headers).
  r.writeHead = function (status: number, ...rest: unknown[]) {
    if (rest.length > 0) rest[rest.length - 1] = respec(rest[rest.length - 1]);
    return writeHead.call(this, status, ...rest);
  };
  r.addTrailers = function (headers: unknown) {
    addTrailers.call(this, respec(headers));
  };
}

function respec(headers: unknown): unknown {
  const h = headers as Record<string, unknown> | undefined;
  const m = h?.["grpc-message"];
  if (typeof m !== "string") return headers;
  try {
    h!["grpc-message"] = encodeGrpcMessage(decodeURIComponent(m));
  } catch {
    // not connect's encoding: left as it is
  }
  return headers;
}

/** Answers a request connect-node would fail on with 400, in a form every RPC client reads. */
function refuse(req: NodeRequest, res: NodeResponse, message: string): void {
  const body = JSON.stringify({ code: "invalid_argument", message });
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" };
  // gRPC and gRPC-Web clients read the status from headers in a trailers-only answer.
  if (String(req.headers["content-type"] ?? "").startsWith("application/grpc")) Object.assign(headers, { "grpc-status": "3", "grpc-message": encodeGrpcMessage(message) });
  if (req.httpVersion === "2.0") delete headers.connection;
  (res as import("node:http").ServerResponse).writeHead(400, headers);
  res.end(body);
}

// Whether a Connect GET's "message" decodes, when the query says it is base64.
function validBase64Message(url: string | undefined): boolean {
  const q = url?.indexOf("?") ?? -1;
  if (q < 0) return true;
  const query = new URLSearchParams(url!.slice(q + 1));
  if (query.get("base64") !== "1") return true;
  try {
    base64Decode(query.get("message") ?? "");
    return true;
  } catch {
    return false;
  }
}
