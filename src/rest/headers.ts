import type { IncomingHttpHeaders } from "node:http";
import type { HandlerContext } from "@connectrpc/connect";
import { peekResponseHeaders, responseIdOf } from "../core/pipeline.js";

/** Request headers always passed to the call with their prefix removed (grpc-gateway's convention). */
export const METADATA_PREFIX = "grpc-metadata-";
/** Prefix of response trailers sent back as HTTP headers (grpc-gateway's convention). */
export const TRAILER_PREFIX = "grpc-trailer-";

/** Decides which request headers become call metadata: exact names, or prefixes written "x-*". */
export function headerAllowlist(entries: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const e of entries.map((x) => x.toLowerCase())) {
    if (e.endsWith("*")) prefixes.push(e.slice(0, -1));
    else exact.add(e);
  }
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

/**
 * The call metadata for a REST request: allowlisted headers, plus Grpc-Metadata-* without the
 * prefix, in Node's header shape (lower-case names, repeated values as arrays), so that the Pipeline
 * reads single headers from it and makes a fetch Headers only if someone asks for the whole set.
 */
export function requestMetadata(headers: IncomingHttpHeaders, allowed: (name: string) => boolean): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = Object.create(null) as IncomingHttpHeaders;
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ":" */) continue;
    const v = headers[name];
    if (v === undefined) continue;
    let key: string | undefined;
    if (name.startsWith(METADATA_PREFIX)) key = name.slice(METADATA_PREFIX.length);
    else if (allowed(name)) key = name;
    if (!key) continue;
    // "x-a" allowlisted and "grpc-metadata-x-a" both sent: one header with both values, as Headers.append makes.
    const had = out[key];
    out[key] = had === undefined ? v : ([] as string[]).concat(had, v);
  }
  return out;
}

const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Parses a gRPC-style timeout ("5S", "250m", up to 8 digits and a unit H M S m u n) into ms; undefined if invalid. */
export function parseTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Math.max(1, Math.ceil(Number(m[1]) * UNITS[m[2]]));
}

// Headers a call may not set on the HTTP response: the transcoder owns framing and content type.
const RESERVED = new Set(["content-type", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer", "te"]);

/**
 * A call's response headers (and, with `trailers`, its trailers as `grpc-trailer-` headers) for a REST response, plus `x-request-id`; creates no fetch Headers when the call
 * set none, which is the common case.
 */
export function callResponseHeaders(call: HandlerContext, trailers: boolean): Record<string, string | string[]> {
  const into = responseHeaders({}, peekResponseHeaders(call, "header"), trailers ? peekResponseHeaders(call, "trailer") : undefined);
  const id = responseIdOf(call);
  if (id !== "") into["x-request-id"] = id;
  return into;
}

/** Copies call response headers and trailers (the latter prefixed Grpc-Trailer-) into an HTTP header object. */
export function responseHeaders(into: Record<string, string | string[]>, header: Headers | undefined, trailer?: Headers): Record<string, string | string[]> {
  header?.forEach((v, k) => {
    if (!RESERVED.has(k)) into[k] = v;
  });
  trailer?.forEach((v, k) => {
    into[TRAILER_PREFIX + k] = v;
  });
  return into;
}
