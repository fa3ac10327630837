import { create, isMessage, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import type { RegisteredMethod } from "./registry.js";

type Msg = MessageShape<DescMessage>;
type StreamSpec = Exclude<RegisteredMethod["spec"], { kind: "unary" }>;

/**
 * connect's transformInvokeImplementation for the three streaming kinds, with the same observable
 * behaviour (the call starts on the first read, interceptors wrap it once, response headers are
 * copied before the first message and trailers after the last) but without its generator layers:
 * connect runs every response through a down-levelled async generator and two delegating
 * wrappers, about six promise hops per message, which a chat fan-out pays once per subscriber.
 * Here a message costs the implementation's own iterator plus one normalizing `.then`.
 * `ctx` must be a view whose lazy fields are getters (LazyContext.view()).
 */
export function invokeStream(m: RegisteredMethod & { spec: StreamSpec }, ctx: HandlerContext, interceptors: Interceptor[], input: AsyncIterable<Msg>): AsyncIterable<Msg> {
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
  const own = (message: AsyncIterable<Msg>): StreamResponse => ({
    stream: true,
    message,
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
  const impl = async (r: StreamRequest): Promise<StreamResponse> => {
    switch (spec.kind) {
      case "server_streaming":
        return own(normalized(output, spec.impl(await single(r.message), implCtx(r))));
      case "client_streaming":
        return own(createAsyncIterable([create(output, await spec.impl(r.message, implCtx(r)))]));
      case "bidi_streaming":
        return own(normalized(output, spec.impl(r.message, implCtx(r))));
    }
  };
  let next = impl as (r: StreamRequest) => Promise<StreamResponse>;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i](next as never) as typeof next;

  return {
    [Symbol.asyncIterator]() {
      let state: { s: "new" } | { s: "starting"; p: Promise<AsyncIterator<Msg>> } | { s: "running"; it: AsyncIterator<Msg> } | { s: "done" } = { s: "new" };
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
                };
          if (state.s === "starting") state = { s: "running", it: wrapped };
          return wrapped;
        });
        state = { s: "starting", p };
        p.catch(() => (state = { s: "done" }));
        return p;
      };
      return {
        next(): Promise<IteratorResult<Msg>> {
          switch (state.s) {
            case "running":
              return state.it.next();
            case "new":
              return start().then((it) => it.next());
            case "starting":
              return state.p.then((it) => it.next());
            case "done":
              return Promise.resolve({ value: undefined, done: true });
          }
        },
        return(v?: unknown): Promise<IteratorResult<Msg>> {
          const s = state;
          state = { s: "done" };
          const stop = (it: AsyncIterator<Msg>) => (it.return ? it.return(v) : Promise.resolve({ value: undefined, done: true as const }));
          if (s.s === "running") return stop(s.it);
          if (s.s === "starting") return s.p.then(stop, () => ({ value: undefined, done: true as const }));
          return Promise.resolve({ value: undefined, done: true });
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
