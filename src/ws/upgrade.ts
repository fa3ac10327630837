import { STATUS_CODES, type IncomingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { subprotocols, type WireFormat } from "./frame.js";

/** The decision about one upgrade request: serve it in a format, or refuse with an HTTP status. */
export type UpgradeVerdict = { format: WireFormat; subprotocol?: string } | { status: number; code: string; message: string };

/** What the upgrade check needs to know besides the request headers. */
export interface UpgradeState {
  allowedOrigins: readonly string[];
  connections: number;
  maxConnections: number;
  closing: boolean;
}

/** Checks origin, capacity and subprotocol of an upgrade request (pure). */
export function checkUpgrade(headers: IncomingHttpHeaders, state: UpgradeState): UpgradeVerdict {
  const origin = headers.origin;
  if (!originAllowed(origin, headers.host, state.allowedOrigins)) {
    return { status: 403, code: "permission_denied", message: `origin ${origin} may not open WebSockets here; the server allows its own origin and ws.allowedOrigins (--ws-origins)` };
  }
  if (state.closing) return { status: 503, code: "unavailable", message: "the server is shutting down" };
  if (state.connections >= state.maxConnections) {
    return { status: 503, code: "unavailable", message: `too many WebSocket connections (limit ${state.maxConnections}); try again later` };
  }
  // "oneport.bearer.<token>" carries a token (src/auth), not a format: it is never chosen.
  const offered = (headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "" && !s.startsWith("oneport.bearer."));
  if (offered.length === 0) return { format: "json" };
  for (const p of offered) {
    if (p === subprotocols.json) return { format: "json", subprotocol: p };
    if (p === subprotocols.proto) return { format: "proto", subprotocol: p };
  }
  return { status: 400, code: "invalid_argument", message: `unsupported subprotocol ${offered.join(", ")}; use ${subprotocols.json} or ${subprotocols.proto}` };
}

/**
 * Same-origin (the Origin's host and port equal the Host header) or listed. Clients that send no
 * Origin are not browsers, so cross-site request forgery cannot reach them: they are allowed.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  if (origin === "null" || host === undefined) return false;
  try {
    const o = new URL(origin);
    if (allowed.includes(o.origin)) return true;
    if (o.protocol !== "http:" && o.protocol !== "https:") return false;
    // Parse the Host header with the origin's scheme so default ports compare equal ("a:443" = "a").
    return new URL(`${o.protocol}//${host}`).host === o.host;
  } catch {
    return false;
  }
}

/** Answers a refused upgrade with a small JSON body (an object, or already JSON text) and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, body: { code: string; message: string } | string, headers: Record<string, string> = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nconnection: close\r\ncontent-type: application/json\r\n${extra}` +
      `content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

// The handshake's own headers describe the WebSocket, not the calls made over it.
const handshakeOnly = new Set([
  "connection",
  "upgrade",
  "host",
  "content-length",
  "transfer-encoding",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
]);

/** The upgrade request's headers that become every call's metadata (Authorization, Cookie, ...). */
export function callHeaders(headers: IncomingHttpHeaders): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || handshakeOnly.has(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
  }
  return h;
}
