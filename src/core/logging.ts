import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { clientWentAway, consumerFailure } from "./errors.js";
import { protocolKey } from "./pipeline.js";

/** The protocol of a call, from the context (set by oneport's adapters) or else the content type. */
export function protocolOf(values: { get<T>(key: { id: symbol; defaultValue: T }): T }, header: Headers): string {
  const p = values.get(protocolKey);
  if (p) return p;
  const ct = header.get("content-type") ?? "";
  if (ct.startsWith("application/grpc-web")) return "grpc-web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** Logs one line per call (protocol, method, code, duration); for streams, when the stream ends. */
export function loggingInterceptor(logger: Logger): Interceptor {
  // The level may change at run time, so it is checked per call; when info is off the call goes
  // straight through, without an extra async frame.
  return (next) => (req) => (logger.isLevelEnabled("info") ? logged(logger, next, req) : next(req));
}

const codeNames = new Map<Code, string>();
// "InvalidArgument" -> "invalid_argument", computed once per code.
function codeName(code: Code): string {
  let n = codeNames.get(code);
  if (n === undefined) codeNames.set(code, (n = Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase())));
  return n;
}

/** One call with its log line. */
async function logged(logger: Logger, next: Parameters<Interceptor>[0], req: Parameters<Parameters<Interceptor>[0]>[0]) {
  const start = performance.now();
  const method = `${req.service.typeName}/${req.method.name}`;
  const done = (err?: unknown) => {
    const code = err === undefined ? "ok" : codeName(ConnectError.from(err).code);
    // The request headers are only read when the context does not name the protocol (they are lazy).
    const protocol = req.contextValues.get(protocolKey) || protocolOf(req.contextValues, req.header);
    const line = { protocol, method, code, ms: Math.round((performance.now() - start) * 100) / 100 };
    if (err !== undefined && ConnectError.from(err).code === Code.Internal) logger.error({ ...line, err }, "call failed");
    else logger.info(line, "call");
  };
  try {
    const res = await next(req);
    if (!res.stream) {
      done();
      return res;
    }
    return { ...res, message: logEnd(res.message, done) };
  } catch (e) {
    done(e);
    throw e;
  }
}

// The stream as the client reads it, calling `done` once: when it ends or fails, or with CANCELED
// when the reader stops early or reports that it could not deliver a response (connect-node throws
// its write error in; the client went away). An iterator object rather than an async generator
// around `yield*`: a chat fan-out pays the generator's promise hops once per subscriber and message.
function logEnd<T>(message: AsyncIterable<T>, done: (err?: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = message[Symbol.asyncIterator]();
      let over = false;
      // A read still pending when the reader stops settles later: the call is logged once.
      let logged = false;
      const once = (err?: unknown) => {
        if (logged) return;
        logged = true;
        done(err);
      };
      const end = (v?: unknown) => Promise.resolve({ value: v, done: true } as IteratorResult<T>);
      return {
        next: () =>
          over
            ? end()
            : it.next().then(
                (r) => {
                  if (r.done === true) {
                    over = true;
                    once();
                  }
                  return r;
                },
                (e: unknown) => {
                  over = true;
                  once(e);
                  throw e;
                },
              ),
        return: (v?: unknown) => {
          if (over) return end(v);
          over = true;
          once(clientWentAway());
          return it.return ? it.return(v) : end(v);
        },
        // Passed on: the error guard inside stops the implementation (see consumerFailure).
        throw: (e?: unknown) => {
          once(consumerFailure(e));
          return it.throw ? it.throw(e) : Promise.reject(e);
        },
      };
    },
  };
}
