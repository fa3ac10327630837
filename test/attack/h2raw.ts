// Raw HTTP/2 frames over a plain socket, for attacks a well-behaved client library refuses to send
// (rapid reset, SETTINGS/PING floods, streams past SETTINGS_MAX_CONCURRENT_STREAMS, partial HEADERS).
// HPACK is written as literals without indexing and without Huffman coding (RFC 7541 §6.2.2), which
// every decoder must accept.
import * as net from "node:net";

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Frame types used here (RFC 9113 §6). */
export const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
/** Frame flags. */
export const F = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
/** GOAWAY / RST_STREAM error codes. */
export const E = { NO_ERROR: 0, PROTOCOL_ERROR: 1, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

/** One frame: 9-byte header and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

// HPACK integer with an N-bit prefix (RFC 7541 §5.1).
function hpackInt(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** An HPACK header block of literal fields without indexing. */
export function headerBlock(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7, 0)]), n, Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

/** Request headers of a gRPC call to `path` on 127.0.0.1. */
export function grpcHeaders(path: string, extra: [string, string][] = []): [string, string][] {
  return [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "127.0.0.1"], ["content-type", "application/grpc"], ["te", "trailers"], ...extra];
}

/** A SETTINGS frame from key/value pairs (empty = the default settings). */
export function settings(pairs: [number, number][] = []): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([k, v], i) => {
    p.writeUInt16BE(k, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(T.SETTINGS, 0, 0, p);
}

/** RST_STREAM with an error code. */
export function rst(streamId: number, code: number = E.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(T.RST_STREAM, 0, streamId, p);
}

/** A PING frame (not an ACK). */
export function ping(n = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n >>> 0, 4);
  return frame(T.PING, 0, 0, p);
}

/** A gRPC length-prefixed message of raw protobuf bytes. */
export function grpcMessage(bytes: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([h, bytes]);
}

/** What the server sent on a raw connection, parsed frame by frame. */
export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  /** The error code of the first GOAWAY, once one arrived (it gives the reason; a later one may follow). */
  goaway?: number;
  /** The error codes of every GOAWAY received, in order. */
  readonly goaways: number[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        const f = { type: this.buf[3], flags: this.buf[4], streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
        this.buf = this.buf.subarray(9 + len);
        if (f.type === T.GOAWAY) {
          this.goaways.push(f.payload.readUInt32BE(4));
          this.goaway ??= this.goaways[0];
        }
        // Acknowledge the server's SETTINGS as any client must: they take effect on the ACK.
        if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0) this.write(frame(T.SETTINGS, F.ACK, 0));
        this.frames.push(f);
      }
      this.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  /**
   * Connects and, unless `preface` is false, sends the preface and an empty SETTINGS frame and waits
   * for the server's SETTINGS (acknowledged at once, so its limits apply to what the test sends next).
   * `localAddress` (e.g. 127.0.0.2) makes the connection come from another client address than the
   * probe's 127.0.0.1, as an attacker's would. A connection refused by the server resolves closed.
   */
  static async connect(port: number, preface = true, localAddress?: string): Promise<RawH2> {
    const c = await new Promise<RawH2>((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1", localAddress }, () => {
        if (preface) socket.write(Buffer.concat([PREFACE, settings()]));
        resolve(new RawH2(socket));
      });
      socket.once("error", reject);
    });
    if (preface) await c.until(() => c.frames.some((f) => f.type === T.SETTINGS));
    return c;
  }

  /** Writes bytes unless the socket is gone; false once it is. */
  write(b: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(b);
    return true;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Waits until `pred` holds or the connection closes; returns whether it holds. */
  async until(pred: () => boolean): Promise<boolean> {
    while (!pred() && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return pred();
  }

  /** Makes a gRPC SayHello{name: "Bob"} call on stream `id`; resolves whether its trailers arrived. */
  async sayHello(id: number): Promise<boolean> {
    this.write(frame(T.HEADERS, F.END_HEADERS, id, headerBlock(grpcHeaders("/example.ExampleService/SayHello"))));
    this.write(frame(T.DATA, F.END_STREAM, id, grpcMessage(Buffer.from([10, 3, 66, 111, 98]))));
    return this.until(() => this.frames.some((f) => f.streamId === id && f.type === T.HEADERS && (f.flags & F.END_STREAM) !== 0));
  }

  /** Waits until the server has closed the connection. */
  async untilClosed(): Promise<void> {
    await this.until(() => false);
  }

  /** Closes our end. */
  destroy(): void {
    this.socket.destroy();
  }
}
