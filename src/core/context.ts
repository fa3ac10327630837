// A call's context as the Pipeline makes it (LazyContext), and the unary request and response objects
// its interceptor chain sees. Pipeline (pipeline.ts) builds and invokes them.
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import type { IncomingHttpHeaders } from "node:http2";
import type { Logger } from "pino";
import { NodeHeaders } from "../rpc/node-headers.js";
import type { DeadlineNode, DeadlineQueue } from "./deadline-queue.js";
import type { RegisteredMethod } from "./registry.js";

/** What a protocol adapter knows about a call before it invokes it. */
export interface CallInit {
  protocol: string;
  requestMethod: string;
  url: string;
  /** The call's request metadata; ignored when `nodeHeaders` is given. */
  requestHeader?: Headers | HeadersInit;
  /** The requestHeader Headers belongs to this call alone: use it as is instead of copying it. */
  ownRequestHeader?: boolean;
  /**
   * Node's request header object, when the metadata is exactly the request headers (gRPC, Connect):
   * the fetch Headers over it (a NodeHeaders) is only made if someone asks for it.
   */
  nodeHeaders?: IncomingHttpHeaders;
  /** Aborts the call when the client goes away. */
  requestSignal?: AbortSignal;
  /** The deadline the client asked for, already capped by the server's limit. */
  timeoutMs?: number;
  contextValues?: ContextValues;
}

/** A call's context as the Pipeline makes it: a HandlerContext that the adapter ends with abort(). */
export type CallContext = HandlerContext & { abort(reason?: unknown): void };

/** The key under which the request objects Pipeline.unary makes carry their context (see requestHeaderValue). */
export const kContext = Symbol("oneport call context");

/** The spec of a unary method. */
export type UnarySpec = Extract<RegisteredMethod["spec"], { kind: "unary" }>;

/*
 * Why classes: an object literal with `get x() {}` costs V8 (Node 20) a runtime call of about 3.5 µs
 * per getter each time it is evaluated, which three such literals per call made a fifth of a unary
 * call's CPU. Getters on a class prototype cost nothing per call. A spread copy (`{...req}`) keeps
 * the own fields only: not the lazy `signal`/`header` of a request (withSignal puts the call's back)
 * nor the `header`/`trailer` of a response (the Pipeline falls back to the call's own).
 */

/** The UnaryRequest the interceptor chain sees: plain fields own, the signal and request Headers lazy. */
export class UnaryCallRequest {
  readonly stream = false;
  readonly method: RegisteredMethod["method"];
  readonly service: RegisteredMethod["service"];
  readonly requestMethod: string;
  readonly url: string;
  readonly contextValues: ContextValues;
  readonly [kContext]: LazyContext;

  constructor(
    readonly message: MessageShape<DescMessage>,
    m: RegisteredMethod,
    ctx: LazyContext,
  ) {
    this.method = m.method;
    this.service = m.service;
    this.requestMethod = ctx.requestMethod;
    this.url = ctx.url;
    this.contextValues = ctx.values;
    this[kContext] = ctx;
  }

  get signal(): AbortSignal {
    return this[kContext].signal;
  }

  // Made on first read: oneport's own interceptors read single headers without it (requestHeaderValue).
  get header(): Headers {
    return this[kContext].requestHeader;
  }
}

/** The UnaryResponse the implementation's wrapper returns: headers and trailers made on first use. */
class UnaryCallResponse {
  readonly stream = false;

  constructor(
    readonly message: MessageShape<DescMessage>,
    readonly method: RegisteredMethod["method"],
    readonly service: RegisteredMethod["service"],
    private readonly ctx: LazyContext,
  ) {}

  get header(): Headers {
    return this.ctx.responseHeader;
  }

