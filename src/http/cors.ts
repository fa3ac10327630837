import { cors as connectCors } from "@connectrpc/connect";
import type { Feature, ServerContext } from "../server.js";
import { restRoutes } from "../rest/routes.js";
import { splitPath } from "../rest/path.js";
import { pathOf, sendJson } from "./dispatcher.js";

/** Cross-origin access (ServerOptions.cors). Secure by default: no origin is allowed until configured. */
export interface CorsOptions {
  /** Allowed origins: exact ("https://app.example.com"), a subdomain pattern ("https://*.example.com"), or "*" for any. */
  allowedOrigins: string[];
  /** Send Access-Control-Allow-Credentials (cookies, HTTP auth); not allowed together with "*". */
  allowCredentials: boolean;
  /** How long a browser may cache a preflight answer, in seconds. */
  maxAgeSeconds: number;
  /** Response headers a page may read, besides the gRPC/Connect ones and WWW-Authenticate. */
  exposedHeaders: string[];
}

/** Default CORS options: no cross-origin access. */
export const defaultCorsOptions: CorsOptions = { allowedOrigins: [], allowCredentials: false, maxAgeSeconds: 7200, exposedHeaders: [] };

const ORIGIN = /^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/;
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Validates CORS options and fills in defaults; throws an Error naming the bad option. */
export function resolveCorsOptions(opts: Partial<CorsOptions> = {}): CorsOptions {
  const out: CorsOptions = { ...defaultCorsOptions };
  for (const [k, v] of Object.entries(opts)) {
    if (!(k in defaultCorsOptions)) throw new Error(`unknown cors option "${k}"; known: ${Object.keys(defaultCorsOptions).join(", ")}`);
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (!Array.isArray(out.allowedOrigins)) throw new Error("cors.allowedOrigins must be an array of origins");
  for (const o of out.allowedOrigins) {
    if (o !== "*" && (typeof o !== "string" || !ORIGIN.test(o))) {
      throw new Error(`cors.allowedOrigins: ${JSON.stringify(o)} is not an origin like "https://app.example.com", "https://*.example.com" or "*"${originHint(o)}`);
    }
  }
  if (out.allowCredentials && out.allowedOrigins.includes("*")) throw new Error('cors.allowCredentials cannot be used with allowedOrigins "*"');
  if (!Number.isInteger(out.maxAgeSeconds) || out.maxAgeSeconds < 0) throw new Error("cors.maxAgeSeconds must be a non-negative integer");
  if (!Array.isArray(out.exposedHeaders) || out.exposedHeaders.some((h) => typeof h !== "string" || !TOKEN.test(h))) {
    throw new Error(`cors.exposedHeaders must be an array of header names, got ${JSON.stringify(out.exposedHeaders).slice(0, 200)}`);
  }
  return out;
}

// Browsers send Origin as scheme://host[:port]: a copied URL or a bare host name are the usual mistakes.
function originHint(o: unknown): string {
  if (typeof o !== "string") return "";
  if (!o.includes("://") && /^[A-Za-z0-9.*-]+(:\d+)?$/.test(o)) return ` (add the scheme: "https://${o}")`;
  if (/^https?:\/\/[^/]+\/$/.test(o)) return " (drop the trailing slash)";
  if (/^https?:\/\/[^/]+\//.test(o)) return " (an origin has no path)";
  return "";
}

/** A matcher for allowed origins. */
export function originMatcher(allowed: readonly string[]): (origin: string) => boolean {
  const exact = new Set(allowed.filter((o) => !o.includes("*")).map((o) => o.toLowerCase()));
  const any = allowed.includes("*");
  const suffixes = allowed.filter((o) => o.includes("://*.")).map((o) => {
    const [scheme, rest] = o.toLowerCase().split("://*");
    return { scheme: scheme + "://", suffix: rest };
  });
  return (origin) => {
    if (any) return true;
    const o = origin.toLowerCase();
    if (exact.has(o)) return true;
    return suffixes.some((s) => {
      if (!o.startsWith(s.scheme)) return false;
      const host = o.slice(s.scheme.length);
      return host.endsWith(s.suffix) && host.length > s.suffix.length && !host.slice(0, -s.suffix.length).includes("/");
    });
  };
}

/**
 * CORS as the FIRST feature: answers preflight requests for RPC (Connect, gRPC-Web) and REST paths,
 * and adds the allow headers to actual cross-origin requests from allowed origins before passing them on.
 */
export function corsFeature(ctx: ServerContext): Feature {
  const opts = ctx.options.cors;
  const allowed = originMatcher(opts.allowedOrigins);
  const star = opts.allowedOrigins.includes("*");
  const enabled = opts.allowedOrigins.length > 0;
  // connect's (grpc-status, grpc-message, ...) and WWW-Authenticate: a page must be able to read why
  // a call was refused (the auth layer's challenge: invalid_token, insufficient_scope).
  const exposed = [...connectCors.exposedHeaders, "WWW-Authenticate", ...opts.exposedHeaders].join(", ");
  // The methods a preflight may allow at a path: Connect's and gRPC-Web's for an RPC path, the
  // HttpRule methods (and HEAD wherever GET is) for a REST path; none for a path nobody serves.
  const methodsAt = (path: string, requested: string): string[] => {
    if (ctx.registry.lookup(path)) return [...connectCors.allowedMethods];
    const split = splitPath(path);
    if (typeof split === "string") return [];
    const methods = restRoutes(ctx.registry).trie.methodsAt(split.decoded);
    if (methods.includes("GET")) methods.push("HEAD");
    // custom {kind: "*"} takes any method, so it allows the one asked for.
    if (methods.includes("*")) methods.push(requested);
    return [...new Set(methods.filter((m) => m !== "*"))].sort();
  };
  return {
    name: "cors",
    http(req, res) {
      const origin = req.headers.origin;
      if (typeof origin !== "string") {
        // The answer differs with Origin (CORS headers or not): caches must keep them apart.
        if (enabled) res.setHeader("vary", "Origin");
        return false;
      }
      const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      const ok = allowed(origin);
      if (preflight) {
        const requested = String(req.headers["access-control-request-method"]);
        const methods = methodsAt(pathOf(req.url), requested);
        if (methods.length === 0) return false;
        if (!ok) {
          sendJson(res, 403, { code: 7, message: `origin ${origin.slice(0, 200)} is not allowed; configure cors.allowedOrigins`, details: [] }, { vary: "Origin" });
          return true;
        }
        const headers: Record<string, string> = {
          "access-control-allow-origin": star && !opts.allowCredentials ? "*" : origin,
          "access-control-allow-methods": methods.join(", "),
          "access-control-allow-headers": String(req.headers["access-control-request-headers"] ?? connectCors.allowedHeaders.join(", ")),
          "access-control-max-age": String(opts.maxAgeSeconds),
          vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        };
        if (opts.allowCredentials) headers["access-control-allow-credentials"] = "true";
        res.writeHead(204, headers);
        res.end();
        return true;
      }
      if (ok) {
        res.setHeader("access-control-allow-origin", star && !opts.allowCredentials ? "*" : origin);
        res.setHeader("access-control-expose-headers", exposed);
        if (opts.allowCredentials) res.setHeader("access-control-allow-credentials", "true");
      }
      if (enabled) res.setHeader("vary", "Origin");
      return false;
    },
  };
}
