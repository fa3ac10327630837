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

/** Runs the handlers in order until one takes the request; nothing takes it: 404. */
export function createDispatcher(handlers: HttpHandler[], logger: Logger): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => {
    let i = 0;
    const step = (): void => {
      for (; i < handlers.length; i++) {
        let taken: boolean | Promise<boolean>;
        try {
          taken = handlers[i](req, res);
        } catch (err) {
          return fail(err);
        }
        if (taken === true) return;
        if (taken !== false) {
          i++;
          taken.then((t) => (t ? undefined : step()), fail);
          return;
        }
      }
      sendJson(res, 404, { code: "not_found", message: `no route for ${req.method} ${pathOf(req.url)}` });
    };
    const fail = (err: unknown) => {
      logger.error({ err, method: req.method, path: pathOf(req.url) }, "request handler failed");
      sendJson(res, 500, { code: "internal", message: "internal error" });
    };
    step();
  };
}

/** The path of a request URL, without the query. */
export function pathOf(url: string | undefined): string {
  if (!url) return "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
