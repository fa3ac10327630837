import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type JsonValue, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { ContextValues } from "@connectrpc/connect";
import { Code, ConnectError, createContextValues, type Transport } from "@connectrpc/connect";
import { runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { headersToRecord } from "./ws-codec.js";
import { WsConnection } from "./ws-connection.js";
import type { Link } from "./ws-link.js";
import { resolveTransportOptions, type ResolvedWsTransportOptions, type WebSocketTransportOptions } from "./ws-options.js";
import { ClientStream } from "./ws-stream.js";

/** A Connect Transport over oneport's WebSocket bridge, with a handle on its shared socket. */
export interface WebSocketTransport extends Transport {
  /** Closes the shared socket (code 1000); open calls fail with CANCELED, later calls with UNAVAILABLE. */
  close(): Promise<void>;
  /** "idle" (no socket), "connecting", "open" or "closed". */
  readonly state: "idle" | "connecting" | "open" | "closed";
}

/**
 * Creates a Transport that runs every call (unary, server, client and bidi streaming) over one
 * WebSocket to the oneport bridge (default path /ws), for the generated Connect clients:
 * `createClient(ExampleService, createWebSocketTransport({baseUrl: "https://api.example.com"}))`.
 */
export function createWebSocketTransport(options: WebSocketTransportOptions): WebSocketTransport {
  const opts = resolveTransportOptions(options);
  const conn = new WsConnection(opts);
  const timeout = (t: number | undefined) => (t === undefined ? opts.defaultTimeoutMs : t <= 0 ? undefined : t);

  return {
    get state() {
      return conn.state;
    },
    close: () => conn.close(),

    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ) {
      const t = timeout(timeoutMs);
      return runUnaryCall<I, O>({
        interceptors: opts.interceptors,
        signal,
        timeoutMs: t,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: `${opts.url}#${method.parent.typeName}/${method.name}`,
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const body = encode(opts, method, req.message);
          const { link, s, stop } = await openStream(conn, req.signal);
          try {
            link.send({ id: s.id, method: methodPath(method), headers: headersToRecord(req.header), message: body, end: true, timeoutMs: wireTimeout(t) });
            const msgs = await s.all();
            if (msgs.length !== 1) {
              throw new ConnectError(`protocol error: ${msgs.length === 0 ? "missing response message" : "received extra messages"} for unary method`, Code.Unimplemented);
            }
            return { stream: false, service: method.parent, method, header: s.header, message: decode(opts, method, msgs[0]) as MessageShape<O>, trailer: s.trailer };
          } catch (e) {
            s.cancel(ConnectError.from(e));
            throw e;
          } finally {
            stop();
          }
        },
      });
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ) {
      const t = timeout(timeoutMs);
      return runStreamingCall<I, O>({
        interceptors: opts.interceptors,
        signal,
        timeoutMs: t,
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: `${opts.url}#${method.parent.typeName}/${method.name}`,
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (req) => {
          const { link, s, stop } = await openStream(conn, req.signal);
          const first = { id: s.id, method: methodPath(method), headers: headersToRecord(req.header), timeoutMs: wireTimeout(t) };
          try {
            if (method.methodKind === "server_streaming") {
              // One request: it rides in the opening frame, which also half-closes.
              let msg: unknown;
              for await (const m of req.message) msg = encode(opts, method, m);
              link.send({ ...first, message: msg, end: true });
            } else {
              link.send(first);
              void pump(opts, link, s, method, req.message, req.signal);
            }
            await s.firstFrame();
          } catch (e) {
            stop();
            s.cancel(ConnectError.from(e));
            throw e;
          }
          return {
            ...req,
            header: s.header,
            trailer: s.trailer,
            message: responses(opts, method, s, stop) as AsyncIterable<MessageShape<O>>,
          };
        },
      });
    },
  };
}

// Client and bidi streaming: each request as it comes, then half-close. Waits while the socket's
// send buffer is over its limit, because WebSocket has no other backpressure.
async function pump(opts: ResolvedWsTransportOptions, link: Link, s: ClientStream, method: DescMethod, input: AsyncIterable<unknown>, signal: AbortSignal): Promise<void> {
  try {
    for await (const m of input) {
      if (s.finished) return;
      while (link.buffered > opts.maxBufferedBytes && link.isAlive && !signal.aborted) await new Promise((r) => setTimeout(r, 5));
      if (s.finished) return;
      link.send({ id: s.id, message: encode(opts, method, m as MessageShape<DescMessage>) });
    }
    if (!s.finished) link.send({ id: s.id, end: true });
  } catch (e) {
    s.cancel(ConnectError.from(e));
  }
}

