import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
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
  return (next) => async (req) => {
    if (!logger.isLevelEnabled("info")) return next(req);
    const start = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    const done = (err?: unknown) => {
      const code = err === undefined ? "ok" : Code[ConnectError.from(err).code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
      const line = { protocol: protocolOf(req.contextValues, req.header), method, code, ms: Math.round((performance.now() - start) * 100) / 100 };
      if (err !== undefined && ConnectError.from(err).code === Code.Internal) logger.error({ ...line, err }, "call failed");
      else logger.info(line, "call");
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        done();
        return res;
      }
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
            done();
          } catch (e) {
            done(e);
            throw e;
          }
        })(),
      };
    } catch (e) {
      done(e);
      throw e;
    }
  };
}
