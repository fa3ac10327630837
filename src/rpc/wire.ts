import type { DescMessage, MessageShape, Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createMethodSerializationLookup } from "@connectrpc/connect/protocol";
import type { OutgoingHttpHeaders } from "node:http2";
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
    const json = registry ? { registry } : undefined;
    const s = createMethodSerializationLookup(m.method, undefined, json, { readMaxBytes: maxBytes, writeMaxBytes: maxSendBytes });
    const inB = s.getI(true), inJ = s.getI(false), outB = s.getO(true), outJ = s.getO(false);
    c = {
      parse: (binary, data) => (binary ? inB : inJ).parse(data),
      serialize: (binary, msg) => (binary ? outB : outJ).serialize(msg),
    };
    codecs.set(m, c);
  }
  return c;
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
  h.forEach((value, key) => {
    const k = prefix + key;
    const prev = into[k];
    // fetch Headers already joined repeated fields with ", "; only set-cookie comes one by one.
    if (prev === undefined || key !== "set-cookie") into[k] = value;
    else into[k] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  });
  return into;
}
