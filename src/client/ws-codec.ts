import { base64Decode, BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";

// The client half of proto/oneport/ws/v1/frame.proto: client frames out, server frames in. Pure
// functions over strings and bytes; the sockets live in ws-connection.ts.

/** The two encodings of oneport.ws.v1.Frame. */
export type FrameFormat = "json" | "proto";

/** WebSocket subprotocol names by encoding (the bridge's names). */
export const wsSubprotocols: Record<FrameFormat, string> = { json: "oneport.json.v1", proto: "oneport.proto.v1" };

/** A frame the client sends; `message` is already encoded: a JSON value (json) or bytes (proto). */
export interface OutFrame {
  id: string;
  method?: string;
  headers?: Record<string, string>;
  message?: unknown;
  end?: boolean;
  cancel?: boolean;
  timeoutMs?: number;
}

/** One error detail as in the Connect protocol: a type name and the binary message. */
export interface WireDetail {
  type: string;
  value: Uint8Array;
}

/** A server frame after decoding; `message` is still the method's encoded message. */
export interface InFrame {
  /** "" in connection-level error frames. */
  id: string;
  headers?: Record<string, string>;
  message?: unknown;
  end: boolean;
  status?: { code: string; message: string; details: WireDetail[] };
  trailers?: Record<string, string>;
}

/** Encodes a client frame: a JSON text frame or a binary protobuf frame. */
export function encodeClientFrame(f: OutFrame, format: FrameFormat): string | Uint8Array {
  if (format === "json") {
    const o: Record<string, unknown> = { id: f.id };
    if (f.method) o.method = f.method;
    if (f.headers && hasKeys(f.headers)) o.headers = f.headers;
    if (f.message !== undefined) o.message = f.message;
    if (f.end) o.end = true;
    if (f.cancel) o.cancel = true;
    if (f.timeoutMs !== undefined) o.timeout_ms = f.timeoutMs;
    return JSON.stringify(o);
  }
  // Written by hand rather than through create()+toBinary(): this runs once per message on the hot
  // path, and the field numbers are the wire contract of frame.proto (checked against it in tests).
  if (!f.method && !f.headers && !f.cancel && f.timeoutMs === undefined) return encodeMessageFrame(f.id, f.message as Uint8Array | undefined, f.end === true);
  const w = new BinaryWriter();
  w.tag(1, 2).string(f.id);
  if (f.method) w.tag(2, 2).string(f.method);
  if (f.headers) {
    for (const [k, v] of Object.entries(f.headers)) w.tag(3, 2).fork().tag(1, 2).string(k).tag(2, 2).string(v).join();
  }
  if (f.message !== undefined) w.tag(4, 2).bytes(f.message as Uint8Array);
  if (f.end) w.tag(5, 0).bool(true);
  if (f.cancel) w.tag(6, 0).bool(true);
  if (f.timeoutMs !== undefined) w.tag(9, 0).uint32(f.timeoutMs);
  return w.finish();
}

// The common frame of a stream, {id, message?, end?}, into one exactly sized buffer. Ids are the
// transport's own short ASCII strings; anything else takes the general path.
function encodeMessageFrame(id: string, message: Uint8Array | undefined, end: boolean): Uint8Array {
  if (id.length > 127 || !/^[\x00-\x7f]*$/.test(id)) {
    const w = new BinaryWriter().tag(1, 2).string(id);
    if (message !== undefined) w.tag(4, 2).bytes(message);
    if (end) w.tag(5, 0).bool(true);
    return w.finish();
  }
  const n = message?.length ?? 0;
  const out = new Uint8Array(2 + id.length + (message !== undefined ? 1 + varintSize(n) + n : 0) + (end ? 2 : 0));
  let p = 0;
  out[p++] = 0x0a; // field 1, length-delimited
  out[p++] = id.length;
  for (let i = 0; i < id.length; i++) out[p++] = id.charCodeAt(i);
  if (message !== undefined) {
    out[p++] = 0x22; // field 4, length-delimited
    for (let v = n; ; v >>>= 7) {
      if (v < 0x80) {
        out[p++] = v;
        break;
      }
      out[p++] = (v & 0x7f) | 0x80;
    }
    out.set(message, p);
    p += n;
  }
  if (end) {
    out[p++] = 0x28; // field 5, varint
    out[p++] = 1;
  }
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

/** Decodes a server frame; throws a ConnectError (INTERNAL) when the bytes are not a Frame. */
export function decodeServerFrame(data: string | Uint8Array, format: FrameFormat): InFrame {
  if (format === "proto") {
    if (typeof data === "string") throw protocolError("a text frame on the binary subprotocol");
    try {
      return readFrame(new BinaryReader(data));
    } catch {
      throw protocolError("a frame that is not a oneport.ws.v1.Frame");
    }
  }
  if (typeof data !== "string") throw protocolError("a binary frame on the JSON subprotocol");
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw protocolError("a text frame that is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw protocolError("a JSON frame that is not an object");
  const o = v as Record<string, unknown>;
  const s = o.status as Record<string, unknown> | undefined;
  return {
    id: typeof o.id === "string" ? o.id : "",
    headers: stringMap(o.headers),
    message: o.message === null ? undefined : o.message,
    end: o.end === true,
    status: s && typeof s === "object"
      ? {
          code: typeof s.code === "string" ? s.code : "unknown",
          message: typeof s.message === "string" ? s.message : "",
          details: Array.isArray(s.details) ? s.details.flatMap(jsonDetail) : [],
        }
      : undefined,
    trailers: stringMap(o.trailers),
  };
}

// Reads a server Frame with the wire reader rather than fromBinary(FrameSchema): no reflection and
// no message objects per frame. Unknown fields are skipped, as protobuf requires.
function readFrame(r: BinaryReader): InFrame {
  const f: InFrame = { id: "", end: false };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) f.id = r.string();
    else if (no === 3 && wt === WireType.LengthDelimited) readEntry(r, (f.headers ??= {}));
    else if (no === 4 && wt === WireType.LengthDelimited) f.message = r.bytes();
    else if (no === 5 && wt === WireType.Varint) f.end = r.bool();
    else if (no === 7 && wt === WireType.LengthDelimited) f.status = readStatus(new BinaryReader(r.bytes()));
    else if (no === 8 && wt === WireType.LengthDelimited) readEntry(r, (f.trailers ??= {}));
    else r.skip(wt);
  }
  return f;
}

function readEntry(r: BinaryReader, into: Record<string, string>): void {
  const e = new BinaryReader(r.bytes());
  let k = "";
  let v = "";
  while (e.pos < e.len) {
    const [no, wt] = e.tag();
    if (no === 1 && wt === WireType.LengthDelimited) k = e.string();
    else if (no === 2 && wt === WireType.LengthDelimited) v = e.string();
    else e.skip(wt);
  }
  into[k] = v;
}

function readStatus(r: BinaryReader): NonNullable<InFrame["status"]> {
  const s: NonNullable<InFrame["status"]> = { code: "", message: "", details: [] };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) s.code = r.string();
    else if (no === 2 && wt === WireType.LengthDelimited) s.message = r.string();
    else if (no === 3 && wt === WireType.LengthDelimited) {
      const d = new BinaryReader(r.bytes());
      const detail: WireDetail = { type: "", value: new Uint8Array(0) };
      while (d.pos < d.len) {
        const [dn, dw] = d.tag();
        if (dn === 1 && dw === WireType.LengthDelimited) detail.type = d.string();
        else if (dn === 2 && dw === WireType.LengthDelimited) detail.value = d.bytes();
        else d.skip(dw);
      }
      s.details.push(detail);
    } else r.skip(wt);
  }
  return s;
}