  get trailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

/** What the implementation sees when an interceptor replaced the request (as connect's mergeRequest). */
export function merged(ctx: LazyContext, r: UnaryRequest): HandlerContext {
  return {
    method: ctx.method,
    service: r.service,
    signal: r.signal ?? ctx.signal,
    timeoutMs: ctx.timeoutMs,
    requestMethod: ctx.requestMethod,
    requestHeader: r.header ?? ctx.requestHeader,
    responseHeader: ctx.responseHeader,
    responseTrailer: ctx.responseTrailer,
    protocolName: ctx.protocolName,
    values: r.contextValues,
    url: ctx.url,
    abort: (reason?: unknown) => ctx.abort(reason),
  } as HandlerContext;
}

/**
 * connect's createHandlerContext with the same observable behaviour, but the AbortController (with
 * its deadline timer and shutdown listener) and the request Headers are made on first access.
 * Nobody can watch a signal they never got, so a call that ends before anyone asked costs nothing.
 */
export class LazyContext implements CallContext, DeadlineNode {
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
  private rawHeaders: IncomingHttpHeaders | undefined;
  private header: Headers | undefined;
  private ctrl: AbortController | undefined;
  /** When the deadline passes (Date.now() ms), if the call has one. */
  readonly deadline: number | undefined;
  // The deadline timer: a place in the shared queue, or (queue undefined) a timer of its own.
  private armed = false;
  private timer: NodeJS.Timeout | undefined;
  dlPrev: DeadlineNode | undefined = undefined;
  dlNext: DeadlineNode | undefined = undefined;
  dlQueue: DeadlineQueue | undefined = undefined;
  private ended = false;
  private endReason: unknown;
  private unlink: (() => void) | undefined;
  // What guard() waits for: the reject of its promise and the work it guards (more than one only
  // if a stream is read concurrently).
  private waitReject: ((e: unknown) => void) | undefined;
  private waitWork: Promise<unknown> | undefined;
  private moreWaits: Array<[(e: unknown) => void, Promise<unknown>]> | undefined;

  constructor(
    m: RegisteredMethod,
    init: CallInit,
    readonly values: ContextValues,
    timeoutMs: number | undefined,
    private readonly queue: DeadlineQueue | undefined,
    private readonly shutdownSignal: AbortSignal,
    private readonly logger: Logger | undefined,
  ) {
    this.method = m.method;
    this.service = m.service;
    this.protocolName = init.protocol;
    this.requestMethod = init.requestMethod;
    this.url = init.url;
    if (init.nodeHeaders !== undefined) this.rawHeaders = init.nodeHeaders;
    else if (init.ownRequestHeader && init.requestHeader instanceof Headers) this.header = init.requestHeader;
    else this.headerInit = init.requestHeader;
    this.requestSignal = init.requestSignal;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.deadline = deadline;
    // A timeout of 0 ("grpc-timeout: 0S", "connect-timeout-ms: 0") has passed already: the call ends
    // now, whatever path it takes (an implementation that answers within a microtask would otherwise
    // beat the timer on one path and not on a slower one, such as a compressed request's).
    if (timeoutMs !== undefined && timeoutMs <= 0) {
      this.ended = true;
      this.endReason = timedOut();
    }
    this.timeoutMs = () => (deadline === undefined ? undefined : deadline - Date.now());
  }

  private readonly requestSignal: AbortSignal | undefined;

  get requestHeader(): Headers {
    if (this.header === undefined) {
      this.header = this.rawHeaders !== undefined ? new NodeHeaders(this.rawHeaders) : new Headers(this.headerInit);
      this.headerInit = undefined;
    }
    return this.header;
  }

  /** One request header (lower-case name), read without making the fetch Headers while it is not made. */
  headerValue(name: string): string | null {
    if (this.header !== undefined) return this.header.get(name);
    const raw = this.rawHeaders;
    if (raw !== undefined) {
      const v = raw[name];
      return v === undefined ? null : typeof v === "string" ? v : v.join(", ");
    }
    const init = this.headerInit;
    // Name-value pairs (REST's metadata): the last match wins for set(), all are joined for get().
    if (Array.isArray(init)) {
      let out: string | null = null;
      for (const [k, v] of init as Array<[string, string]>) if (k.toLowerCase() === name) out = out === null ? v : `${out}, ${v}`;
      return out;
    }
    return this.requestHeader.get(name);
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
      this.arm();
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
    if (this.armed) {
      if (this.queue !== undefined) this.queue.remove(this);
      else clearTimeout(this.timer);
    }
    this.unlink?.();
    // Ended with a reason (deadline, client reset, cancel) while the implementation still runs: the
    // call ends now, whatever it does later (as grpc-js's server sends DEADLINE_EXCEEDED from a timer).
    if (reason !== undefined && this.waitReject !== undefined) this.release(ConnectError.from(reason));
    this.ctrl?.abort(reason);
  }

  /** Starts the deadline timer if the call has a deadline (once; the signal's getter reuses it). */
  arm(): void {
    if (this.deadline === undefined || this.armed || this.ended) return;
    this.armed = true;
    // A deadline that already passed fires on the queue's next turn (the queue reads the clock).
    if (this.queue !== undefined) return this.queue.add(this);
    const left = this.deadline - Date.now();
    if (left <= 0) return this.abort(timedOut());
    this.timer = setTimeout(expire, left, this);
  }

