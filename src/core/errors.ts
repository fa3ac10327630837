import { randomBytes } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { protocolKey, requestHeaderValue } from "./pipeline.js";

/** The id of a call, sent back as `x-request-id` and written in every log line about it. */
export const requestIdKey = createContextKey<string>("", { description: "oneport request id" });

/**
 * Set (to the request id) when a call that came through one of oneport's adapters succeeded: the
 * adapter writes `x-request-id` straight into the wire headers (see writeResponseHeader) instead of
 * the interceptor creating a fetch Headers per call for it.
 */
export const responseIdKey = createContextKey<string>("", { description: "oneport x-request-id to send" });

// A client may bring its own id (from a proxy, say) if it is short and plain.
const CLIENT_ID = /^[\w.:-]{1,64}$/;

// Ids are a random per-process prefix and a counter, shaped like a version-4 UUID: unique without
// asking the CSPRNG on every call (ids are correlation handles, not secrets).
const rnd = randomBytes(10).toString("hex");
const PREFIX = `${rnd.slice(0, 8)}-${rnd.slice(8, 12)}-4${rnd.slice(12, 15)}-${"89ab"[parseInt(rnd[15], 16) & 3]}${rnd.slice(16, 19)}-`;
let counter = 0;

/** A new request id: unique in this process (and, with its random prefix, across processes). */
export function newRequestId(): string {
  counter = (counter + 1) % 0x1000000000000;
  return PREFIX + counter.toString(16).padStart(12, "0");
}

/** The id to use for a call: the client's own if it is plain and short, else a new one. */
export function requestIdFor(given: string | null): string {
  return given !== null && CLIENT_ID.test(given) ? given : newRequestId();
}

/**
 * Keeps internals off the wire: an error that is not a ConnectError (a bug, a failed dependency)
 * reaches the client as INTERNAL with only the request id; its message and stack go to the log.
 * ConnectErrors are the service's deliberate answers and pass unchanged, minus their cause.
 * It runs on every call: no async frame (one `.then`), and no Headers for oneport's own adapters.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => (req) => {
    const id = requestIdFor(requestHeaderValue(req, "x-request-id"));
    const values = req.contextValues;
    values.set(requestIdKey, id);
    let res: ReturnType<typeof next>;
    try {
      res = next(req);
    } catch (e) {
      return Promise.reject(sanitize(e, id, req, logger));
    }
    return res.then(
      (r) => {
        // oneport's adapters (they name the protocol) write the header themselves; connect-node's needs it set.
        if (values.get(protocolKey) !== "") values.set(responseIdKey, id);
        else {
          r.header.set("x-request-id", id);
          // connect-node's HTTP/2 calls: one that succeeded after the client reset its stream was cancelled.
          // Client and bidi streams learn of a reset after their input ended (afterResetNews).
          if (req.contextValues.get(h2StreamKey) !== undefined) {
            const input = req.method.methodKind === "client_streaming" || req.method.methodKind === "bidi_streaming";
            if (r.stream) return { ...r, message: sanitized(r.message, id, req, logger, input ? "wait" : "check") };
            if (input) return afterResetNews().then(() => okUnlessReset(r, id, req, logger));
            return okUnlessReset(r, id, req, logger);
          }
        }
        if (!r.stream) return r;
        return { ...r, message: sanitized(r.message, id, req, logger, "no") };
      },
      (e: unknown) => {
        throw sanitize(e, id, req, logger);
      },
    ) as ReturnType<typeof next>;
  };
}

type AnyRequest = Parameters<Parameters<Interceptor>[0]>[0];

/**
 * The HTTP/2 stream of a call connect-node serves (set by the rpc feature), so that the error guard
 * can tell a client's reset (see resetByClient). Calls of oneport's own adapters do not have it.
 */
export const h2StreamKey = createContextKey<{ readonly aborted: boolean } | undefined>(undefined, { description: "oneport HTTP/2 stream of a connect-node call" });

/**
 * Whether the client reset the HTTP/2 stream of a call connect-node serves, before the answer ended
 * (Node's `aborted`, whatever the code). connect-node aborts the call's signal with the code mapped
 * as a CLIENT maps a server's reset (INTERNAL_ERROR -> INTERNAL, REFUSED_STREAM -> UNAVAILABLE, ...),
 * so a client that reset with INTERNAL_ERROR showed up as an internal failure of the server. On a
 * server, any reset by the client is the client's cancel (as grpc-go's server reports it): whatever
 * the call then failed with, nobody reads the answer. A reset also ENDS the request stream of a
 * client or bidi stream as if the client had finished, so an implementation that then returns
 * normally would be counted OK: that is a cancel too. Calls of oneport's own adapters handle resets themselves.
 */
function resetByClient(req: AnyRequest): boolean {
  return req.contextValues.get(h2StreamKey)?.aborted === true;
}

