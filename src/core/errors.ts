import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/** The id of a call, sent back as `x-request-id` and written in every log line about it. */
export const requestIdKey = createContextKey<string>("", { description: "oneport request id" });

// A client may bring its own id (from a proxy, say) if it is short and plain.
const CLIENT_ID = /^[\w.:-]{1,64}$/;

/**
 * Keeps internals off the wire: an error that is not a ConnectError (a bug, a failed dependency)
 * reaches the client as INTERNAL with only the request id; its message and stack go to the log.
 * ConnectErrors are the service's deliberate answers and pass unchanged, minus their cause.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get("x-request-id");
    const id = given && CLIENT_ID.test(given) ? given : randomUUID();
    req.contextValues.set(requestIdKey, id);
    const method = `${req.service.typeName}/${req.method.name}`;
    const sanitize = (err: unknown): ConnectError => {
      if (err instanceof ConnectError) {
        if (err.cause === undefined) return err;
        const clean = new ConnectError(err.rawMessage, err.code, err.metadata);
        clean.details.push(...err.details);
        return clean;
      }
      // Aborts caused by the client, deadlines or shutdown are reported by connect as ConnectErrors;
      // anything else is unexpected.
      logger.error({ err, requestId: id, method }, "unexpected error in a call");
      const out = new ConnectError(`internal error (request id ${id})`, Code.Internal);
      out.metadata.set("x-request-id", id);
      return out;
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", id);
      if (!res.stream) return res;
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
          } catch (e) {
            throw sanitize(e);
          }
        })(),
      };
    } catch (e) {
      throw sanitize(e);
    }
  };
}
