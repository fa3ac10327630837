import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, type Any } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { service, type ServiceRegistration } from "../../../src/index.js";
import {
  BidiStreamRequestSchema,
  ClientStreamRequestSchema,
  ConformancePayload_ConnectGetInfoSchema,
  ConformancePayload_RequestInfoSchema,
  ConformanceService,
  IdempotentUnaryRequestSchema,
  ServerStreamRequestSchema,
  UnaryRequestSchema,
  type ConformancePayload_RequestInfo,
  type StreamResponseDefinition,
  type UnaryResponseDefinition,
} from "../gen/connectrpc/conformance/v1/service_pb.js";
import { appendHeaders, delay, toConnectError, toProtoHeaders } from "./convert.js";

/** What the server observed about a call, echoed back so the runner can check it. */
function requestInfo(ctx: HandlerContext, requests: Any[]): ConformancePayload_RequestInfo {
  const timeout = ctx.timeoutMs();
  const info = create(ConformancePayload_RequestInfoSchema, {
    requestHeaders: toProtoHeaders(ctx.requestHeader),
    requests,
    timeoutMs: timeout === undefined ? undefined : BigInt(Math.floor(timeout)),
  });
  if (ctx.requestMethod === "GET") {
    const params = new URL(ctx.url, "http://localhost").searchParams;
    if (params.size > 0) info.connectGetInfo = create(ConformancePayload_ConnectGetInfoSchema, { queryParams: toProtoHeaders(params) });
  }
  return info;
}

function pack<D extends DescMessage>(schema: D, msg: MessageShape<D>): Any {
  return anyPack(schema, msg);
}

// Unary and client-streaming calls answer once: data or an error carrying the request info.
async function answerOnce(def: UnaryResponseDefinition | undefined, requests: Any[], ctx: HandlerContext) {
  appendHeaders(ctx.responseHeader, def?.responseHeaders);
  appendHeaders(ctx.responseTrailer, def?.responseTrailers);
  const info = requestInfo(ctx, requests);
  await delay(def?.responseDelayMs ?? 0, ctx.signal);
  if (def?.response.case === "error") {
    def.response.value.details.push(pack(ConformancePayload_RequestInfoSchema, info));
    throw toConnectError(def.response.value);
  }
  const data = def?.response.case === "responseData" ? def.response.value : undefined;
  return { payload: { data, requestInfo: info } };
}

// The error that ends a stream; the request info rides along only when no response carried it.
function streamError(def: StreamResponseDefinition, info: ConformancePayload_RequestInfo, sent: number) {
  const err = def.error!;
  if (sent === 0) err.details.push(pack(ConformancePayload_RequestInfoSchema, info));
  return toConnectError(err);
}

/** connectrpc.conformance.v1.ConformanceService, written the way a oneport user writes a service. */
export function conformanceService(): ServiceRegistration {
  return service(ConformanceService, {
    unary: (req, ctx) => answerOnce(req.responseDefinition, [pack(UnaryRequestSchema, req)], ctx),
    idempotentUnary: (req, ctx) => answerOnce(req.responseDefinition, [pack(IdempotentUnaryRequestSchema, req)], ctx),
    // Unimplemented is deliberately absent: the framework must answer UNIMPLEMENTED itself.
    async clientStream(reqs, ctx) {
      let def: UnaryResponseDefinition | undefined;
      const seen: Any[] = [];
      for await (const req of reqs) {
        if (seen.length === 0) def = req.responseDefinition;
        seen.push(pack(ClientStreamRequestSchema, req));
      }
      return answerOnce(def, seen, ctx);
    },
    async *serverStream(req, ctx) {
      const def = req.responseDefinition;
      appendHeaders(ctx.responseHeader, def?.responseHeaders);
      appendHeaders(ctx.responseTrailer, def?.responseTrailers);
      const info = requestInfo(ctx, [pack(ServerStreamRequestSchema, req)]);
      let sent = 0;
      for (const data of def?.responseData ?? []) {
        await delay(def!.responseDelayMs, ctx.signal);
        yield { payload: { data, requestInfo: sent === 0 ? info : undefined } };
        sent++;
      }
      if (def?.error) throw streamError(def, info, sent);
    },
    async *bidiStream(reqs, ctx) {
      let def: StreamResponseDefinition | undefined;
      let fullDuplex = false;
      let pending: Any[] = [];
      let sent = 0;
      let first = true;
      for await (const req of reqs) {
        if (first) {
          first = false;
          def = req.responseDefinition;
          fullDuplex = req.fullDuplex;
          appendHeaders(ctx.responseHeader, def?.responseHeaders);
          appendHeaders(ctx.responseTrailer, def?.responseTrailers);
        }
        pending.push(pack(BidiStreamRequestSchema, req));
        if (!fullDuplex) continue;
        // Full duplex: one response per request, each echoing the requests since the last one.
        if (def === undefined || sent >= def.responseData.length) break;
        await delay(def.responseDelayMs, ctx.signal);
        yield { payload: { data: def.responseData[sent], requestInfo: requestInfo(ctx, pending) } };
        sent++;
        pending = [];
      }
      // Half duplex (all requests read), or full duplex with more responses than requests.
      const info = requestInfo(ctx, pending);
      for (; def !== undefined && sent < def.responseData.length; sent++) {
        await delay(def.responseDelayMs, ctx.signal);
        yield { payload: { data: def.responseData[sent], requestInfo: sent === 0 ? info : undefined } };
      }
      if (def?.error) throw streamError(def, info, sent);
    },
  });
}
