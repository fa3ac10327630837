import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from "@opentelemetry/api";
import { consumerFailure } from "../core/errors.js";
import { protocolOf } from "../core/logging.js";
import type { TracingOptions } from "./options.js";

// W3C trace context (traceparent, tracestate) and baggage come in as ordinary request headers.
const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

// The server-side codes OpenTelemetry's gRPC conventions count as span errors; the others are the
// client's doing (INVALID_ARGUMENT, NOT_FOUND, ...) and leave the status unset.
const serverFaults = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

const rpcSystem = (protocol: string) => (protocol === "connect" ? "connect_rpc" : protocol === "grpc" || protocol === "grpc-web" ? "grpc" : "oneport");

/**
 * One SERVER span per call, on every protocol, named "package.Service/Method" with the rpc.*
 * attributes of OpenTelemetry's RPC conventions (rpc.system, rpc.service, rpc.method,
 * rpc.grpc.status_code) plus oneport.protocol. The parent comes from the W3C traceparent header.
 * Uses only @opentelemetry/api: spans go to whatever SDK the application registered (none: no-ops).
 */
export function tracingInterceptor(options: TracingOptions): Interceptor {
  const tracer = options.tracer ?? trace.getTracer("oneport");
  return (next) => (req) => {
    const protocol = protocolOf(req.contextValues, req.header);
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": rpcSystem(protocol), "rpc.service": req.service.typeName, "rpc.method": req.method.name, "oneport.protocol": protocol },
      },
      parent,
    );
    const res = context.with(trace.setSpan(parent, span), () => next(req));
    return res.then(
      (r) => {
        if (!r.stream) {
          finish(span);
          return r;
        }
        return { ...r, message: endWithStream(r, span) } as StreamResponse;
      },
      (e: unknown) => {
        finish(span, e);
        throw e;
      },
    );
  };
}

function finish(span: Span, err?: unknown): void {
  if (err === undefined) span.setAttribute("rpc.grpc.status_code", 0);
  else {
    const e = ConnectError.from(err);
    span.setAttribute("rpc.grpc.status_code", e.code);
    // The code name and the client-facing message, never the cause or a stack.
    if (serverFaults.has(e.code)) span.setStatus({ code: SpanStatusCode.ERROR, message: `${Code[e.code]}: ${e.rawMessage}` });
  }
  span.end();
}

// A stream's span lasts until its last message, its error or its cancellation.
async function* endWithStream(res: StreamResponse, span: Span): AsyncIterable<unknown> {
  let outcome: { err?: unknown } | undefined;
  try {
    yield* res.message;
    outcome = {};
  } catch (e) {
    // A reader's failed write thrown in (consumerFailure): the client went away.
    outcome = { err: consumerFailure(e) };
    throw e;
  } finally {
    finish(span, outcome === undefined ? new ConnectError("the stream was cancelled", Code.Canceled) : outcome.err);
  }
}
