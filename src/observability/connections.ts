import type { Socket } from "node:net";

/** Per-transport totals of the connections that closed. */
interface Closed {
  accepted: number;
  read: number;
  written: number;
}

/** A transport's figures at scrape time. */
export interface TransportFigures {
  open: number;
  accepted: number;
  read: number;
  written: number;
}

/**
 * Open connections and their bytes by transport ("h1", "h2", "h1-tls", "h2-tls"). A connection
 * costs one Map entry and one close listener; bytes are read from the socket's own counters
 * (socket.bytesRead / bytesWritten) when it closes and, for open ones, at scrape time. On TLS
 * transports those are the decrypted bytes: handshakes and record overhead are not in them.
 */
export class ConnectionTable {
  private readonly open = new Map<Socket, string>();
  private readonly closed = new Map<string, Closed>();

  /** Tracks a connection whose protocol is now known, until it closes. */
  add(socket: Socket, transport: string): void {
    if (socket.destroyed) return;
    this.open.set(socket, transport);
    socket.once("close", () => {
      this.open.delete(socket);
      const c = this.totals(transport);
      c.accepted++;
      c.read += socket.bytesRead;
      c.written += socket.bytesWritten;
    });
  }

  private totals(transport: string): Closed {
    let c = this.closed.get(transport);
    if (c === undefined) this.closed.set(transport, (c = { accepted: 0, read: 0, written: 0 }));
    return c;
  }

  /** Every transport seen, with open connections and totals that include the open ones. */
  figures(): Map<string, TransportFigures> {
    const out = new Map<string, TransportFigures>();
    for (const [t, c] of this.closed) out.set(t, { open: 0, ...c });
    for (const [socket, t] of this.open) {
      let f = out.get(t);
      if (f === undefined) out.set(t, (f = { open: 0, accepted: 0, read: 0, written: 0 }));
      f.open++;
      f.accepted++;
      // A TLS socket counts the decrypted bytes (HTTP framing included, TLS records not).
      f.read += socket.bytesRead;
      f.written += socket.bytesWritten;
    }
    return out;
  }
}