/** The error a final status stands for (undefined for "ok"); metadata is headers plus trailers. */
export function statusError(status: InFrame["status"], headers: Headers, trailers: Headers): ConnectError | undefined {
  if (!status) return new ConnectError("protocol error: final frame without status", Code.Internal, mergeHeaders(headers, trailers));
  if (status.code === "ok") return undefined;
  const code = codeFromString(status.code) ?? Code.Unknown;
  const err = new ConnectError(status.message, code, mergeHeaders(headers, trailers));
  // Incoming details as connect's own protocols store them; findDetails() decodes them on demand.
  for (const d of status.details) err.details.push({ type: d.type, value: d.value });
  return err;
}

/** Lower-cases names and joins repeated values with ", " as frame.proto requires. */
export function headersToRecord(h: Headers): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  h.forEach((v, k) => ((out ??= {})[k] = v));
  return out;
}

/** A frame's string map as Headers. */
export function recordToHeaders(r: Record<string, string> | undefined): Headers {
  const h = new Headers();
  if (r) for (const [k, v] of Object.entries(r)) h.append(k, v);
  return h;
}

function mergeHeaders(a: Headers, b: Headers): Headers {
  const h = new Headers(a);
  b.forEach((v, k) => h.append(k, v));
  return h;
}

function jsonDetail(d: unknown): WireDetail[] {
  if (typeof d !== "object" || d === null) return [];
  const { type, value } = d as Record<string, unknown>;
  if (typeof type !== "string" || typeof value !== "string") return [];
  try {
    return [{ type, value: base64Decode(value) }];
  } catch {
    return [];
  }
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string") out[k] = x;
  return hasKeys(out) ? out : undefined;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function protocolError(what: string): ConnectError {
  return new ConnectError(`protocol error: the server sent ${what}`, Code.Internal);
}
