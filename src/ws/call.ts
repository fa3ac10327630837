import { create, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { peekResponseHeaders, responseHeadersOf, responseIdOf, type CallContext, type Pipeline } from "../core/pipeline.js";
import type { RegisteredMethod } from "../core/registry.js";
import { JsonText, type ClientFrame, type Detail, type ServerFrame } from "./frame.js";
import type { MessageCodec } from "./message.js";
import { InputQueue } from "./queue.js";
import { MessageFrames } from "./wire.js";

type Msg = MessageShape<DescMessage>;

/** What a call needs from its connection. */
export interface CallHost {
  readonly pipeline: Pipeline;
  readonly codec: MessageCodec;
  readonly maxBufferedBytes: number;
  readonly maxPendingMessages: number;
  /** Bytes waiting in the connection's send buffer. */
  buffered(): number;
  /** Writes a frame if the connection is open. */
  send(frame: ServerFrame): void;
  /** Writes a whole WebSocket frame (wire.ts) if the connection is open. */
  sendFrame(frame: Buffer): void;
  /** The call sent its final frame; forget its id. */
  done(id: string): void;
  /** Reports an error the client does not see in full (internal errors). */
  report(err: unknown, id: string, method: string): void;
}

/**
 * One stream of a WebSocket connection: feeds client frames into the shared Pipeline and turns what
 * the implementation answers into frames. Sends exactly one final frame, whatever happens first:
 * the implementation ends, fails, the deadline passes, the client cancels, or the session shuts down.
 */
export class WsCall {
  private input?: InputQueue<Msg>;
  private iterator?: AsyncIterator<Msg>;
  private headersSent = false;
  private finished = false;
  // The deadline is this call's own timer: the context's signal is left alone (created lazily, only
  // if the implementation or an interceptor asks for it), so most calls need no AbortController.
  private timer?: NodeJS.Timeout;
  // This stream's {id, message} frames with the id encoded once (made at the first message).
  private frames?: MessageFrames;

  constructor(
    private readonly host: CallHost,
    readonly id: string,
    readonly m: RegisteredMethod,
    private readonly ctx: CallContext,
  ) {
    const left = ctx.timeoutMs();
    if (left !== undefined) this.timer = setTimeout(() => this.cancel(new ConnectError("the operation timed out", Code.DeadlineExceeded)), left);
  }

  /** Starts the call with its first frame. */
  start(first: ClientFrame): void {
    const kind = this.m.spec.kind;
    try {
      if (kind === "unary" || kind === "server_streaming") {
        const req = this.host.codec.decode(this.m.method.input, first.message, first.size);
        this.run(kind === "unary" ? req : createAsyncIterable([req]));
        return;
      }
      this.input = new InputQueue<Msg>();
      this.run(this.input);
      this.accept(first);
    } catch (e) {
      this.finish(e);
    }
  }

  /** A later frame of this stream (or the first one's message and end, for client streams). */
  onFrame(f: ClientFrame): void {
    if (this.finished) return;
    if (f.cancel) return this.cancel(new ConnectError("canceled by the client", Code.Canceled));
    if (f.method !== "") return this.finish(new ConnectError(`stream "${this.id}" is already open; "method" belongs in its first frame only`, Code.InvalidArgument));
    this.accept(f);
  }

  private accept(f: ClientFrame): void {
    if (f.message !== undefined) {
      if (!this.input || this.input.closed) {
        return this.finish(new ConnectError(`stream "${this.id}" takes no more requests (${this.input ? "the client ended it" : "one request per call for this method"})`, Code.InvalidArgument));
      }
      if (this.input.size >= this.host.maxPendingMessages) {
        return this.finish(new ConnectError(`more than ${this.host.maxPendingMessages} requests wait unread on stream "${this.id}"`, Code.ResourceExhausted));
      }
      try {
        this.input.push(this.host.codec.decode(this.m.method.input, f.message, f.size));
      } catch (e) {
        return this.finish(e);
      }
    }
    if (f.end) this.input?.end();
  }

  /**
   * Ends the call now with `reason` as its final status (client cancel, deadline, bad frame,
   * shutdown), whether or not the implementation watches its signal: the final frame goes out at
   * once, the implementation's signal fires, and whatever it still produces is dropped.
   */
  cancel(reason: ConnectError): void {
    this.finish(reason);
  }

  /** Same as cancel(): ends the call with `err` as its final status. */
  fail(err: ConnectError): void {
    this.finish(err);
  }

  /** The connection is gone: stop the implementation without sending anything. */
  drop(): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup(new ConnectError("the WebSocket connection closed", Code.Canceled));
  }

  // Callbacks rather than an async function: resuming an awaiting frame costs about twice a `.then`
  // reaction, and a fan-out pays it once per subscriber and message. (Inline arrows, not named
  // consts: tsx's keepNames would pay an Object.defineProperty for each per call.)
  private run(input: Msg | AsyncIterable<Msg>): void {
    const { pipeline } = this.host;
    try {
      if (this.m.spec.kind === "unary") {
        pipeline.unary(this.m, this.ctx, input as Msg).then(
          (res) => this.settle(undefined, res),
          (e: unknown) => this.settle(e),
        );
        return;
      }
      const it = pipeline.stream(this.m, this.ctx, input as AsyncIterable<Msg>)[Symbol.asyncIterator]();
      this.iterator = it;
      // One read at a time, not raced against a cancel promise (a long stream would pile reactions
      // onto it): a cancel finishes the call directly, and the next result is then dropped.
      const failed = (e: unknown): void => this.settle(e);
      const step = (r: IteratorResult<Msg>): void => {
        if (this.finished) return;
        if (r.done === true) {
          this.iterator = undefined;
          return this.settle();
        }
        try {
          this.sendMessage(r.value);
          it.next().then(step, failed);
        } catch (e) {
          this.settle(e);
        }
      };
      it.next().then(step, failed);
    } catch (e) {
      this.finish(e);
    }
  }

  // finish() from a promise callback: nothing it throws may become an unhandled rejection.
  private settle(err?: unknown, res?: Msg): void {
    try {
      this.finish(err, res);
    } catch (e) {
      this.host.report(e, this.id, this.m.path);
    }
  }

  private sendMessage(msg: Msg): void {
    // The stated slow-consumer policy: a stream that would add to an over-full send buffer ends
    // with RESOURCE_EXHAUSTED instead of buffering without bound; other streams keep their chance.
    const waiting = this.host.buffered();
    if (waiting > this.host.maxBufferedBytes) {
      throw new ConnectError(`the client reads too slowly: ${waiting} bytes wait to be sent on this connection (limit ${this.host.maxBufferedBytes})`, Code.ResourceExhausted);
    }
    const message = this.host.codec.encode(this.m.method.output, msg) as JsonText | Uint8Array;
    if (!this.headersSent) {
      const frame: ServerFrame = { id: this.id, message };
      this.attachHeaders(frame);
      if (frame.headers) return this.host.send(frame);
    }
    // Most messages: {id, message} straight into one buffer (a shared message's bytes made once).
    const frames = (this.frames ??= new MessageFrames(this.id, this.host.codec.format));
    this.host.sendFrame(frames.frame(message instanceof JsonText ? message.utf8() : message));
  }

  private attachHeaders(frame: ServerFrame): void {
    if (this.headersSent) return;
    this.headersSent = true;
    // What the call set, then `x-request-id` (as writeResponseHeader does), without making a
    // fetch Headers just to add the id: most calls set no headers of their own.
    const h = peekResponseHeaders(this.ctx, "header");
    let out: Record<string, string> | undefined;
    if (h && hasAny(h)) out = record(h);
    const id = responseIdOf(this.ctx);
    if (id !== "") (out ??= {})["x-request-id"] = id;
    if (out) frame.headers = out;
  }

  private finish(err?: unknown, unaryResult?: Msg): void {
    if (this.finished) return;
    this.finished = true;
    const frame: ServerFrame = { id: this.id, end: true };
    let error = err === undefined ? undefined : this.clientError(err);
    if (unaryResult !== undefined) {
      try {
        frame.message = this.host.codec.encode(this.m.method.output, unaryResult);
      } catch (e) {
        error = this.clientError(e);
      }
    }
    if (error) delete frame.message;
    this.attachHeaders(frame);
    const trailers = responseHeadersOf(this.ctx, "trailer");
    const t = trailers && hasAny(trailers) ? record(trailers) : {};
    error?.metadata.forEach((v, k) => (t[k] = v));
    if (Object.keys(t).length > 0) frame.trailers = t;
    frame.status = error ? { code: error.code, message: error.rawMessage, details: details(error) } : { code: 0, message: "" };
    this.host.send(frame);
    this.cleanup(error);
  }

  private cleanup(reason?: ConnectError): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (reason) this.input?.fail(reason);
    else this.input?.end();
    // Implementations that still run (a stream the client cancelled) see their signal fire.
    this.ctx.abort(reason);
    const it = this.iterator;
    this.iterator = undefined;
    // An error of the bridge's own (slow reader, send limit, its deadline timer, the client's
    // cancel) is thrown in, so that metrics and the log line carry its code, not a bare cancel.
    if (reason && it?.throw) it.throw(reason).catch(() => {});
    else if (it?.return) it.return().catch(() => {});
    this.host.done(this.id);
  }

  private clientError(e: unknown): ConnectError {
    if (e instanceof ConnectError) return e;
    this.host.report(e, this.id, this.m.path);
    return new ConnectError("internal error", Code.Internal);
  }
}

function hasAny(h: Headers): boolean {
  let any = false;
  h.forEach(() => (any = true));
  return any;
}

function record(h: Headers): Record<string, string> {
  const o: Record<string, string> = {};
  h.forEach((v, k) => (o[k] = v));
  return o;
}

function details(err: ConnectError): Detail[] {
  return err.details.map((d) =>
    "desc" in d ? { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value)) } : { type: d.type, value: d.value },
  );
}
