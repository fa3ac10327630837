import { create, isMessage, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import type { RegisteredMethod } from "./registry.js";

type Msg = MessageShape<DescMessage>;
type StreamSpec = Exclude<RegisteredMethod["spec"], { kind: "unary" }>;

/** What enforces a call's deadline (LazyContext): see LazyContext.guard. */
export interface DeadlineGuard {
  /** Whether the call has a deadline (else guard() returns its argument). */
  readonly guarded: boolean;
  /** The promise, or DEADLINE_EXCEEDED at the deadline if that comes first. */
  guard<T>(work: Promise<T>): Promise<T>;
  /** The call ended with a reason (deadline, cancel): every guarded promise is rejected. */
  readonly over: boolean;
}

/**
 * connect's transformInvokeImplementation for the three streaming kinds, with the same observable
 * behaviour (the call starts on the first read, interceptors wrap it once, response headers are
 * copied before the first message and trailers after the last) but without its generator layers:
 * connect runs every response through a down-levelled async generator and two delegating
 * wrappers, about six promise hops per message, which a chat fan-out pays once per subscriber.
 * Here a message costs the implementation's own iterator plus one normalizing `.then`.
 * `ctx` must be a view whose lazy fields are getters (LazyContext.view()).
 */
export function invokeStream(
  m: RegisteredMethod & { spec: StreamSpec },
  ctx: HandlerContext,
  interceptors: Interceptor[],
  input: AsyncIterable<Msg>,
  deadline?: DeadlineGuard,
): AsyncIterable<Msg> {
  const spec = m.spec;
  const output = spec.method.output;
  // The request and response objects read the lazy fields only when someone asks (as Pipeline.unary).
  const req: StreamRequest = {
    stream: true,
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
  // With a deadline, the implementation's start and each of its messages are guarded: a stream
  // whose generator is stuck in an await still ends with DEADLINE_EXCEEDED at the deadline, and every
  // interceptor (logging, metrics) sees that end.
  const guard = deadline?.guarded ? deadline : undefined;
  const own = (message: AsyncIterable<Msg>): StreamResponse => ({
    stream: true,
    message: guard ? guarded(message, guard) : message,
    method: spec.method,
    service: m.service,
    get header() {
      return ctx.responseHeader;
    },
    get trailer() {
      return ctx.responseTrailer;
    },
  });
  // What the implementation sees: the context itself, or connect's merge when an interceptor replaced the request.
  const implCtx = (r: StreamRequest): HandlerContext =>
    r === req ? ctx : ({ ...ctx, service: r.service, requestHeader: r.header, signal: r.signal, values: r.contextValues } as HandlerContext);
  const run = async (r: StreamRequest): Promise<StreamResponse> => {
    switch (spec.kind) {
      case "server_streaming":
        return own(normalized(output, spec.impl(await single(r.message), implCtx(r))));
      case "client_streaming":
        return own(createAsyncIterable([create(output, await spec.impl(r.message, implCtx(r)))]));
      case "bidi_streaming":
        return own(normalized(output, spec.impl(r.message, implCtx(r))));
    }
  };
  const impl = guard ? (r: StreamRequest) => guard.guard(run(r)) : run;
  let next = impl as (r: StreamRequest) => Promise<StreamResponse>;
  for (let i = interceptors.length - 1; i >= 0; i--) next = wrap(interceptors[i], next);

  return {
    [Symbol.asyncIterator]() {
      let state: { s: "new" } | { s: "starting"; p: Promise<AsyncIterator<Msg>> } | { s: "running"; it: AsyncIterator<Msg> } | { s: "done" } = { s: "new" };
      // With a deadline: the last read, so that a return() after the call ended (an adapter that
      // stops reading once it sent the final status) comes after the interceptors saw that read fail.
      let last: Promise<unknown> | undefined;
      const start = (): Promise<AsyncIterator<Msg>> => {
        const p = next(req).then((res) => {
          // An interceptor that returned other header objects: connect copies them over (once).
          if (res.header !== ctx.responseHeader) copyHeaders(res.header, ctx.responseHeader);
          const it = (res.message as AsyncIterable<Msg>)[Symbol.asyncIterator]();
          const trailer = res.trailer;
          const wrapped: AsyncIterator<Msg> =
            trailer === ctx.responseTrailer
              ? it
              : {
                  next: () =>
                    it.next().then((r) => {
                      if (r.done) copyHeaders(trailer, ctx.responseTrailer);
                      return r;
                    }),
                  return: it.return ? (v?: unknown) => it.return!(v) : undefined,
                  throw: it.throw ? (e?: unknown) => it.throw!(e) : undefined,
                };
          if (state.s === "starting") state = { s: "running", it: wrapped };
          return wrapped;
        });
        state = { s: "starting", p };
        p.catch(() => (state = { s: "done" }));
        return p;
      };
      const finished = (): Promise<IteratorResult<Msg>> => Promise.resolve({ value: undefined, done: true });
      const stop = (it: AsyncIterator<Msg>, v?: unknown) => (it.return ? it.return(v) : finished());
      return {
        next(): Promise<IteratorResult<Msg>> {
          let p: Promise<IteratorResult<Msg>>;
          switch (state.s) {
            case "running":
              p = state.it.next();
              break;
            case "new":
              p = start().then((it) => it.next());
              break;
            case "starting":
              p = state.p.then((it) => it.next());
              break;
            case "done":
              return finished();
          }
          if (guard) last = p;
          return p;
        },
        return(v?: unknown): Promise<IteratorResult<Msg>> {
          const s = state;
          state = { s: "done" };
          const stopWith = (it: AsyncIterator<Msg>) => stop(it, v);
          // The call ended (deadline, cancel) while a read was pending: that read is rejected now
          // (see LazyContext.guard); the interceptors (logging, metrics) see it end that way first,
          // not as a reader that stopped early.
          const pending = last;
          if (guard?.over && pending !== undefined && s.s !== "done") {
            const later = () => (s.s === "running" ? stopWith(s.it) : s.s === "starting" ? s.p.then(stopWith, finished) : finished());
            return pending.then(later, later);
          }
          if (s.s === "running") return stopWith(s.it);
          if (s.s === "starting") return s.p.then(stopWith, finished);
          return finished();
        },
        // The reader ends the call with an error of its own (the WebSocket bridge: a client that reads
        // too slowly, a message over the send limit): the interceptors record that error, and the
        // error guard stops the implementation (src/core/errors.ts consumerFailure).
        throw(e?: unknown): Promise<IteratorResult<Msg>> {
          const s = state;
          if (s.s !== "running" && s.s !== "starting") return this.return!();
          state = { s: "done" };
          const raise = (it: AsyncIterator<Msg>) => (it.throw ? it.throw(e) : stop(it));
          return s.s === "running" ? raise(s.it) : s.p.then(raise, finished);
        },
      };
    },
  };
}

/**
 * Set to true on an AsyncIterable whose items are all complete messages of the method's output type
 * (made with create()): the stream hands it to readers as it is, without a normalizing `.then` per
 * message (the chat's room streams: a fan-out pays each layer once per subscriber and message).
 */
export const yieldsFullMessages = Symbol("oneport yields full messages");

// connect's normalizeIterable: the implementation may yield partial messages; readers get full ones.
function normalized(desc: DescMessage, src: AsyncIterable<unknown>): AsyncIterable<Msg> {
  if ((src as { [yieldsFullMessages]?: boolean })[yieldsFullMessages] === true) return src as AsyncIterable<Msg>;
  return {
    [Symbol.asyncIterator]() {
      const it = src[Symbol.asyncIterator]();
      // Most implementations yield full messages: their result objects pass through as they are.
      const full = (r: IteratorResult<unknown>): IteratorResult<Msg> =>
        r.done === true || isMessage(r.value, desc) ? (r as IteratorResult<Msg>) : { done: false, value: create(desc, r.value as Msg) };
      return {
        next: () => it.next().then(full),
        return: it.return ? (v?: unknown) => it.return!(v).then(full) : undefined,
        throw: it.throw ? (e?: unknown) => it.throw!(e).then(full) : undefined,
      };
    },
  };
}

// Each next() of a response stream, guarded by the call's deadline.
function guarded(src: AsyncIterable<Msg>, g: DeadlineGuard): AsyncIterable<Msg> {
  return {
    [Symbol.asyncIterator]() {
      const it = src[Symbol.asyncIterator]();
      return {
        next: () => g.guard(it.next()),
        return: it.return ? (v?: unknown) => it.return!(v) : undefined,
        throw: it.throw ? (e?: unknown) => it.throw!(e) : undefined,
      };
    },
  };
}

// connect's ensureSingle: exactly one request for a server-streaming call.
async function single(input: AsyncIterable<Msg>): Promise<Msg> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) throw new ConnectError("protocol error: missing input message for server-streaming method", Code.Unimplemented);
  const second = await it.next();
  if (second.done !== true) throw new ConnectError("protocol error: received extra input message for server-streaming method", Code.Unimplemented);
  return first.value;
}

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  to.forEach((_, key) => to.delete(key));
  from.forEach((value, key) => to.set(key, value));
}

/**
 * An interceptor applied to `next`. One that throws while it wraps (before it ever sees a request)
 * fails this call like one that throws from its inner function: the interceptors outside it (the
 * error guard, metrics, logging) see the error, and the process goes on.
 */
export function wrap<N>(interceptor: Interceptor, next: N): N {
  try {
    return interceptor(next as never) as N;
  } catch (e) {
    return (() => Promise.reject(e)) as N;
  }
}