// A unary response, or CANCELED if the client reset the call's stream meanwhile.
function okUnlessReset<R>(r: R, id: string, req: AnyRequest, logger: Logger): R {
  if (resetByClient(req)) throw sanitize(undefined, id, req, logger);
  return r;
}

/**
 * Resolves once a reset that ended a request stream is known. Node ends an HTTP/2 request's body
 * ('end') BEFORE it reports the reset that ended it ('aborted', then 'close'), in the same I/O turn:
 * an implementation that finished because its input ended is told apart from a cancelled one on the
 * next turn.
 */
function afterResetNews(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// A stream's errors, sanitized. An iterator object rather than an async generator around `yield*`,
// which costs several promise hops per message: a chat fan-out pays them once per subscriber
// (about 3.5 µs per delivery, measured with 10k subscribers). Same behaviour: done after an error.
function sanitized<T>(message: AsyncIterable<T>, id: string, req: AnyRequest, logger: Logger, reset: "no" | "check" | "wait"): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = message[Symbol.asyncIterator]();
      let over = false;
      const fail = (e: unknown): never => {
        over = true;
        throw sanitize(e, id, req, logger);
      };
      // connect-node's streams only (see resetByClient): a stream that ends after the client's reset was cancelled.
      const ended = (r: IteratorResult<T>) => (resetByClient(req) ? fail(undefined) : r);
      const done =
        reset === "no" ? undefined : (r: IteratorResult<T>): IteratorResult<T> | Promise<IteratorResult<T>> => (r.done !== true ? r : reset === "wait" ? afterResetNews().then(() => ended(r)) : ended(r));
      const end = (v?: unknown) => Promise.resolve({ value: v, done: true } as IteratorResult<T>);
      return {
        next: () => (over ? end() : it.next().then(done, fail)),
        return: (v?: unknown) => {
          if (over) return end(v);
          over = true;
          return it.return ? it.return(v).then(undefined, fail) : end(v);
        },
        // The reader could not deliver (see consumerFailure): everything inside is stopped with
        // return(), so the implementation's finally blocks run. Not passed on as a throw: connect's
        // stream generators end on a throw without closing what they delegate to (nothing would ever
        // tell the implementation), and an implementation has nothing to do with a failed write.
        throw: (e?: unknown) => {
          const stop = over || !it.return ? end() : it.return().then(undefined, () => end());
          over = true;
          return stop.then(() => Promise.reject(e));
        },
      };
    },
  };
}

/**
 * What a response stream's reader threw into it (connect-node throws its failed write: Node's
 * ERR_HTTP2_INVALID_STREAM and the like) as the call's outcome: the client went away. Everything
 * that comes up from inside the error guard is already a ConnectError, so a ConnectError is kept.
 */
export function consumerFailure(e: unknown): ConnectError {
  return e instanceof ConnectError ? e : clientWentAway();
}

/** The error of a call whose client left (reset its stream, closed its connection): CANCELED. */
export function clientWentAway(): ConnectError {
  return new ConnectError("the client went away", Code.Canceled);
}

/** The error as the client may see it (see errorInterceptor). */
function sanitize(err: unknown, id: string, req: AnyRequest, logger: Logger): ConnectError {
  const method = `${req.service.typeName}/${req.method.name}`;
  const reset = resetByClient(req);
  if (err instanceof ConnectError && !reset) {
    if (err.cause === undefined) return err;
    const clean = new ConnectError(err.rawMessage, err.code, err.metadata);
    clean.details.push(...err.details);
    return clean;
  }
  // The client's cancel, not a fault of the server: its reset (whatever the call failed with then, as
  // long as it is an answer or a stream error the reset itself causes), or its leaving.
  if (err === undefined || err instanceof ConnectError || leftEarly(err)) {
    logger.debug({ err, requestId: id, method }, reset ? "the client reset the call's stream" : "the client went away during a call");
    return clientWentAway();
  }
  // Anything else is unexpected, also after a reset (nobody reads the answer, but a TypeError in the
  // implementation is a bug of the server all the same, and counted as one).
  logger.error({ err, requestId: id, method }, "unexpected error in a call");
  const out = new ConnectError(`internal error (request id ${id})`, Code.Internal);
  out.metadata.set("x-request-id", id);
  return out;
}

/**
 * Aborts caused by the client, deadlines or shutdown are reported by connect as ConnectErrors,
 * except when Node's streams notice the client first: a request body that ends with the client's
 * reset (HTTP/2 RST_STREAM, a dropped connection) rejects with "Premature close" or ECONNRESET.
 * Nobody is left to answer; it is the client's cancel, not a fault of the server.
 */
function leftEarly(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ECONNRESET" || (err as Error | null)?.name === "AbortError";
}
