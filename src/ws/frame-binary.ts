import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { ClientFrame, ServerFrame } from "./frame.js";
import { headerSize, varintSize, writeHeader, writeVarint } from "./wire.js";

// oneport.ws.v1.Frame in the protobuf binary encoding, written out by hand: the reflective codec of
// protobuf-es costs several times more per frame, and a frame is on the path of every call. The
// field numbers are those of proto/oneport/ws/v1/frame.proto; test/ws/frame.test.ts checks this
// codec against the generated FrameSchema both ways.
const F = { id: 1, method: 2, headers: 3, message: 4, end: 5, cancel: 6, status: 7, trailers: 8, timeoutMs: 9, example: 10 } as const;

/** Thrown for frames that are not a valid client Frame. */
export class BinaryFrameError extends Error {}

/** Decodes a client Frame; throws BinaryFrameError for malformed bytes or server-only fields. */
export function decodeBinaryClientFrame(data: Uint8Array): ClientFrame {
  const f: ClientFrame = { id: "", method: "", end: false, cancel: false };
  const r = new BinaryReader(data);
  try {
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      switch (no) {
        case F.id:
          f.id = expect(wt, WireType.LengthDelimited) && r.string();
          break;
        case F.method:
          f.method = expect(wt, WireType.LengthDelimited) && r.string();
          break;
        case F.headers: {
          expect(wt, WireType.LengthDelimited);
          const [k, v] = mapEntry(r.bytes());
          (f.headers ??= {})[k] = v;
          break;
        }
        case F.message:
          expect(wt, WireType.LengthDelimited);
          f.message = r.bytes();
          break;
        case F.end:
          f.end = expect(wt, WireType.Varint) && r.bool();
          break;
        case F.cancel:
          f.cancel = expect(wt, WireType.Varint) && r.bool();
          break;
        case F.timeoutMs:
          f.timeoutMs = expect(wt, WireType.Varint) && r.uint32();
          break;
        case F.status:
        case F.trailers:
        case F.example:
          throw new BinaryFrameError("status, trailers and example are sent by the server only");
        default:
          r.skip(wt, no);
      }
    }
  } catch (e) {
    if (e instanceof BinaryFrameError) throw e;
    throw new BinaryFrameError("not a oneport.ws.v1.Frame in the protobuf binary encoding");
  }
  return f;
}

function expect<T extends WireType>(got: WireType, want: T): true {
  if (got !== want) throw new BinaryFrameError("not a oneport.ws.v1.Frame in the protobuf binary encoding");
  return true;
}

function mapEntry(bytes: Uint8Array): [string, string] {
  const r = new BinaryReader(bytes);
  let k = "";
  let v = "";
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) k = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) v = r.string();
    else r.skip(wt, no);
  }
  return [k, v];
}

/**
 * Encodes a server Frame; `status.code` must already be the code name. With `ws`, the result is a
 * whole WebSocket frame (wire.ts's header, then the Frame). Two passes over plain fields (sizes,
 * then bytes into one buffer) instead of a BinaryWriter, which forks and joins a chunk list per
 * nested message: the final frame of every binary call has a status and usually headers.
 */
