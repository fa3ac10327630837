import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { ClientFrame, ServerFrame } from "./frame.js";

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

/** Encodes a server Frame; `status.code` must already be the code name. */
export function encodeBinaryServerFrame(f: ServerFrame, codeName: string): Uint8Array {
  if (f.message !== undefined && !f.headers && !f.end && !f.status && !f.trailers && !f.example) return messageFrame(f.id, f.message as Uint8Array);
  const w = new BinaryWriter();
  if (f.id !== "") w.tag(F.id, WireType.LengthDelimited).string(f.id);
  if (f.headers) writeMap(w, F.headers, f.headers);
  if (f.message !== undefined) w.tag(F.message, WireType.LengthDelimited).bytes(f.message as Uint8Array);
  if (f.end) w.tag(F.end, WireType.Varint).bool(true);
  if (f.status) {
    w.tag(F.status, WireType.LengthDelimited).fork();
    if (codeName !== "") w.tag(1, WireType.LengthDelimited).string(codeName);
    if (f.status.message !== "") w.tag(2, WireType.LengthDelimited).string(f.status.message);
    for (const d of f.status.details ?? []) {
      w.tag(3, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(d.type);
      if (d.value.length > 0) w.tag(2, WireType.LengthDelimited).bytes(d.value);
      w.join();
    }
    w.join();
  }
  if (f.trailers) writeMap(w, F.trailers, f.trailers);
  if (f.example) {
    w.tag(F.example, WireType.LengthDelimited).fork();
    w.tag(F.id, WireType.LengthDelimited).string(f.example.id);
    w.tag(F.method, WireType.LengthDelimited).string(f.example.method);
    w.tag(F.message, WireType.LengthDelimited).bytes(f.example.message as Uint8Array);
    w.join();
  }
  return w.finish();
}

function writeMap(w: BinaryWriter, field: number, m: Record<string, string>): void {
  for (const [k, v] of Object.entries(m)) {
    w.tag(field, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(k);
    w.tag(2, WireType.LengthDelimited).string(v);
    w.join();
  }
}

// The frame of most stream messages, {id, message}, written straight into one buffer: a BinaryWriter
// costs more than the copy of the (often shared, already encoded) message itself.
function messageFrame(id: string, message: Uint8Array): Uint8Array {
  const idLen = Buffer.byteLength(id);
  const size = (idLen > 0 ? 1 + varintSize(idLen) + idLen : 0) + 1 + varintSize(message.length) + message.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (idLen > 0) {
    out[at++] = (F.id << 3) | WireType.LengthDelimited;
    at = writeVarint(out, at, idLen);
    at += out.write(id, at, "utf8");
  }
  out[at++] = (F.message << 3) | WireType.LengthDelimited;
  at = writeVarint(out, at, message.length);
  out.set(message, at);
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}
