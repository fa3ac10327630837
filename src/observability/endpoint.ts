import { createHash, timingSafeEqual } from "node:crypto";
import { pathOf, sendJson } from "../http/dispatcher.js";
import type { Feature, ServerContext } from "../server.js";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Whether a client address is the host itself (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4.startsWith("127.") || address === "::1";
}

/**
 * Whether a request came straight from this host: a loopback address, and no proxy header saying
 * it was forwarded for someone else (a reverse proxy on the same host connects from loopback).
 */
function fromThisHost(req: { socket?: { remoteAddress?: string } | null; headers: Record<string, string | string[] | undefined> }): boolean {
  const h = req.headers;
  if (h.forwarded !== undefined || h["x-forwarded-for"] !== undefined || h["x-real-ip"] !== undefined) return false;
  return isLoopback(req.socket?.remoteAddress);
}

/**
 * GET /metrics (the path is configurable): the server's metrics in the Prometheus text format.
 * With a token set, scrapes without `authorization: Bearer <token>` get 401. Without one, only
 * clients on this host are served (others, and requests a proxy forwarded, get 403 saying how to
 * open it) unless `public` is set.
 * Served by the dispatcher like every route, so HTTP/1.1, HTTP/2 and TLS alike.
 */
export function metricsFeature(ctx: ServerContext): Feature {
  const metrics = ctx.metrics;
  if (metrics === undefined) return { name: "metrics" };
  const { path, token, public: open } = ctx.options.metrics;
  // Compared as digests: equal lengths for timingSafeEqual, and nothing about the token's length leaks.
  const expected = token === undefined ? undefined : digest(token);
  return {
    name: "metrics",
    http(req, res) {
      if (pathOf(req.url) !== path) return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        sendJson(res, 405, { code: "method_not_allowed", message: `${path} answers GET and HEAD` }, { allow: "GET, HEAD" });
        return true;
      }
      if (expected !== undefined) {
        const m = /^\s*bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
        if (m === null || !timingSafeEqual(digest(m[1]), expected)) {
          sendJson(res, 401, { code: "unauthenticated", message: `${path} needs the header "authorization: Bearer <metrics token>"` }, { "www-authenticate": 'Bearer realm="metrics"' });
          return true;
        }
      } else if (!open && !fromThisHost(req)) {
        sendJson(res, 403, {
          code: "permission_denied",
          message: `${path} answers only clients on this host when no token is set: set --metrics-token (METRICS_TOKEN) and scrape with "authorization: Bearer <token>", or --metrics-public on (METRICS_PUBLIC) to serve every client`,
        });
        return true;
      }
      metrics.scrape().then(
        (text) => {
          if (res.headersSent || res.destroyed) return;
          res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
          if (req.method === "HEAD") res.end();
          else res.end(text);
        },
        (err: unknown) => {
          ctx.logger.error({ err }, "collecting metrics failed");
          sendJson(res, 500, { code: "internal", message: "collecting metrics failed" });
        },
      );
      return true;
    },
  };
}
