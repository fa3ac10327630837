import type { IncomingHttpHeaders } from "node:http";
import { createRegistry, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { peekResponseHeaders, type CallContext } from "../core/pipeline.js";
import type { Feature, ServerContext } from "../server.js";
import type { NodeRequest, NodeResponse } from "../http/types.js";
import { RestError } from "./errors.js";
import { callResponseHeaders, headerAllowlist, parseTimeout, requestMetadata, TRAILER_PREFIX } from "./headers.js";
import { headOfStream, withHead } from "./head.js";
import { splitPath, type SplitPath } from "./path.js";
import { readBody } from "./read-body.js";
import { renderError, renderMessage } from "./render.js";
import { decodeRequest, type RawBody } from "./request.js";
import { restRoutes, type RestRoute } from "./routes.js";
import { streamFormat, writeStream } from "./stream.js";

/**
 * REST transcoding of google.api.http routes, in-process: every call goes through the same
 * Pipeline (interceptors, deadlines, error sanitizing) as gRPC and Connect.
 */
export function restFeature(ctx: ServerContext): Feature {
  const { rest, limits } = ctx.options;
  if (!rest.enabled) return { name: "rest" };
  const { trie } = restRoutes(ctx.registry);
  // The registered files, plus google.rpc's error details so Status details render as JSON.
  const types = createRegistry(...ctx.registry.files(), file_google_rpc_error_details);
  const allowed = headerAllowlist(rest.metadataHeaders);

  // Never throws: a failure while answering an error only ends the response.
  const fail = (res: NodeResponse, err: unknown, headers: Record<string, string | string[]> = {}) => {
    try {
      if (!(err instanceof ConnectError)) ctx.logger.error({ err }, "REST transcoding failed");
      const e = renderError(err, types);
      if (res.headersSent) return void res.end();
      (res as { writeHead(s: number, h: Record<string, string | string[]>): unknown }).writeHead(e.status, { ...headers, ...e.headers });
      res.end(e.body);
    } catch (e) {
      ctx.logger.error({ err: e }, "REST error response failed");
      res.destroy();
    }
  };

  // The call's deadline from the REST deadline header, if any; throws on a malformed one.
  const deadlineOf = (req: NodeRequest): number | undefined => {
    const th = rest.deadlineHeader ? req.headers[rest.deadlineHeader] : undefined;
    if (typeof th !== "string") return undefined;
    const timeoutMs = parseTimeout(th);
    if (timeoutMs === undefined) throw new RestError(`header ${rest.deadlineHeader}: "${th.slice(0, 32)}" is not a timeout like "5S" or "250m"`, Code.InvalidArgument);
    return timeoutMs;
  };

  const startCall = (req: NodeRequest, route: RestRoute, timeoutMs: number | undefined, values: ContextValues | undefined, metadata = requestMetadata(req.headers, allowed)) =>
    ctx.pipeline.context(route.method, {
      protocol: "rest",
      requestMethod: req.method ?? "GET",
      url: req.url ?? "/",
      nodeHeaders: metadata,
      timeoutMs,
      contextValues: values,
    });

  // A unary call's answer: the response message as JSON (or its response_body field), or the error.
  const unary = (res: NodeResponse, route: RestRoute, call: CallContext, input: Message): Promise<void> => {
    // A bound method rather than an arrow: no per-call closure naming under tsx's keepNames.
    const onClose = call.abort.bind(call, undefined);
    res.once("close", onClose);
    const m = route.method;
    return ctx.pipeline.unary(m, call, input).then(
      (out) => {
        res.off("close", onClose);
        const r = renderMessage(m.method.output, out, route.responseField, types);
        const headers = callResponseHeaders(call, true);
        headers["content-type"] = r.contentType;
        headers["content-length"] = String(typeof r.body === "string" ? Buffer.byteLength(r.body) : r.body.byteLength);
        call.abort();
        (res as { writeHead(s: number, h: Record<string, string | string[]>): unknown }).writeHead(200, headers);
        res.end(r.body);
      },
      (err: unknown) => {
        res.off("close", onClose);
        call.abort();
        fail(res, err, callResponseHeaders(call, true));
      },
    );
  };

  // Every call that needs to wait before it starts (auth, a request body) or streams its answer.
  const serve = async (req: NodeRequest, res: NodeResponse, route: RestRoute, path: SplitPath, query: string): Promise<void> => {
    const m = route.method;
    const kind = m.method.methodKind;
    if (kind === "client_streaming" || kind === "bidi_streaming") {
      throw new RestError(
        `${m.path} is a ${kind.replace("_", "-")} method; REST cannot carry a client stream. Call it over gRPC, Connect or the WebSocket bridge (/ws)`,
        Code.Unimplemented,
      );
    }
    const timeoutMs = deadlineOf(req);
    const metadata = requestMetadata(req.headers, allowed);
    // Auth before the body is read, and before an SSE stream opens (its client gets a plain 401). It
    // checks the Authorization the implementation will see (Grpc-Metadata-Authorization included).
    const gate = ctx.auth ? await ctx.auth.rest(m.path.slice(1), req, query, authorizationOf(metadata, req)) : undefined;
    if (gate) query = gate.query;
    let body: RawBody | undefined;
    if (route.body !== "") {
      body = { bytes: await readBody(req, limits.maxMessageBytes), contentType: String(req.headers["content-type"] ?? "") };
    }
    const input = decodeRequest(route, path, query, body, types);
    const call = startCall(req, route, timeoutMs, gate?.values, metadata);
    if (kind === "unary") return unary(res, route, call, input);
    const onClose = call.abort.bind(call, undefined);
    res.once("close", onClose);
    try {
      const messages = ctx.pipeline.stream(m, call, single(input))[Symbol.asyncIterator]();
      const format = streamFormat(req.headers.accept);
      if (req.method === "HEAD") return await headOfStream(res, m.method.output, messages, format, () => callResponseHeaders(call, false), types);
      const trailers = () => {
        const t: Record<string, string> = {};
        peekResponseHeaders(call, "trailer")?.forEach((v, k) => (t[TRAILER_PREFIX + k] = v));
        return t;
      };
      // HTTP/2 in Node 20: a stream reset with NO_ERROR while writes wait on flow control (a client
      // that stopped reading, then left) emits "aborted" on the request but never "close" on the
      // response, so the call would wait forever. Destroying the response makes it close.
      const onAborted = () => res.destroy();
      req.once("aborted", onAborted);
      try {
        await writeStream(res, m.method.output, messages, format, () => callResponseHeaders(call, false), trailers, types);
      } finally {
        req.off("aborted", onAborted);
      }
    } finally {
      res.off("close", onClose);
      call.abort();
    }
  };

  // The common case without an async frame: a unary call with nothing to wait for before it starts
  // (no auth, no request body), such as the course's GET /v1/hello/{name}.
  const serveNow = (req: NodeRequest, res: NodeResponse, route: RestRoute, path: SplitPath, query: string): Promise<void> => {
    if (ctx.auth || route.body !== "" || route.method.method.methodKind !== "unary") return serve(req, res, route, path, query);
    try {
      const timeoutMs = deadlineOf(req);
      const input = decodeRequest(route, path, query, undefined, types);
      return unary(res, route, startCall(req, route, timeoutMs, undefined), input);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  return {
    name: "rest",
    http(req, res) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const rawPath = q < 0 ? url : url.slice(0, q);
      if (rawPath[0] !== "/") return false;
      const split = splitPath(rawPath);
      if (typeof split === "string") {
        const first = rawPath.slice(1).split("/")[0];
        if (!trie.hasRoot(first)) return false;
        fail(res, new RestError(split, Code.InvalidArgument));
        return true;
      }
      const match = withHead(req.method ?? "GET", trie, split.decoded);
      if (!match.route) {
        if (match.allowed.length > 0) {
          fail(res, new RestError(`${req.method} is not allowed on ${rawPath.slice(0, 200)}; allowed: ${match.allowed.join(", ")}`, Code.Unimplemented, 405, { allow: match.allowed.join(", ") }));
          return true;
        }
        // Paths under a REST root ("/v1/...") are ours: answer 404 as google.rpc.Status.
        if (!trie.hasRoot(split.decoded[0])) return false;
        fail(res, new RestError(`no REST route for ${req.method} ${rawPath.slice(0, 200)}`, Code.NotFound));
        return true;
      }
      serveNow(req, res, match.route, split, q < 0 ? "" : url.slice(q + 1)).catch((err) => fail(res, err));
      return true;
    },
  };
}

// The call's authorization metadata as one value (two headers that both set it are joined, and fail
// as a token); the HTTP header when the metadata allowlist leaves it out.
function authorizationOf(metadata: IncomingHttpHeaders, req: NodeRequest): string | undefined {
  if (!("authorization" in metadata)) return req.headers.authorization;
  const v = metadata.authorization;
  return Array.isArray(v) ? v.join(", ") : v;
}

async function* single(m: Message): AsyncIterable<Message> {
  yield m;
}
