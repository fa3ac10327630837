// A lean WebSocket load generator for ws.bench.ts: raw TCP, prebuilt client frames (zero mask, so
// no per-frame masking work), responses counted by their frame headers only. A Node `ws` client costs
// about as much per message as a bare `ws` server, so with one core for each side it could not load
// the bare baseline fully; this one can. Answers are checked with a real client before a run.
import { connect, type Socket } from "node:net";

/** A frame as the client sends it: text (opcode 1) or binary (opcode 2), masked with a zero key. */
export function clientFrame(payload: string | Uint8Array): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const opcode = typeof payload === "string" ? 0x1 : 0x2;
  let head: Buffer;
  if (body.length < 126) head = Buffer.from([0x80 | opcode, 0x80 | body.length]);
  else if (body.length < 65536) head = Buffer.from([0x80 | opcode, 0x80 | 126, body.length >> 8, body.length & 0xff]);
  else throw new Error("bench frames are small");
  return Buffer.concat([head, Buffer.alloc(4), body]);
}

/**
 * One connection after the opening handshake; `onFrames(n)` is called with each batch of data frames
 * read, `onPayload` (if given) with each data frame's payload first.
 */
export function openRaw(port: number, protocol: string | undefined, onFrames: (n: number) => void, onPayload?: (payload: Buffer) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    sock.once("error", reject);
    sock.on("data", (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve(sock);
      }
      let n = 0;
      let at = 0;
      // Server frames are unmasked: 2 header bytes, then a 16- or 64-bit length when flagged.
      for (;;) {
        if (buf.length - at < 2) break;
        const op = buf[at] & 0x0f;
        let len = buf[at + 1] & 0x7f;
        let hdr = 2;
        if (len === 126) {
          if (buf.length - at < 4) break;
          len = buf.readUInt16BE(at + 2);
          hdr = 4;
        } else if (len === 127) {
          if (buf.length - at < 10) break;
          len = Number(buf.readBigUInt64BE(at + 2));
          hdr = 10;
        }
        if (buf.length - at < hdr + len) break;
        if (op === 1 || op === 2) {
          n++;
          onPayload?.(buf.subarray(at + hdr, at + hdr + len));
        }
        at += hdr + len;
      }
      buf = buf.subarray(at);
      if (n > 0) onFrames(n);
    });
    sock.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
        (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : "") +
        "\r\n",
    );
  });
}

/**
 * Closed loop over `conns` connections with `window` calls in flight on each: every response read
 * sends one more request. Request ids cycle through `frames` (far more than the window, so an id
 * is never reused while its call is open). Returns a function that reads the response count.
 */
export async function closedLoopRaw(port: number, protocol: string | undefined, frames: Buffer[], conns: number, window: number): Promise<{ count(): number; stop(): void }> {
  let count = 0;
  let running = true;
  const socks: Socket[] = [];
  for (let c = 0; c < conns; c++) {
    let next = 0;
    const take = (n: number) => {
      const out: Buffer[] = [];
      for (let i = 0; i < n; i++) out.push(frames[next++ % frames.length]);
      return out.length === 1 ? out[0] : Buffer.concat(out);
    };
    const sock: Socket = await openRaw(port, protocol, (n) => {
      count += n;
      if (running) sock.write(take(n));
    });
    socks.push(sock);
    sock.write(take(window));
  }
  return {
    count: () => count,
    stop() {
      running = false;
      socks.forEach((s) => s.destroy());
    },
  };
}
