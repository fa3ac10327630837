import type { WireFormat } from "./frame.js";

// Whole WebSocket frames (RFC 6455 §5.2) as the server sends them: final, unmasked, no extension
// bits (the bridge never negotiates permessage-deflate). Pure: bytes in, bytes out. The session
// writes these straight to the socket in ONE write, instead of `ws.send` framing each message
// again (an options object, a header buffer, two corked writes and a writev per frame).

/** Bytes of the header of an unmasked frame with a payload of `n` bytes. */
export function headerSize(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/** Writes the header of a final, unmasked text or binary frame at the start of `out`; returns its size. */
export function writeHeader(out: Buffer, text: boolean, n: number): number {
  out[0] = text ? 0x81 : 0x82;
  if (n < 126) {
    out[1] = n;
    return 2;
  }
  if (n < 65536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
    return 4;
  }
  out[1] = 127;
  out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
  out.writeUInt32BE(n >>> 0, 6);
  return 10;
}

/** One whole data frame: text for a string payload (UTF-8), binary for bytes. */
export function dataFrame(payload: string | Uint8Array): Buffer {
  if (typeof payload === "string") {
    const n = Buffer.byteLength(payload);
    const out = Buffer.allocUnsafe(headerSize(n) + n);
    out.write(payload, writeHeader(out, true, n), "utf8");
    return out;
  }
  const n = payload.length;
  const out = Buffer.allocUnsafe(headerSize(n) + n);
  out.set(payload, writeHeader(out, false, n));
  return out;
}

/** The payload of a frame made here (for a socket that cannot take whole frames). */
export function payloadOf(frame: Buffer): Buffer {
  const n = frame[1] & 0x7f;
  return frame.subarray(n < 126 ? 2 : n === 126 ? 4 : 10);
}

/** True for a frame made here that carries text. */
export function isText(frame: Buffer): boolean {
  return (frame[0] & 0x0f) === 1;
}

/**
 * The `{id, message}` frames of one stream, as whole WebSocket frames. Everything before the message
 * (the id, JSON punctuation or protobuf tags) is encoded once per stream; a frame is then one
 * allocation and two or three copies. With a message already encoded once for every subscriber
 * (pubsub/shared.ts), this is all a fan-out delivery costs before the socket write.
 */
export class MessageFrames {
  private readonly prefix: Buffer;
  private readonly json: boolean;

  constructor(id: string, format: WireFormat) {
    this.json = format === "json";
    if (this.json) {
      // encodeServerFrame's shape: {"id":...,"message":...} ({"message":...} without an id).
      this.prefix = Buffer.from(id !== "" ? `{"id":${JSON.stringify(id)},"message":` : '{"message":');
    } else {
      // oneport.ws.v1.Frame: field 1 (id, string) then the tag of field 4 (message, bytes).
      const idBytes = Buffer.from(id);
      const head = id !== "" ? 1 + varintSize(idBytes.length) + idBytes.length : 0;
      this.prefix = Buffer.allocUnsafe(head + 1);
      let at = 0;
      if (id !== "") {
        this.prefix[at++] = (1 << 3) | 2;
        at = writeVarint(this.prefix, at, idBytes.length);
        at += idBytes.copy(this.prefix, at);
      }
      this.prefix[at] = (4 << 3) | 2;
    }
  }

  /** The whole frame for a message: its JSON text as UTF-8 bytes, or its protobuf bytes. */
  frame(message: Uint8Array): Buffer {
    const m = message.length;
    const p = this.prefix.length;
    const n = this.json ? p + m + 1 : p + varintSize(m) + m;
    const out = Buffer.allocUnsafe(headerSize(n) + n);
    let at = writeHeader(out, this.json, n);
    at += this.prefix.copy(out, at);
    if (this.json) {
      out.set(message, at);
      out[at + m] = 0x7d; // "}"
    } else {
      at = writeVarint(out, at, m);
      out.set(message, at);
    }
    return out;
  }
}

/** Bytes of `n` as a protobuf varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

/** Writes `n` as a protobuf varint at `at`; returns the offset after it. */
export function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}
