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
 * - declared (Content-Length) at most `maxUnread` bytes, or chunked: the connection is kept; after
 *   the response the rest is read and dropped so that the next request is parsed. A chunked rest
 *   that grows past `maxUnread` is not read further and the connection is closed (the client, still
 *   uploading, cannot have sent another request on it);
 * - declared larger: `Connection: close`; after the response the server half-closes, reads and drops
 *   at most `maxUnread` more bytes, and closes when the body ended or the client closed, or after
 *   LINGER_MS.
 * Without it, a body whose reader had stopped (connect-node's request iterator after an early
 * error destroys the request, and the parser then pauses the socket for good) left the client's
 * next request waiting for the idle timeout; large bodies were read to the end, however long.
 */
export function unreadBodyResponse(maxUnread: number): typeof http.ServerResponse {
  class UnreadBodyResponse extends http.ServerResponse {
    // Every response passes here before its headers are written: end() and write() without
    // writeHead() call it too (through _implicitHeader).
    override writeHead(...args: [number, ...unknown[]]): this {
      const req = this.req;
      if (!this.headersSent && !req.complete && hasBody(req)) onEarlyAnswer(this, req, maxUnread);
      return super.writeHead(...(args as Parameters<http.ServerResponse["writeHead"]>));
    }
  }
  return UnreadBodyResponse as typeof http.ServerResponse;
}

/** Whether a request announces a body (RFC 9112 §6.3: Transfer-Encoding, or a non-zero Content-Length). */
export function hasBody(req: http.IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}

/** The body length the request declares (Content-Length); undefined when chunked. */
export function declaredLength(req: http.IncomingMessage): number | undefined {
  if (req.headers["transfer-encoding"] !== undefined) return undefined;
  const n = Number(req.headers["content-length"]);
  return Number.isSafeInteger(n) && n >= 0 ? n : Infinity;
}

type Parsed = http.IncomingMessage & { _dumped: boolean };

function onEarlyAnswer(res: http.ServerResponse, req: http.IncomingMessage, maxUnread: number): void {
  const socket = res.socket;
  if (socket === null) return; // the client is gone
  let bodyEnded: (() => void) | undefined;
  const declared = declaredLength(req);
  if (!res.shouldKeepAlive || (declared !== undefined && declared > maxUnread)) {
    res.shouldKeepAlive = false; // Connection: close
    // Node ends a Connection: close response's socket with destroySoon(): end, then destroy as
    // soon as the end is flushed, with the client's body still arriving (a reset). Linger instead.
    socket.destroySoon = () => {
      bodyEnded = linger(socket);
      if (req.complete) bodyEnded();
    };
  }
  // Runs after Node's own 'finish' handler (which calls destroySoon when closing).
  res.once("finish", () =>
    drop(req as Parsed, socket, maxUnread, {
      ended: () => bodyEnded?.(),
      tooLong: () => (bodyEnded ??= linger(socket)),
    }),
  );
}

// The HTTP parser hands every body chunk to req.push(). After the response nobody reads the body,
// and the reader may even have destroyed the request (the async iterator's return() does), where
// push() fails and the parser pauses the socket for good. This sink takes the chunks instead and
// drops them; past `maxUnread` it stops the socket (flow control holds the client) and says so.
function drop(req: Parsed, socket: Socket, maxUnread: number, on: { ended(): void; tooLong(): void }): void {
  if (req.complete) return;
  let dropped = 0;
  const push = req.push;
  req.push = (chunk: unknown) => {
    if (chunk === null) {
      on.ended();
      return req.destroyed ? false : push.call(req, null);
    }
    dropped += (chunk as Buffer).length;
    if (dropped <= maxUnread) return true;
    on.tooLong();
    return false;
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
