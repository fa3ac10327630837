import type { Logger } from "pino";
import type { HttpHandler, NodeRequest, NodeResponse } from "./types.js";

/** Sends a small JSON error body unless the response has started. */
export function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Runs the handlers in order until one takes the request; nothing takes it: 404. Every request
 * passes here, so the loop allocates nothing unless a handler answers with a promise.
 */
export function createDispatcher(handlers: HttpHandler[], logger: Logger): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => dispatch(handlers, 0, req, res, logger);
}

function dispatch(handlers: HttpHandler[], from: number, req: NodeRequest, res: NodeResponse, logger: Logger): void {
  for (let i = from; i < handlers.length; i++) {
    let taken: boolean | Promise<boolean>;
    try {
      taken = handlers[i](req, res);
    } catch (err) {
      return failed(err, req, res, logger);
    }
    if (taken === true) return;
    if (taken !== false) {
      taken.then(
        (t) => (t ? undefined : dispatch(handlers, i + 1, req, res, logger)),
        (err: unknown) => failed(err, req, res, logger),
      );
      return;
    }
  }
  sendJson(res, 404, { code: "not_found", message: `no route for ${req.method} ${pathOf(req.url)}` });
}

function failed(err: unknown, req: NodeRequest, res: NodeResponse, logger: Logger): void {
  logger.error({ err, method: req.method, path: pathOf(req.url) }, "request handler failed");
  sendJson(res, 500, { code: "internal", message: "internal error" });
}

/** The path of a request URL, without the query. */
export function pathOf(url: string | undefined): string {
  if (!url) return "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