// The response messages, decoded as they are read. A plain iterator rather than an async generator:
// one promise per message instead of three.
function responses(opts: ResolvedWsTransportOptions, method: DescMethod, s: ClientStream, stop: () => void): AsyncIterable<MessageShape<DescMessage>> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        s.next().then(
          (r) => {
            if (r.done) {
              stop();
              return { done: true, value: undefined };
            }
            try {
              return { done: false, value: decode(opts, method, r.value) };
            } catch (e) {
              // A message we cannot read ends the call here and on the server.
              s.cancel(ConnectError.from(e));
              stop();
              throw e;
            }
          },
          (e: unknown) => {
            stop();
            throw e;
          },
        ),
      return: () => {
        stop();
        s.cancel(new ConnectError("the response stream was abandoned", Code.Canceled));
        return Promise.resolve({ done: true, value: undefined });
      },
    }),
  };
}

// Cancelling (the caller's AbortSignal, or the deadline) ends the call here at once and tells the
// server; the server's own final frame for it is then ignored.
/** A new stream on the shared socket (opened or waited for), cancelled when `signal` aborts; `stop` detaches that. */
async function openStream(conn: WsConnection, signal: AbortSignal): Promise<{ link: Link; s: ClientStream; stop: () => void }> {
  const link = await conn.acquire(signal);
  signal.throwIfAborted(); // aborted while the socket opened: send nothing
  await link.take(signal);
  const s = new ClientStream(link, conn.nextId());
  return { link, s, stop: onAbort(signal, s) };
}

function onAbort(signal: AbortSignal, s: ClientStream): () => void {
  const abort = () => s.cancel(ConnectError.from(signal.reason, Code.Canceled));
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort, { once: true });
  return () => signal.removeEventListener("abort", abort);
}

function methodPath(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

// The bridge takes whole milliseconds in a uint32; the client-side deadline still fires on time.
function wireTimeout(t: number | undefined): number | undefined {
  return t === undefined ? undefined : Math.min(0xffffffff, Math.max(1, Math.ceil(t)));
}

function encode(opts: ResolvedWsTransportOptions, method: DescMethod, msg: MessageShape<DescMessage>): unknown {
  if (opts.format === "json") {
    const json = toJson(method.input, msg, opts.jsonOptions);
    checkSize(jsonBytes(json), opts.maxMessageBytes, "sent");
    return json;
  }
  const bytes = toBinary(method.input, msg, opts.binaryOptions);
  checkSize(bytes.length, opts.maxMessageBytes, "sent");
  return bytes;
}

function decode(opts: ResolvedWsTransportOptions, method: DescMethod, raw: unknown): MessageShape<DescMessage> {
  try {
    if (opts.format === "json") {
      checkSize(jsonBytes(raw), opts.maxMessageBytes, "received");
      return fromJson(method.output, raw as JsonValue, { ignoreUnknownFields: true, ...opts.jsonOptions });
    }
    const bytes = raw as Uint8Array;
    checkSize(bytes.length, opts.maxMessageBytes, "received");
    return fromBinary(method.output, bytes, opts.binaryOptions);
  } catch (e) {
    if (e instanceof ConnectError) throw e;
    throw new ConnectError(`cannot decode ${method.output.typeName}: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
  }
}

// maxMessageBytes holds for both formats: a binary message's bytes, a JSON message's UTF-8 text.
function checkSize(size: number, max: number, what: "sent" | "received"): void {
  if (size > max) throw new ConnectError(`message ${what} of ${size} bytes is larger than maxMessageBytes (${max})`, Code.ResourceExhausted);
}

/** The UTF-8 length of a JSON value's text, without encoding it (no Buffer in browsers). */
function jsonBytes(value: unknown): number {
  const s = JSON.stringify(value ?? null);
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) i++, (n += 2); // a surrogate pair: 4 bytes for its 2 units
    else n += 2;
  }
  return n;
}
