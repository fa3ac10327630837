import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { BinaryFrameError, encodeBinaryServerFrame } from "./frame-binary.js";
import { decodeClientFrameFast } from "./frame-fast.js";
import { dataFrame } from "./wire.js";

// The pure half of the bridge: bytes and strings in, frames out, and back. No sockets here.

/** The two encodings of oneport.ws.v1.Frame. */
export type WireFormat = "json" | "proto";

/** WebSocket subprotocol names by encoding; a client that offers none gets JSON. */
export const subprotocols: Record<WireFormat, string> = { json: "oneport.json.v1", proto: "oneport.proto.v1" };

/** A client frame after the envelope is checked; `message` is still undecoded (JSON value or bytes). */
export interface ClientFrame {
  id: string;
  /** "" when the frame names no method. */
  method: string;
  headers?: Record<string, string>;
  message?: unknown;
  end: boolean;
  cancel: boolean;
  timeoutMs?: number;
  /** Bytes of the whole frame, for JSON frames (whose message arrives parsed): see MessageCodec.decode. */
  size?: number;
}

/** A frame that could not be used, with what is known of the stream it meant. */
export interface FrameError {
  code: Code;
  error: string;
  /** The stream id, when the frame had a usable one ("" otherwise). */
  id: string;
  /** True when the frame tried to open a stream (it named a method). */
  opens: boolean;
}

/** One error detail as in the Connect protocol: a type name and the binary message. */
export interface Detail {
  type: string;
  value: Uint8Array;
}

/** A frame the server sends; `message` is already encoded for the wire format. */
export interface ServerFrame {
  id: string;
  headers?: Record<string, string>;
  message?: unknown;
  end?: boolean;
  status?: { code: Code | 0; message: string; details?: Detail[] };
  trailers?: Record<string, string>;
  /** A valid client frame to copy (connection-level errors only); `message` encoded like `message`. */
  example?: { id: string; method: string; message: unknown };
}

const clientKeys = new Set(["id", "method", "headers", "message", "end", "cancel", "timeout_ms", "timeoutMs"]);
const serverKeys = new Set(["status", "trailers", "example"]);

/** The Connect code name used in status frames: "ok", "invalid_argument", ... */
export function codeName(code: Code | 0): string {
  return code === 0 ? "ok" : codeToString(code);
}

/** Checks and unpacks one client frame; never throws. */
export function decodeClientFrame(data: Buffer, isBinary: boolean, format: WireFormat, maxFrameBytes: number): ClientFrame | FrameError {
  if (data.length > maxFrameBytes) {
    const peek = peekStream(data, isBinary);
    return { ...peek, code: Code.ResourceExhausted, error: `frame of ${data.length} bytes exceeds the limit of ${maxFrameBytes} bytes` };
  }
  if (format === "json") {
    if (isBinary) return fail(`this connection speaks ${subprotocols.json}: send each frame as a JSON text message (or connect with subprotocol ${subprotocols.proto})`);
    return decodeJson(data.toString("utf8"), data.length);
  }
  if (!isBinary) return fail(`this connection speaks ${subprotocols.proto}: send each frame as a binary oneport.ws.v1.Frame (or connect with subprotocol ${subprotocols.json})`);
  return decodeBinary(data);
}

function fail(error: string, id = "", opens = false, code: Code = Code.InvalidArgument): FrameError {
  return { code, error, id, opens };
}

function decodeJson(text: string, size: number): ClientFrame | FrameError {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    return fail(`not a JSON frame: ${JSON.stringify(shown)}. Send one JSON object per message; copy the "example" frame`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail('a frame is a JSON object such as the "example" frame');
  const o = v as Record<string, unknown>;
  if (o.id !== undefined && typeof o.id !== "string") return fail(`"id" must be a string such as "1", got ${JSON.stringify(o.id)}`);
  const id = (o.id as string | undefined) ?? "";
  const opens = o.method !== undefined;
  for (const k in o) {
    if (serverKeys.has(k)) return fail(`"${k}" is sent by the server only`, id, opens);
    if (!clientKeys.has(k)) return fail(`unknown frame field "${k}"; a client frame has id, method, headers, message, end, cancel and timeout_ms`, id, opens);
  }
  if (o.method !== undefined && typeof o.method !== "string") return fail('"method" must be a string such as "example.ExampleService/SayHello"', id, opens);
  if (o.end !== undefined && typeof o.end !== "boolean") return fail('"end" must be true or false', id, opens);
  if (o.cancel !== undefined && typeof o.cancel !== "boolean") return fail('"cancel" must be true or false', id, opens);
  let headers: Record<string, string> | undefined;
  if (o.headers !== undefined && o.headers !== null) {
    if (typeof o.headers !== "object" || Array.isArray(o.headers)) return fail('"headers" must be an object of strings, e.g. {"authorization": "Bearer ..."}', id, opens);
    for (const [k, hv] of Object.entries(o.headers)) if (typeof hv !== "string") return fail(`header "${k}" must have a string value`, id, opens);
    headers = o.headers as Record<string, string>;
  }
  const t = o.timeout_ms ?? o.timeoutMs;
  let timeoutMs: number | undefined;
  if (t !== undefined && t !== null) {
    // proto3 JSON writes uint32 as a number but accepts a decimal string.
    const n = typeof t === "string" && /^\d+$/.test(t) ? Number(t) : t;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) return fail('"timeout_ms" must be a whole number of milliseconds', id, opens);
    timeoutMs = n;
  }
  const message = o.message === null ? undefined : o.message;
  return { id, method: (o.method as string | undefined) ?? "", headers, message, end: o.end === true, cancel: o.cancel === true, timeoutMs, size };
}