export function encodeBinaryServerFrame(f: ServerFrame, codeName: string, ws = false): Uint8Array {
  // Pass 1: the byte length of every string, in writing order, and the total size.
  const lens: number[] = [];
  let n = 0;
  if (f.id !== "") n += ld(utf8Length(lens, f.id));
  const headers = f.headers ? Object.entries(f.headers) : undefined;
  if (headers) for (const [k, v] of headers) n += ld(ld(utf8Length(lens, k)) + ld(utf8Length(lens, v)));
  const message = f.message as Uint8Array | undefined;
  if (message !== undefined) n += ld(message.length);
  if (f.end) n += 2;
  let statusLen = 0;
  const details: number[] = [];
  if (f.status) {
    if (codeName !== "") statusLen += ld(utf8Length(lens, codeName));
    if (f.status.message !== "") statusLen += ld(utf8Length(lens, f.status.message));
    for (const d of f.status.details ?? []) {
      const len = ld(utf8Length(lens, d.type)) + (d.value.length > 0 ? ld(d.value.length) : 0);
      details.push(len);
      statusLen += ld(len);
    }
    n += ld(statusLen);
  }
  const trailers = f.trailers ? Object.entries(f.trailers) : undefined;
  if (trailers) for (const [k, v] of trailers) n += ld(ld(utf8Length(lens, k)) + ld(utf8Length(lens, v)));
  const example = f.example;
  let exampleLen = 0;
  if (example) {
    exampleLen = ld(utf8Length(lens, example.id)) + ld(utf8Length(lens, example.method)) + ld((example.message as Uint8Array).length);
    n += ld(exampleLen);
  }

  // Pass 2: the bytes, in the same order.
  const out = Buffer.allocUnsafe((ws ? headerSize(n) : 0) + n);
  const w = new Out(out, ws ? writeHeader(out, false, n) : 0, lens);
  if (f.id !== "") w.string(F.id, f.id);
  if (headers) for (const [k, v] of headers) w.entry(F.headers, k, v);
  if (message !== undefined) w.bytes(F.message, message);
  if (f.end) w.bool(F.end);
  if (f.status) {
    w.len(F.status, statusLen);
    if (codeName !== "") w.string(1, codeName);
    if (f.status.message !== "") w.string(2, f.status.message);
    f.status.details?.forEach((d, i) => {
      w.len(3, details[i]);
      w.string(1, d.type);
      if (d.value.length > 0) w.bytes(2, d.value);
    });
  }
  if (trailers) for (const [k, v] of trailers) w.entry(F.trailers, k, v);
  if (example) {
    w.len(F.example, exampleLen);
    w.string(F.id, example.id);
    w.string(F.method, example.method);
    w.bytes(F.message, example.message as Uint8Array);
  }
  // A plain Uint8Array view unless it goes to a socket (decoders then give plain Uint8Array fields).
  return ws ? out : new Uint8Array(out.buffer, out.byteOffset, out.length);
}

// The UTF-8 length of `s`, also kept in `lens` for the writing pass. (A function, not a closure per
// frame: tsx's keepNames would pay an Object.defineProperty for each.)
function utf8Length(lens: number[], s: string): number {
  const n = asciiLength(s) ?? Buffer.byteLength(s);
  lens.push(n);
  return n;
}

// Short ASCII strings (ids, header names, code names) are the rule: their length is their byte length.
function asciiLength(s: string): number | undefined {
  if (s.length > 64) return undefined;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return undefined;
  return s.length;
}

// Bytes of a length-delimited field (field numbers below 16: a one-byte tag) with `len` bytes of content.
function ld(len: number): number {
  return 1 + varintSize(len) + len;
}

// The writing pass of encodeBinaryServerFrame: fields into a buffer sized by the first pass.
class Out {
  private next = 0;
  constructor(
    private readonly buf: Buffer,
    private at: number,
    private readonly lens: number[],
  ) {}

  len(no: number, len: number): void {
    this.buf[this.at++] = (no << 3) | WireType.LengthDelimited;
    this.at = writeVarint(this.buf, this.at, len);
  }

  string(no: number, s: string): void {
    const n = this.lens[this.next++];
    this.len(no, n);
    if (n === s.length && n <= 64) {
      // ASCII (its byte length is its length): a loop beats Buffer.write's call for short strings.
      for (let i = 0; i < n; i++) this.buf[this.at + i] = s.charCodeAt(i);
      this.at += n;
    } else this.at += this.buf.write(s, this.at, "utf8");
  }

  bytes(no: number, b: Uint8Array): void {
    this.len(no, b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  bool(no: number): void {
    this.buf[this.at++] = (no << 3) | WireType.Varint;
    this.buf[this.at++] = 1;
  }

  // A map<string, string> entry; its key and value lengths are the next two in `lens`.
  entry(no: number, k: string, v: string): void {
    this.len(no, ld(this.lens[this.next]) + ld(this.lens[this.next + 1]));
    this.string(1, k);
    this.string(2, v);
  }
}
