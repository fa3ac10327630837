import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { consumerFailure } from "../core/errors.js";
import { protocolOf } from "../core/logging.js";
import { protocolKey } from "../core/pipeline.js";
import type { CallCells, CallTable } from "./calls.js";

type Next = Parameters<Interceptor>[0];
type AnyRequest = Parameters<Next>[0];
type AnyResponse = Awaited<ReturnType<Next>>;

const codeOf = (err: unknown): number => (err instanceof ConnectError ? err.code : ConnectError.from(err).code);

/**
 * Counts every call on every protocol into the table: started, handled by code, handling time,
 * messages received and sent. It runs on the hot path, so unary calls get no extra async frame
 * (one `.then`), no Headers are touched when the adapter named the protocol, and only streams are
 * wrapped. A stream's time runs until its last response (or its error or cancellation).
 */
export function metricsInterceptor(table: CallTable): Interceptor {
  return (next) => (req) => {
    // Only calls that did not come through oneport's adapters (connect-node's router) need the headers.
    const protocol = req.contextValues.get(protocolKey) || protocolOf(req.contextValues, req.header);
    const cells = table.cells(protocol, req.method);
    cells.started++;
    const start = performance.now();
    if (req.stream) req = countRequests(req, cells);
    else cells.received++;
    let res: Promise<AnyResponse>;
    try {
      res = next(req);
    } catch (e) {
      cells.done(codeOf(e), start);
      throw e;
    }
    return res.then(
      (r) => {
        if (!r.stream) {
          cells.sent++;
          cells.done(0, start);
          return r;
        }
        return { ...r, message: countResponses(r, cells, start) } as StreamResponse;
      },
      (e: unknown) => {
        cells.done(codeOf(e), start);
        throw e;
      },
    );
  };
}

// The request side of client and bidi streams: counts what the implementation reads.
function countRequests(req: StreamRequest, cells: CallCells): AnyRequest {
  const src = req.message;
  return {
    ...req,
    message: {
      [Symbol.asyncIterator]() {
        const it = src[Symbol.asyncIterator]();
        return {
          next: () =>
            it.next().then((r) => {
              if (r.done !== true) cells.received++;
              return r;
            }),
          return: (v?: unknown) => (it.return ? it.return(v) : Promise.resolve({ done: true as const, value: v })),
          throw: (e?: unknown) => (it.throw ? it.throw(e) : Promise.reject(e)),
        };
      },
    },
  } as AnyRequest;
}

// The response side of server and bidi streams: an iterator object rather than an async generator
// (no generator frame per message) that records the end exactly once: OK when the source is done,
// the error's code when it fails, CANCELED when the consumer stops early or reports that it could
// not write (the client went away).
function countResponses(res: StreamResponse, cells: CallCells, start: number): AsyncIterable<unknown> {
  const src = res.message;
  return {
    [Symbol.asyncIterator]() {
      const it = src[Symbol.asyncIterator]();
      let ended = false;
      const end = (code: number) => {
        if (ended) return;
        ended = true;
        cells.done(code, start);
      };
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done === true) end(0);
              else cells.sent++;
              return r;
            },
            (e: unknown) => {
              end(codeOf(e));
              throw e;
            },
          ),
        return: (v?: unknown) => {
          end(Code.Canceled);
          return it.return ? it.return(v) : Promise.resolve({ done: true as const, value: v });
        },
        // The consumer could not deliver a response (connect-node throws its write error in here):
        // the client went away, whatever Node's error says.
        throw: (e?: unknown) => {
          end(consumerFailure(e).code);
          return it.throw ? it.throw(e) : Promise.reject(e);
        },
      };
    },
  };
}
