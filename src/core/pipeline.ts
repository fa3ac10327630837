import { setMaxListeners } from "node:events";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { invokeUnaryImplementation, transformInvokeImplementation } from "@connectrpc/connect/protocol";
import type { RegisteredMethod } from "./registry.js";
import { invokeStream } from "./stream.js";

/** The protocol a call arrived on: "grpc", "grpc-web", "connect", "rest" or "ws". */
export const protocolKey = createContextKey<string>("", { description: "oneport protocol" });

/** What a protocol adapter knows about a call before it invokes it. */
export interface CallInit {
  protocol: string;
  requestMethod: string;
  url: string;
  requestHeader: Headers | HeadersInit;
  /** The requestHeader Headers belongs to this call alone: use it as is instead of copying it. */
  ownRequestHeader?: boolean;
  /** Aborts the call when the client goes away. */
  requestSignal?: AbortSignal;
  /** The deadline the client asked for, already capped by the server's limit. */
  timeoutMs?: number;
  contextValues?: ContextValues;
}

/** A call's context as the Pipeline makes it: a HandlerContext that the adapter ends with abort(). */
export type CallContext = HandlerContext & { abort(reason?: unknown): void };

/**
 * The one place every protocol calls into: builds the HandlerContext and runs the implementation
 * through the interceptor chain. Adapters only translate wire formats to and from this.
 */
export class Pipeline {
  constructor(
    readonly interceptors: Interceptor[],
    private readonly shutdownSignal: AbortSignal,
    private readonly maxTimeoutMs: number,
    private readonly unaryTimeoutMs = 0,
  ) {
    // Every call in flight that looks at its signal listens for shutdown; hundreds may be in flight.
    setMaxListeners(0, shutdownSignal);
  }

  /** Creates the context of one call; `abort()` it when the call is over. */
  context(m: RegisteredMethod, init: CallInit): CallContext {
    const values = init.contextValues ?? createContextValues();
    values.set(protocolKey, init.protocol);
    let timeoutMs = init.timeoutMs;
    // Streams without a deadline may live as long as the client wants (a chat subscription);
    // unary calls without one get the server's default, so a stuck handler cannot pile up.
    if (timeoutMs === undefined && m.spec.kind === "unary" && this.unaryTimeoutMs > 0) timeoutMs = this.unaryTimeoutMs;
    if (this.maxTimeoutMs > 0 && timeoutMs !== undefined && timeoutMs > this.maxTimeoutMs) timeoutMs = this.maxTimeoutMs;
    return new LazyContext(m, init, values, timeoutMs, this.shutdownSignal);
  }

  /** Invokes a unary method (or a server-streaming one's single request is given to stream()). */
  unary(m: RegisteredMethod, ctx: HandlerContext, input: MessageShape<DescMessage>): Promise<MessageShape<DescMessage>> {
    const spec = m.spec;
    if (spec.kind !== "unary") throw new ConnectError(`${m.path} is not a unary method`, Code.Internal);
    if (!(ctx instanceof LazyContext)) return invokeUnaryImplementation(spec, ctx, input, this.interceptors);
    // connect's invokeUnaryImplementation, keeping the signal and request headers lazy: a call whose
    // interceptors and implementation never look at them creates no AbortController and no Headers.
    const req: UnaryRequest = {
      stream: false,
      message: input,
      method: spec.method,
      service: m.service,
      requestMethod: ctx.requestMethod,
      url: ctx.url,
      contextValues: ctx.values,
      get signal() {
        return ctx.signal;
      },
      get header() {
        return ctx.requestHeader;
      },
    };
    let next = implFn(spec, m.service, ctx, req);
    for (let i = this.interceptors.length - 1; i >= 0; i--) next = this.interceptors[i](next as never) as typeof next;
    return next(req).then((res: UnaryResponse) => {
      // Interceptors may have returned other header objects; connect copies them over. The response
      // the implementation made is left alone (reading its getters would create empty Headers).
      if (res !== ctx.response) {
        if (res.header !== ctx.responseHeader) copyHeaders(res.header, ctx.responseHeader);
        if (res.trailer !== ctx.responseTrailer) copyHeaders(res.trailer, ctx.responseTrailer);
      }
      return res.message;
    });
  }

  /** Invokes any method kind with a stream of requests; yields the responses. */
  stream(m: RegisteredMethod, ctx: HandlerContext, input: AsyncIterable<MessageShape<DescMessage>>): AsyncIterable<MessageShape<DescMessage>> {
    // Streams without connect's generator layers (src/core/stream.ts): fan-out pays them per reader.
    if (ctx instanceof LazyContext && m.spec.kind !== "unary") return invokeStream(m as Parameters<typeof invokeStream>[0], ctx.view(), this.interceptors, input);
    // connect copies the context with Object.assign, which only sees own properties: give it the view.
    return transformInvokeImplementation(m.spec, ctx instanceof LazyContext ? ctx.view() : ctx, this.interceptors)(input);
  }
}

// The innermost function of the chain: calls the implementation. (A factory, not a named closure:
// tsx's keepNames would otherwise pay an Object.defineProperty per call.)
function implFn(spec: Extract<RegisteredMethod["spec"], { kind: "unary" }>, service: RegisteredMethod["service"], ctx: LazyContext, req: UnaryRequest) {
  return async (r: UnaryRequest): Promise<UnaryResponse> =>
    (ctx.response = {
      stream: false,
      message: create(spec.method.output, await spec.impl(r.message, r === req ? ctx.view() : merged(ctx, r))),
      method: spec.method,
      service,
      get header() {
        return ctx.responseHeader;
      },
      get trailer() {
        return ctx.responseTrailer;
      },
    });
}