function decodeBinary(data: Buffer): ClientFrame | FrameError {
  try {
    return decodeClientFrameFast(data);
  } catch (e) {
    const peek = peekStream(data, true);
    return fail(e instanceof BinaryFrameError ? e.message : String(e), peek.id, peek.opens);
  }
}

// Finds the id (and whether a method is named) near the start of a frame too large to parse.
function peekStream(data: Buffer, isBinary: boolean): { id: string; opens: boolean } {
  const head = data.subarray(0, 4096);
  if (!isBinary) {
    const text = head.toString("utf8");
    const m = /"id"\s*:\s*"([^"\\]{1,256})"/.exec(text);
    return { id: m ? m[1] : "", opens: /"method"\s*:/.test(text) };
  }
  let id = "";
  let opens = false;
  try {
    const r = new BinaryReader(head);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 && wt === WireType.LengthDelimited) id = r.string();
      else if (no === 2) {
        opens = true;
        r.skip(wt);
      } else if (no === 4) break; // the message itself: too large to skip within the head
      else r.skip(wt);
    }
  } catch {
    // The head ends mid-field: keep what was found.
  }
  return { id, opens };
}

/** A message already encoded as JSON text, spliced as it is into JSON frames (encodeServerFrame). */
export class JsonText {
  private size = -1;
  private encoded: Buffer | undefined;
  constructor(readonly text: string) {}

  /** Its length in UTF-8 bytes (computed once). */
  bytes(): number {
    if (this.size < 0) this.size = this.encoded ? this.encoded.length : Buffer.byteLength(this.text);
    return this.size;
  }

  /** The text as UTF-8 bytes, made once: a shared message's JsonText is written to every subscriber. */
  utf8(): Buffer {
    return (this.encoded ??= Buffer.from(this.text, "utf8"));
  }

  /** The JSON value, for code that wants the message as data (JSON.stringify calls this too). */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

// One more `"key":json` member of a JSON object being written ("" is no object yet).
function field(s: string, key: string, json: string): string {
  return `${s === "" ? "{" : `${s},`}"${key}":${json}`;
}

/** Encodes a server frame for the connection's format; a JsonText message is spliced in as it is. */
export function encodeServerFrame(f: ServerFrame, format: WireFormat): string | Uint8Array {
  if (format === "json") {
    // Built by concatenation, in JSON.stringify's order and shape, so that an encoded message (the
    // same text for every subscriber of a fan-out) is not parsed and stringified again per frame.
    let s = f.id !== "" ? `{"id":${JSON.stringify(f.id)}` : "";
    if (f.headers && Object.keys(f.headers).length > 0) s = field(s, "headers", JSON.stringify(f.headers));
    if (f.message !== undefined) s = field(s, "message", f.message instanceof JsonText ? f.message.text : JSON.stringify(f.message));
    if (f.end) s = field(s, "end", "true");
    if (f.status?.code === 0 && f.status.message === "" && !f.status.details?.length) s = field(s, "status", '{"code":"ok"}');
    else if (f.status) {
      const st: Record<string, unknown> = { code: codeName(f.status.code) };
      if (f.status.message !== "") st.message = f.status.message;
      if (f.status.details?.length) st.details = f.status.details.map((d) => ({ type: d.type, value: Buffer.from(d.value).toString("base64") }));
      s = field(s, "status", JSON.stringify(st));
    }
    if (f.trailers && Object.keys(f.trailers).length > 0) s = field(s, "trailers", JSON.stringify(f.trailers));
    if (f.example) s = field(s, "example", JSON.stringify(f.example));
    return s === "" ? "{}" : `${s}}`;
  }
  return encodeBinaryServerFrame(f, f.status ? codeName(f.status.code) : "");
}

/** The same frame as one whole WebSocket frame (wire.ts), ready for the socket. */
export function encodeWsFrame(f: ServerFrame, format: WireFormat): Buffer {
  if (format === "json") return dataFrame(encodeServerFrame(f, "json"));
  return encodeBinaryServerFrame(f, f.status ? codeName(f.status.code) : "", true) as Buffer;
}