  /** The deadline passed (the timer): the call ends with DEADLINE_EXCEEDED. */
  expire(): void {
    this.abort(timedOut());
  }

  /**
   * Runs a unary implementation: its response, or the call's end reason as soon as the call ends
   * with one (the deadline passed) if that comes first; see guard(). Written out rather than
   * guard(async ...) to spare a promise and a tick per call.
   */
  invoke(spec: UnarySpec, service: RegisteredMethod["service"], r: UnaryRequest, implCtx: HandlerContext): Promise<UnaryResponse> {
    // Ended before it started (a deadline of 0, a client already gone): the implementation is not run.
    if (this.ended && this.endReason !== undefined) return Promise.reject(ConnectError.from(this.endReason));
    return new Promise<UnaryResponse>((resolve, reject) => {
      // A synchronous throw of the implementation rejects this promise (the executor's rule).
      const work = Promise.resolve(spec.impl(r.message, implCtx));
      if (this.deadline !== undefined) {
        if (this.ended && this.endReason !== undefined) {
          this.dropLate(work);
          return reject(ConnectError.from(this.endReason));
        }
        if (this.waitReject !== undefined) (this.moreWaits ??= []).push([this.waitReject, this.waitWork!]);
        this.waitReject = reject;
        this.waitWork = work;
      }
      work.then(
        (out) => {
          if (this.waitReject === reject) this.unwait(reject);
          try {
            resolve((this.response = new UnaryCallResponse(create(spec.method.output, out), spec.method, service, this) as unknown as UnaryResponse));
          } catch (e) {
            reject(e);
          }
        },
        (e: unknown) => {
          if (this.waitReject === reject) this.unwait(reject);
          reject(e);
        },
      );
    });
  }

  /**
   * The implementation's work as the chain sees it: settled by the work, or rejected as soon as the
   * call ends with a reason (its deadline passed: DEADLINE_EXCEEDED) if that comes first. A result
   * or error the work brings after that is dropped (logged at debug). Calls without a deadline are
   * not wrapped (a chat subscription reads its messages straight through).
   */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.deadline === undefined) return work;
    this.arm();
    if (this.ended) {
      if (this.endReason === undefined) return work;
      this.dropLate(work);
      return Promise.reject(ConnectError.from(this.endReason));
    }
    return new Promise<T>((resolve, reject) => {
      if (this.waitReject !== undefined) (this.moreWaits ??= []).push([this.waitReject, this.waitWork!]);
      this.waitReject = reject;
      this.waitWork = work;
      work.then(
        (v) => {
          this.unwait(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.unwait(reject);
          reject(e);
        },
      );
    });
  }

  /** The call ended with a reason (deadline, cancel): guard() rejects. */
  get over(): boolean {
    return this.ended && this.endReason !== undefined;
  }

  /** Whether guard() wraps anything: the call has a deadline. */
  get guarded(): boolean {
    return this.deadline !== undefined;
  }

  private unwait(reject: (e: unknown) => void): void {
    if (this.waitReject === reject) {
      const next = this.moreWaits?.pop();
      this.waitReject = next?.[0];
      this.waitWork = next?.[1];
    } else if (this.moreWaits !== undefined) {
      const i = this.moreWaits.findIndex((w) => w[0] === reject);
      if (i >= 0) this.moreWaits.splice(i, 1);
    }
  }

  // Rejects every guard() still waiting with `err`; their work's late outcome is only logged.
  private release(err: ConnectError): void {
    const waits: Array<[(e: unknown) => void, Promise<unknown>]> = [[this.waitReject!, this.waitWork!], ...(this.moreWaits ?? [])];
    this.waitReject = this.waitWork = this.moreWaits = undefined;
    for (const [reject, work] of waits) {
      reject(err);
      this.dropLate(work);
    }
  }

  // The outcome of work that finished after its call ended: nobody waits for it any more.
  private dropLate(work: Promise<unknown>): void {
    const log = this.logger;
    const method = this.method;
    work.then(
      () => log?.debug({ method: `${method.parent.typeName}/${method.name}`, protocol: this.protocolName }, "a result came after the call ended; dropped"),
      (err: unknown) => log?.debug({ method: `${method.parent.typeName}/${method.name}`, protocol: this.protocolName, err }, "an error came after the call ended; dropped"),
    );
  }
}

// The deadline timer's callback (a module function: no closure per call).
function expire(ctx: LazyContext): void {
  ctx.expire();
}

function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}
