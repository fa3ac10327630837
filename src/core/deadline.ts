import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { protocolOf } from "./logging.js";

type AnyResponse = Awaited<ReturnType<Parameters<Interceptor>[0]>>;

/**
 * The innermost interceptor of the calls connect-node serves itself (client and bidi streams,
 * Connect streams, compressed requests): its HandlerContext aborts the signal at the deadline but
 * nothing ends the call there, so an implementation that ignores its signal would have its late
 * result sent. This ends the call with DEADLINE_EXCEEDED at the deadline instead, as the Pipeline's
 * own contexts do (LazyContext.guard); what the implementation brings later is dropped (debug log).
 * Calls without a deadline header pass straight through.
 */
export function deadlineInterceptor(logger?: Logger): Interceptor {
  return (next) => (req) => {
    const signal = req.signal as AbortSignal | undefined;
    if (signal === undefined || (!req.header.has("grpc-timeout") && !req.header.has("connect-timeout-ms"))) return next(req);
    const where = { method: `${req.service.typeName}/${req.method.name}`, protocol: protocolOf(req.contextValues, req.header) };
    const watch = new DeadlineWatch(signal, where, logger);
    return watch.guard(next(req)).then(
      (res: AnyResponse) => {
        if (!res.stream) {
          watch.stop();
          return res;
        }
        return { ...res, message: guardedStream(res, watch) } as StreamResponse;
      },
      (e: unknown) => {
        watch.stop();
        throw e;
      },
    );
  };
}

/**
 * Why the call ended, if the signal's abort ends it: its deadline, or the client's reset of the
 * stream. connect-node reports a client's RST_STREAM(INTERNAL_ERROR), which its own client sends when
 * ITS deadline fires, as INTERNAL; from the server's side the client left: CANCELED (as
 * errorFromRstCode does for the fast path).
 */
function endReason(signal: AbortSignal): ConnectError | undefined {
  const reason = signal.reason as unknown;
  if (!signal.aborted || !(reason instanceof ConnectError)) return undefined;
  if (reason.code === Code.DeadlineExceeded) return reason;
  if (reason.code === Code.Internal && reason.rawMessage.startsWith("http/2 stream closed with error code ")) {
    return new ConnectError(reason.rawMessage.replace("http/2 stream closed", "the client reset the stream"), Code.Canceled);
  }
  return undefined;
}

/** One call's deadline: rejects what it guards when the deadline passes (or the client resets the stream). */
class DeadlineWatch {
  private reject: ((e: unknown) => void) | undefined;
  private work: Promise<unknown> | undefined;
  private readonly onAbort = () => {
    const reason = endReason(this.signal);
    if (reason === undefined || this.reject === undefined) return;
    const reject = this.reject;
    const work = this.work!;
    this.reject = this.work = undefined;
    reject(reason);
    work.then(
      () => this.logger?.debug(this.where, "a result came after the call ended; dropped"),
      (err: unknown) => this.logger?.debug({ ...this.where, err }, "an error came after the call ended; dropped"),
    );
  };

  constructor(
    private readonly signal: AbortSignal,
    private readonly where: { method: string; protocol: string },
    private readonly logger: Logger | undefined,
  ) {
    signal.addEventListener("abort", this.onAbort);
  }

  /** The work, or DEADLINE_EXCEEDED if the deadline comes first. */
  guard<T>(work: Promise<T>): Promise<T> {
    const reason = endReason(this.signal);
    if (reason !== undefined) {
      work.catch(() => {});
      return Promise.reject(reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.reject = reject;
      this.work = work;
      work.then(
        (v) => {
          if (this.reject === reject) this.reject = this.work = undefined;
          resolve(v);
        },
        (e: unknown) => {
          if (this.reject === reject) this.reject = this.work = undefined;
          reject(e);
        },
      );
    });
  }

  /** The call is over: stop listening. */
  stop(): void {
    this.signal.removeEventListener("abort", this.onAbort);
  }
}

// A response stream whose every next() is guarded; the watch stops when the stream ends.
function guardedStream(res: StreamResponse, watch: DeadlineWatch): AsyncIterable<unknown> {
  const src = res.message;
  return {
    [Symbol.asyncIterator]() {
      const it = src[Symbol.asyncIterator]();
      const done = <T>(r: T): T => (watch.stop(), r);
      return {
        next: () =>
          watch.guard(it.next()).then(
            (r) => (r.done === true ? done(r) : r),
            (e: unknown) => {
              watch.stop();
              throw e;
            },
          ),
        return: (v?: unknown) => {
          watch.stop();
          return it.return ? it.return(v) : Promise.resolve({ done: true as const, value: v });
        },
        throw: (e?: unknown) => {
          watch.stop();
          return it.throw ? it.throw(e) : Promise.reject(e);
        },
      };
    },
  };
}
