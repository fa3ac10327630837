import { fromJsonString, toJsonString, type DescMessage, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createMethodSerializationLookup } from "@connectrpc/connect/protocol";
import type { OutgoingHttpHeaders } from "node:http2";
import { jsonWriteOptions } from "../core/json-options.js";
import { copyInto } from "../core/pipeline.js";
import type { RegisteredMethod } from "../core/registry.js";

/** Parses and serializes one method's messages, with connect's error messages and size limits. */
export interface Codec {
  parse(binary: boolean, data: Uint8Array): MessageShape<DescMessage>;
  serialize(binary: boolean, message: MessageShape<DescMessage>): Uint8Array;
}

const codecs = new WeakMap<RegisteredMethod, Codec>();

/**
 * The (cached) codec of a method; JSON ignores unknown fields, like connect-node, and resolves
 * google.protobuf.Any through `registry` (every registered file and its dependencies).
 */
export function codecOf(m: RegisteredMethod, maxBytes: number, maxSendBytes: number, registry?: Registry): Codec {
  let c = codecs.get(m);
  if (c === undefined) {
    const s = createMethodSerializationLookup(m.method, undefined, undefined, { readMaxBytes: maxBytes, writeMaxBytes: maxSendBytes });
    const inB = s.getI(true), outB = s.getO(true);
    const inJ = jsonSerialization(m.method.input, maxBytes, maxSendBytes, registry);
    const outJ = jsonSerialization(m.method.output, maxBytes, maxSendBytes, registry);
    c = {
      parse: (binary, data) => (binary ? inB : inJ).parse(data),
      serialize: (binary, msg) => (binary ? outB : outJ).serialize(msg),
    };
    codecs.set(m, c);
  }
  return c;
}

/**
 * connect's JSON serialization (same options, errors and limits) through Buffer instead of
 * TextDecoder/TextEncoder: TextEncoder.encode allocates a fresh ArrayBuffer per message, and
 * ArrayBuffers are what drives V8's garbage collections on a busy server; Buffer.from(string)
 * takes small messages from Node's pool.
 */
function jsonSerialization(desc: DescMessage, readMax: number, writeMax: number, registry: Registry | undefined) {
  const opts = { ignoreUnknownFields: true, registry };
  const writeOpts = jsonWriteOptions(desc, registry);
  return {
    parse(data: Uint8Array): MessageShape<DescMessage> {
      if (data.byteLength > readMax) throw new ConnectError(`message size ${data.byteLength} is larger than configured readMaxBytes ${readMax}`, Code.ResourceExhausted);
      try {
        return fromJsonString(desc, utf8(data), opts);
      } catch (e) {
        throw ConnectError.from(e, Code.InvalidArgument);
      }
    },
    serialize(msg: MessageShape<DescMessage>): Uint8Array {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(toJsonString(desc, msg, writeOpts), "utf8");
      } catch (e) {
        throw ConnectError.from(e, Code.Internal);
      }
      if (bytes.byteLength > writeMax) throw new ConnectError(`message size ${bytes.byteLength} is larger than configured writeMaxBytes ${writeMax}`, Code.ResourceExhausted);
      return bytes;
    },
  };
}

// UTF-8 text as TextDecoder reads it: a leading byte order mark is dropped, bad sequences become U+FFFD.
function utf8(data: Uint8Array): string {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bom = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  return b.toString("utf8", bom);
}

/** The 5-byte envelope of gRPC and gRPC-Web around one message. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

/** The single message of a unary or server-streaming request body, or the error connect-node raises. */
export function singleEnvelope(body: Buffer, maxBytes: number, kind: string): Uint8Array | ConnectError {
  if (body.length === 0) return new ConnectError(`protocol error: missing input message for ${kind} method`, Code.Unimplemented);
  const first = envelopeAt(body, 0, maxBytes);
  if (first instanceof ConnectError) return first;
  const end = 5 + first.byteLength;
  if (end < body.length) {
    const second = envelopeAt(body, end, maxBytes);
    if (second instanceof ConnectError) return second;
    return new ConnectError(`protocol error: received extra input message for ${kind} method`, Code.Unimplemented);
  }
  return first;
}

function envelopeAt(body: Buffer, at: number, maxBytes: number): Uint8Array | ConnectError {
  if (body.length - at < 5) return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const len = body.readUInt32BE(at + 1);
  if (len > maxBytes) return tooLarge(len, maxBytes);
  if (body.length - at - 5 < len) return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if ((body[at] & 0b1) !== 0) return new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  return body.subarray(at + 5, at + 5 + len);
}

/** connect-node's error for a message over the read limit. */
export function tooLarge(size: number | undefined, maxBytes: number): ConnectError {
  const what = size === undefined ? "message size" : `message size ${size}`;
  return new ConnectError(`${what} is larger than configured readMaxBytes ${maxBytes}`, Code.ResourceExhausted);
}

/** Any thrown value as the error a client may see: non-ConnectErrors become a bare "internal error". */
export function clientError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

/** Copies a fetch Headers into a Node header object (optionally prefixed), overwriting. */
export function nodeHeaders(h: Headers, into: OutgoingHttpHeaders = {}, prefix = ""): OutgoingHttpHeaders {
  return copyInto(h, into, prefix);
}

// Bytes a grpc-message may carry as they are (gRPC over HTTP/2 spec: 0x20-0x7E except "%").
const PLAIN_GRPC_MESSAGE = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * Percent-encodes a grpc-message as the gRPC spec says: only "%" and bytes outside 0x20-0x7E, as
 * UTF-8. (encodeURIComponent, which connect uses, also encodes ":" and "/", and grpc-js, which
 * decodes with decodeURI, then shows "%3A" and "%2F" to its users.)
 */
export function encodeGrpcMessage(message: string): string {
  if (PLAIN_GRPC_MESSAGE.test(message)) return message;
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
