import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { BinaryFrameError, decodeBinaryClientFrame } from "./frame-binary.js";
import type { ClientFrame } from "./frame.js";

// The common binary client frame read straight from its bytes: one-byte tags, short lengths, plain
// varints. A BinaryReader costs a DataView per frame (and one more per map entry) and a call per
// field; this is on the path of every binary call. Anything unusual (long tags or varints, groups,
// a wrong wire type, a truncated field) is left to decodeBinaryClientFrame, the reference decoder,
// so the result (frame or error) is the same for every input: test/ws/frame-fast.test.ts checks it.

/** Thrown inside this module: "let the reference decoder handle this frame". */
const FALLBACK = Symbol("fallback");

/** Decodes a client Frame like decodeBinaryClientFrame (same frame, same BinaryFrameError), faster. */
export function decodeClientFrameFast(data: Uint8Array): ClientFrame {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  try {
    return read(buf, data);
  } catch (e) {
    if (e !== FALLBACK) throw e;
    return decodeBinaryClientFrame(data);
  }
}

// The reading position, module-wide: decoding is synchronous and never re-entered.
let at = 0;

// `data` is the caller's own view of `buf`: the message is cut from it, as the reference decoder does.
function read(buf: Buffer, data: Uint8Array): ClientFrame {
  const f: ClientFrame = { id: "", method: "", end: false, cancel: false };
  const end = buf.length;
  at = 0;
  while (at < end) {
    const tag = buf[at++];
    if (tag >= 0x80) throw FALLBACK; // field numbers above 15
    const no = tag >>> 3;
    const wt = tag & 7;
    if (wt > 5) throw FALLBACK; // not a wire type: the reference decoder's error
    switch (no) {
      case 1:
        f.id = text(buf, length(buf, wt, end));
        break;
      case 2:
        f.method = text(buf, length(buf, wt, end));
        break;
      case 3: {
        const n = length(buf, wt, end); // before reading `at`: length() moves it past the varint
        entry(buf, at + n, (f.headers ??= {}));
        break;
      }
      case 4: {
        const n = length(buf, wt, end);
        f.message = data.subarray(at, at + n);
        at += n;
        break;
      }
      case 5:
        f.end = flag(buf, wt, end);
        break;
      case 6:
        f.cancel = flag(buf, wt, end);
        break;
      case 9:
        f.timeoutMs = small(buf, wt, end);
        break;
      case 7:
      case 8:
      case 10:
        throw new BinaryFrameError("status, trailers and example are sent by the server only");
      default:
        throw FALLBACK; // unknown fields: the reference decoder skips them
    }
  }
  return f;
}

// A length-delimited field's length (the cursor moves to its content), or FALLBACK.
function length(buf: Buffer, wt: number, end: number): number {
  if (wt !== 2) throw FALLBACK;
  const n = varint(buf, end);
  if (at + n > end) throw FALLBACK;
  return n;
}

// A varint below 2^28 (four bytes at most), or FALLBACK.
function varint(buf: Buffer, end: number): number {
  let n = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (at >= end) throw FALLBACK;
    const b = buf[at++];
    n |= (b & 0x7f) << shift;
    if (b < 0x80) return n;
  }
  throw FALLBACK;
}

function small(buf: Buffer, wt: number, end: number): number {
  if (wt !== 0) throw FALLBACK;
  return varint(buf, end);
}

function flag(buf: Buffer, wt: number, end: number): boolean {
  if (wt !== 0 || at >= end || buf[at] >= 0x80) throw FALLBACK;
  return buf[at++] !== 0;
}

// UTF-8 text of the next n bytes: ASCII directly, anything else as protobuf-es decodes it.
function text(buf: Buffer, n: number): string {
  const start = at;
  at += n;
  for (let i = start; i < at; i++) if (buf[i] >= 0x80) return getTextEncoding().decodeUtf8(buf.subarray(start, at));
  return buf.toString("latin1", start, at);
}

// One map<string, string> entry ending at `stop`: key (1) and value (2).
function entry(buf: Buffer, stop: number, into: Record<string, string>): void {
  let k = "";
  let v = "";
  while (at < stop) {
    const tag = buf[at++];
    if (tag === 0x0a) k = text(buf, length(buf, 2, stop));
    else if (tag === 0x12) v = text(buf, length(buf, 2, stop));
    else throw FALLBACK;
  }
  into[k] = v;
}
