import { setMaxListeners } from "node:events";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues, type HandlerContext, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { invokeUnaryImplementation, transformInvokeImplementation } from "@connectrpc/connect/protocol";
import type { OutgoingHttpHeaders } from "node:http2";
import type { Logger } from "pino";
import { kContext, LazyContext, merged, UnaryCallRequest, type CallContext, type CallInit, type UnarySpec } from "./context.js";
import { deadlineInterceptor } from "./deadline.js";
import { DeadlineQueue } from "./deadline-queue.js";
import { responseIdKey } from "./errors.js";
import type { RegisteredMethod } from "./registry.js";
import { invokeStream, wrap } from "./stream.js";

export type { CallContext, CallInit } from "./context.js";

/** The protocol a call arrived on: "grpc", "grpc-web", "connect", "rest" or "ws". */
export const protocolKey = createContextKey<string>("", { description: "oneport protocol" });

/**
 * One request header of a call, as `req.header.get(name)` would answer (name in lower case), but
 * without making the call's fetch Headers when the Pipeline still has the raw ones.
 */
export function requestHeaderValue(req: { header: Headers }, name: string): string | null {
  const ctx = (req as { [kContext]?: LazyContext })[kContext];
  return ctx !== undefined ? ctx.headerValue(name) : req.header.get(name);
}

/**
 * The one place every protocol calls into: builds the HandlerContext and runs the implementation
 * through the interceptor chain. Adapters only translate wire formats to and from this.
 */
export class Pipeline {
  /**
   * The chain for calls whose context the Pipeline did not make (connect-node serves them): the
   * interceptors, then a guard that ends a call at its deadline as LazyContext does for the others.
   */
  readonly interceptors: Interceptor[];
  // Deadline timers by timeout: most calls share a few (the server's default, a client's usual).
  private readonly queues = new Map<number, DeadlineQueue>();

  constructor(
    private readonly chain: Interceptor[],
    private readonly shutdownSignal: AbortSignal,
    private readonly maxTimeoutMs: number,
    private readonly unaryTimeoutMs = 0,
    private readonly logger?: Logger,
    // How many of the chain's interceptors (the last ones) are the user's. oneport's own never replace
    // a unary request, so only the user's may spread it and lose its signal (see withSignal).
    userInterceptors = chain.length,
  ) {
    // Every call in flight that looks at its signal listens for shutdown; hundreds may be in flight.
    setMaxListeners(0, shutdownSignal);
    // Calls that never looked at their signal end at shutdown too, if they wait on a shared deadline
    // timer (every unary call does: unaryTimeoutMs): an implementation that ignores its signal cannot
    // keep its client from hearing UNAVAILABLE when the grace period is over.
    shutdownSignal.addEventListener("abort", () => {
      for (const q of this.queues.values()) q.endAll((n) => (n as LazyContext).abort(shutdownSignal.reason));
    }, { once: true });
    this.interceptors = [...chain, deadlineInterceptor(logger)];
    this.firstUser = chain.length - userInterceptors;
  }

  private readonly firstUser: number;

  /** Creates the context of one call; `abort()` it when the call is over. */
  context(m: RegisteredMethod, init: CallInit): CallContext {
    const values = init.contextValues ?? createContextValues();
    values.set(protocolKey, init.protocol);
    let timeoutMs = init.timeoutMs;
    // Streams without a deadline may live as long as the client wants (a chat subscription);
    // unary calls without one get the server's default, so a stuck handler cannot pile up.
    if (timeoutMs === undefined && m.spec.kind === "unary" && this.unaryTimeoutMs > 0) timeoutMs = this.unaryTimeoutMs;
    if (this.maxTimeoutMs > 0 && timeoutMs !== undefined && timeoutMs > this.maxTimeoutMs) timeoutMs = this.maxTimeoutMs;
    return new LazyContext(m, init, values, timeoutMs, timeoutMs === undefined ? undefined : this.queueFor(timeoutMs), this.shutdownSignal, this.logger);
  }

  // The shared timer of calls with this timeout; undefined (a timer of the call's own) once many
  // different timeouts were seen (clients that pass on what is left of their own deadline).
  private queueFor(timeoutMs: number): DeadlineQueue | undefined {
    let q = this.queues.get(timeoutMs);
    if (q === undefined && this.queues.size < 16) this.queues.set(timeoutMs, (q = new DeadlineQueue()));
    return q;
  }

  /** Invokes a unary method (or a server-streaming one's single request is given to stream()). */
  unary(m: RegisteredMethod, ctx: HandlerContext, input: MessageShape<DescMessage>): Promise<MessageShape<DescMessage>> {
    const spec = m.spec;
    if (spec.kind !== "unary") throw new ConnectError(`${m.path} is not a unary method`, Code.Internal);
    if (!(ctx instanceof LazyContext)) return invokeUnaryImplementation(spec, ctx, input, this.interceptors);
    // connect's invokeUnaryImplementation, keeping the signal and response headers lazy: a call whose
    // interceptors and implementation never look at them creates no AbortController and no Headers.
    const req = new UnaryCallRequest(input, m, ctx) as unknown as UnaryRequest;
    // The deadline timer starts with the call (not when someone reads the signal): it must end the
    // call even if nothing ever looks at the signal (see LazyContext.guard).
    ctx.arm();
    const chain = this.chain;
    let next = implFn(spec, m.service, ctx, req);
    // The last interceptor's `next` is implFn, which takes a spread request as it is (merged()).
    const last = chain.length - 1;
    for (let i = last; i >= 0; i--) next = wrap(chain[i], (i >= this.firstUser && i < last ? withSignal(next, ctx, req) : next) as never) as typeof next;
    return next(req).then((res: UnaryResponse) => {
      // Interceptors may have returned other header objects; connect copies them over. The response
      // the implementation made is left alone (reading its getters would create empty Headers), and
      // so is a spread copy of it (which has no header getters: it carries the same headers).
      if (res !== ctx.response) {
        const h = res.header, t = res.trailer;
        if (h !== undefined && h !== ctx.responseHeader) copyHeaders(h, ctx.responseHeader);
        if (t !== undefined && t !== ctx.responseTrailer) copyHeaders(t, ctx.responseTrailer);
      }
      return res.message;
    });
  }

