import * as http from "node:http";
import type { Socket } from "node:net";

/**
 * How long a connection that answered before its request body ended stays open after the response:
 * long enough for the client to read the answer before the close (Go's net/http waits 500 ms for
 * the same reason: closing with unread bytes sends a TCP reset, and a reset makes the client's
 * kernel drop the part of the response it had not read yet).
 */
export const LINGER_MS = 2000;

/**
 * The HTTP/1.1 server's response class. It decides, when the headers go out, what happens to a
 * request body the handler did not read (an early answer: message too large, unauthenticated,
 * unknown method, bad compression, ...), much as Go's net/http does:
 * - declared (Content-Length) at most `maxUnread` bytes: the connection is kept, and after the
 *   response the rest is read and dropped so that the next request is parsed;
 * - declared larger, or chunked (its size unknown): `Connection: close`; after the response the
 *   server half-closes, reads and drops at most `maxUnread` more bytes, and closes when the body
 *   ended or the client closed, or after LINGER_MS. (Keeping a chunked one until its rest turns out
 *   too long does not work: kernel buffers take the rest of an upload the server no longer reads,
 *   the client counts the request as sent and reuses the connection while the server closes it.)
 * Without it, a body whose reader had stopped (connect-node's request iterator after an early
 * error destroys the request, and the parser then pauses the socket for good) left the client's
 * next request waiting for the idle timeout; large bodies were read to the end, however long.
 */
export function unreadBodyResponse(maxUnread: number): typeof http.ServerResponse {
  // A constructor function, not `class extends http.ServerResponse`: a class subclass of Node's
  // function-style ServerResponse, even an empty one, measured ~12 µs more CPU per request on a
  // keep-alive GET (48 -> 60 µs, wrk -c32, 4 interleaved rounds); this form ~5 µs.
  const Base = http.ServerResponse as unknown as { call(self: unknown, ...args: unknown[]): void; prototype: http.ServerResponse };
  const baseWriteHead = Base.prototype.writeHead as (this: http.ServerResponse, code: number, reason?: unknown, headers?: unknown) => http.ServerResponse;
  function UnreadBodyResponse(this: http.ServerResponse, req: http.IncomingMessage, options?: unknown): void {
    Base.call(this, req, options);
  }
  Object.setPrototypeOf(UnreadBodyResponse.prototype, Base.prototype);
  Object.setPrototypeOf(UnreadBodyResponse, Base);
  // Every response passes here before its headers are written: end() and write() without
  // writeHead() call it too (through _implicitHeader).
  UnreadBodyResponse.prototype.writeHead = function writeHead(this: http.ServerResponse, code: number, reason?: unknown, headers?: unknown) {
    const req = this.req;
    if (!this.headersSent && !req.complete && hasBody(req)) onEarlyAnswer(this, req, maxUnread);
    return baseWriteHead.call(this, code, reason, headers);
  };
  return UnreadBodyResponse as unknown as typeof http.ServerResponse;
}

/** Whether a request announces a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function hasBody(req: http.IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}

/** The body length the request declares with Content-Length; Infinity when chunked (unknown). */
export function declaredLength(req: http.IncomingMessage): number {
  if (req.headers["transfer-encoding"] !== undefined) return Infinity;
  const n = Number(req.headers["content-length"]);
  return Number.isSafeInteger(n) && n >= 0 ? n : Infinity;
}

type Parsed = http.IncomingMessage & { _dumped: boolean };

function onEarlyAnswer(res: http.ServerResponse, req: http.IncomingMessage, maxUnread: number): void {
  const socket = res.socket;
  if (socket === null) return; // the client is gone
  let bodyEnded: (() => void) | undefined;
  if (!(declaredLength(req) <= maxUnread)) res.shouldKeepAlive = false; // Connection: close
  // Node ends a Connection: close response's socket with destroySoon(): end, then destroy as soon
  // as the end is flushed, with the client's body still arriving (a reset). Linger instead, also
  // when the close was asked otherwise (a handler's own Connection: close, a server shutting down).
  socket.destroySoon = () => {
    bodyEnded = linger(socket);
    if (req.complete) bodyEnded();
  };
  // Runs after Node's own 'finish' handler (which calls destroySoon when closing).
  res.once("finish", () => drop(req as Parsed, socket, maxUnread, () => bodyEnded?.()));
}

// The HTTP parser hands every body chunk to req.push(). After the response nobody reads the body,
// and the reader may even have destroyed the request (the async iterator's return() does), where
// push() fails and the parser pauses the socket for good. This sink takes the chunks instead and
// drops them; past `maxUnread` (only on a connection that closes) it stops reading: flow control
// then holds the client until the linger ends.
function drop(req: Parsed, socket: Socket, maxUnread: number, ended: () => void): void {
  if (req.complete) return;
  let dropped = 0;
  const push = req.push;
  req.push = (chunk: unknown) => {
    if (chunk === null) {
      ended();
      return req.destroyed ? false : push.call(req, null);
    }
    dropped += (chunk as Buffer).length;
    return dropped <= maxUnread;
  };
  // Node's own dump of a body nobody read skips push(): every byte would be read, uncounted.
  req._dumped = false;
  const s = socket as Socket & { _paused?: boolean };
  if (!s._paused && !socket.destroyed) socket.resume();
}

// Half-closes after the response and closes once the client is done: its body ended, it closed its
// side, or LINGER_MS passed. Returns what to call when the body ended.
function linger(socket: Socket): () => void {
  if (socket.writable) socket.end();
  const close = () => {
    clearTimeout(timer);
    if (socket.writableFinished) socket.destroy();
    else socket.once("finish", () => socket.destroy());
  };
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(timer));
  socket.once("end", close);
  return close;
}