// What the implementation sees when an interceptor replaced the request (as connect's mergeRequest).
function merged(ctx: LazyContext, r: UnaryRequest): HandlerContext {
  return {
    method: ctx.method,
    service: r.service,
    signal: r.signal,
    timeoutMs: ctx.timeoutMs,
    requestMethod: ctx.requestMethod,
    requestHeader: r.header,
    responseHeader: ctx.responseHeader,
    responseTrailer: ctx.responseTrailer,
    protocolName: ctx.protocolName,
    values: r.contextValues,
    url: ctx.url,
    abort: (reason?: unknown) => ctx.abort(reason),
  } as HandlerContext;
}

function copyHeaders(from: Headers, to: Headers) {
  if (from === to) return;
  to.forEach((_, key) => to.delete(key));
  from.forEach((value, key) => to.set(key, value));
}

/**
 * connect's createHandlerContext with the same observable behaviour, but the AbortController (with
 * its deadline timer and shutdown listener) and the request Headers are made on first access.
 * Nobody can watch a signal they never got, so a call that ends before anyone asked costs nothing.
 */
class LazyContext implements CallContext {
  readonly method: RegisteredMethod["method"];
  readonly service: RegisteredMethod["service"];
  readonly protocolName: string;
  readonly requestMethod: string;
  readonly url: string;
  /** The response object the implementation's wrapper returned (see Pipeline.unary). */
  response: UnaryResponse | undefined;
  private viewed: CallContext | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  readonly timeoutMs: () => number | undefined;
  private headerInit: Headers | HeadersInit | undefined;
  private header: Headers | undefined;
  private ctrl: AbortController | undefined;
  private readonly deadline: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private endReason: unknown;
  private unlink: (() => void) | undefined;

  constructor(
    m: RegisteredMethod,
    init: CallInit,
    readonly values: ContextValues,
    timeoutMs: number | undefined,
    private readonly shutdownSignal: AbortSignal,
  ) {
    this.method = m.method;
    this.service = m.service;
    this.protocolName = init.protocol;
    this.requestMethod = init.requestMethod;
    this.url = init.url;
    if (init.ownRequestHeader && init.requestHeader instanceof Headers) this.header = init.requestHeader;
    else this.headerInit = init.requestHeader;
    this.requestSignal = init.requestSignal;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.deadline = deadline;
    this.timeoutMs = () => (deadline === undefined ? undefined : deadline - Date.now());
  }

  private readonly requestSignal: AbortSignal | undefined;

  get requestHeader(): Headers {
    if (this.header === undefined) {
      this.header = new Headers(this.headerInit);
      this.headerInit = undefined;
    }
    return this.header;
  }

  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  /**
   * The context as implementations and connect's helpers see it: a plain object whose fields are all
   * own properties (so spreading or Object.assign keeps them), the lazy ones as getters.
   */
  view(): CallContext {
    if (this.viewed !== undefined) return this.viewed;
    const ctx = this;
    return (this.viewed = {
      method: ctx.method,
      service: ctx.service,
      protocolName: ctx.protocolName,
      requestMethod: ctx.requestMethod,
      url: ctx.url,
      values: ctx.values,
      timeoutMs: ctx.timeoutMs,
      get signal() {
        return ctx.signal;
      },
      get requestHeader() {
        return ctx.requestHeader;
      },
      get responseHeader() {
        return ctx.responseHeader;
      },
      get responseTrailer() {
        return ctx.responseTrailer;
      },
      abort(reason?: unknown) {
        ctx.abort(reason);
      },
    });
  }

  /** The response headers or trailers if anyone created them (so adapters can skip empty ones). */
  peek(which: "header" | "trailer"): Headers | undefined {
    return which === "header" ? this.resHeader : this.resTrailer;
  }

  get signal(): AbortSignal {
    if (this.ctrl !== undefined) return this.ctrl.signal;
    const ctrl = (this.ctrl = new AbortController());
    if (this.ended) {
      ctrl.abort(this.endReason);
      return ctrl.signal;
    }
    const remaining = this.deadline === undefined ? undefined : this.deadline - Date.now();
    const req = this.requestSignal;
    const shut = this.shutdownSignal;
    if (remaining !== undefined && remaining <= 0) this.abort(timedOut());
    else if (req?.aborted) this.abort(req.reason);
    else if (shut.aborted) this.abort(shut.reason);
    else {
      if (remaining !== undefined) this.timer = setTimeout(() => this.abort(timedOut()), remaining);
      const onReq = () => this.abort(req!.reason);
      const onShut = () => this.abort(shut.reason);
      req?.addEventListener("abort", onReq);
      shut.addEventListener("abort", onShut);
      this.unlink = () => {
        req?.removeEventListener("abort", onReq);
        shut.removeEventListener("abort", onShut);
      };
    }
    return ctrl.signal;
  }

  abort(reason?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unlink?.();
    this.ctrl?.abort(reason);
  }
}

/** A call's response headers or trailers, or undefined when nothing created them (none were set). */
export function responseHeadersOf(ctx: HandlerContext, which: "header" | "trailer"): Headers | undefined {
  if (ctx instanceof LazyContext) return ctx.peek(which);
  return which === "header" ? ctx.responseHeader : ctx.responseTrailer;
}

function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}