  /** Invokes any method kind with a stream of requests; yields the responses. */
  stream(m: RegisteredMethod, ctx: HandlerContext, input: AsyncIterable<MessageShape<DescMessage>>): AsyncIterable<MessageShape<DescMessage>> {
    // Streams without connect's generator layers (src/core/stream.ts): fan-out pays them per reader.
    if (ctx instanceof LazyContext && m.spec.kind !== "unary") return invokeStream(m as Parameters<typeof invokeStream>[0], ctx.view(), this.chain, input, ctx);
    // connect copies the context with Object.assign, which only sees own properties: give it the view.
    return transformInvokeImplementation(m.spec, ctx instanceof LazyContext ? ctx.view() : ctx, this.interceptors)(input);
  }
}


// The innermost function of the chain: calls the implementation, guarded by the deadline, so that
// every interceptor (logging, metrics) sees DEADLINE_EXCEEDED at the deadline whatever the
// implementation does (LazyContext.invoke). The implementation gets the LazyContext itself (its lazy
// fields are getters on its prototype). (A factory, not a named closure: tsx's keepNames would
// otherwise pay an Object.defineProperty per call.)
function implFn(spec: UnarySpec, service: RegisteredMethod["service"], ctx: LazyContext, req: UnaryRequest) {
  return (r: UnaryRequest): Promise<UnaryResponse> => ctx.invoke(spec, service, r, r === req ? ctx : merged(ctx, r));
}

/**
 * The `next` an interceptor gets: a request it made by spreading another (`{...req, message}`, as
 * connect-es interceptors do) lost the lazy `signal` (a prototype getter); the call's own is put
 * back, so interceptors further in see a working signal. The original request passes untouched.
 */
function withSignal(next: (r: UnaryRequest) => Promise<UnaryResponse>, ctx: LazyContext, req: UnaryRequest) {
  return (r: UnaryRequest): Promise<UnaryResponse> => {
    if (r !== req && !(r instanceof UnaryCallRequest)) {
      if (r.signal === undefined) (r as { signal: AbortSignal }).signal = ctx.signal;
      if (r.header === undefined) (r as { header: Headers }).header = ctx.requestHeader;
    }
    return next(r);
  };
}

function copyHeaders(from: Headers, to: Headers) {
  if (from === to) return;
  to.forEach((_, key) => to.delete(key));
  from.forEach((value, key) => to.set(key, value));
}


/**
 * A call's response headers or trailers, or undefined when nothing created them (none were set).
 * The headers include `x-request-id` once the call succeeded (errorInterceptor's responseIdKey).
 */
export function responseHeadersOf(ctx: HandlerContext, which: "header" | "trailer"): Headers | undefined {
  if (!(ctx instanceof LazyContext)) return which === "header" ? ctx.responseHeader : ctx.responseTrailer;
  if (which === "header") {
    const id = ctx.values.get(responseIdKey);
    if (id !== "") ctx.responseHeader.set("x-request-id", id);
  }
  return ctx.peek(which);
}

/** What the call set in its response headers or trailers, without creating them and without `x-request-id` (see responseIdOf). */
export function peekResponseHeaders(ctx: HandlerContext, which: "header" | "trailer"): Headers | undefined {
  if (ctx instanceof LazyContext) return ctx.peek(which);
  return which === "header" ? ctx.responseHeader : ctx.responseTrailer;
}

/** The `x-request-id` a call answers with once it succeeded ("" before, or without the error guard). */
export function responseIdOf(ctx: HandlerContext): string {
  return ctx.values.get(responseIdKey);
}

/**
 * Writes a call's response headers into a Node header object (the adapters' fast way: no fetch
 * Headers is created when the call set none): what the call set, then `x-request-id` once it
 * succeeded. Repeated fields are joined with ", " except set-cookie, as fetch Headers does.
 */
export function writeResponseHeader(ctx: HandlerContext, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const h = ctx instanceof LazyContext ? ctx.peek("header") : ctx.responseHeader;
  if (h !== undefined) copyInto(h, into);
  const id = ctx.values.get(responseIdKey);
  if (id !== "") into["x-request-id"] = id;
  return into;
}

/** Copies a fetch Headers into a Node header object (optionally prefixed), overwriting. */
export function copyInto(h: Headers, into: OutgoingHttpHeaders, prefix = ""): OutgoingHttpHeaders {
  h.forEach((value, key) => {
    const k = prefix + key;
    const prev = into[k];
    // fetch Headers already joined repeated fields with ", "; only set-cookie comes one by one.
    if (prev === undefined || key !== "set-cookie") into[k] = value;
    else into[k] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  });
  return into;
}

