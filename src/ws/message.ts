import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type JsonValue, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { isShared } from "../pubsub/shared.js";
import { JsonText, type WireFormat } from "./frame.js";

/** Encodes and decodes the `message` field of frames for one connection's format (pure). */
export class MessageCodec {
  constructor(
    readonly format: WireFormat,
    private readonly registry: Registry,
    /** Largest request message accepted (limits.maxMessageBytes). */
    private readonly maxBytes: number,
    /** Largest response message sent (limits.maxSendMessageBytes). */
    private readonly maxSendBytes: number = maxBytes,
  ) {}

  /**
   * A request from a client frame; a missing message is the empty message. Throws INVALID_ARGUMENT,
   * or RESOURCE_EXHAUSTED past maxBytes: for JSON, measured as the message's JSON text, like a Connect
   * JSON body (only when the whole frame, `frameBytes`, is larger than the limit: smaller ones cannot be over).
   */
  decode<D extends DescMessage>(desc: D, raw: unknown, frameBytes?: number): MessageShape<D> {
    if (this.format === "proto") {
      const bytes = (raw as Uint8Array | undefined) ?? new Uint8Array(0);
      if (bytes.length > this.maxBytes) {
        throw new ConnectError(`message of ${bytes.length} bytes exceeds the limit of ${this.maxBytes} bytes`, Code.ResourceExhausted);
      }
      try {
        return fromBinary(desc, bytes);
      } catch (e) {
        throw new ConnectError(`message is not a valid ${desc.typeName}: ${reason(e)}`, Code.InvalidArgument);
      }
    }
    if (frameBytes !== undefined && frameBytes > this.maxBytes) {
      const n = Buffer.byteLength(JSON.stringify(raw ?? {}));
      if (n > this.maxBytes) throw new ConnectError(`message of ${n} bytes exceeds the limit of ${this.maxBytes} bytes`, Code.ResourceExhausted);
    }
    try {
      return fromJson(desc, (raw ?? {}) as JsonValue, { registry: this.registry });
    } catch (e) {
      throw new ConnectError(`message is not a valid ${desc.typeName}: ${reason(e)}`, Code.InvalidArgument);
    }
  }

  /** Encodings of shared messages (pubsub/shared.ts), made once for all the readers of this format. */
  private readonly cache = new WeakMap<object, JsonText | Uint8Array>();

  /**
   * A response for a server frame: JSON text (JsonText) or bytes. Throws RESOURCE_EXHAUSTED past the
   * size limit. A shared message (one fan-out message for every subscriber) is encoded only once.
   */
  encode<D extends DescMessage>(desc: D, msg: MessageShape<D>): JsonText | Uint8Array {
    const shared = isShared(msg);
    let out = shared ? this.cache.get(msg) : undefined;
    if (out === undefined) {
      out = this.format === "proto" ? toBinary(desc, msg) : new JsonText(JSON.stringify(toJson(desc, msg, { registry: this.registry })));
      if (shared) this.cache.set(msg, out);
    }
    // A UTF-8 byte is at most 3 per UTF-16 unit: most JSON answers are measured without counting.
    const size = out instanceof JsonText ? (out.text.length * 3 > this.maxSendBytes ? out.bytes() : 0) : out.length;
    if (size > this.maxSendBytes) throw tooBig(size, this.maxSendBytes);
    return out;
  }
}

function tooBig(n: number, max: number): ConnectError {
  return new ConnectError(`response message of ${n} bytes exceeds the limit of ${max} bytes`, Code.ResourceExhausted);
}

function reason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  // protobuf-es prefixes its messages with "cannot decode ... from JSON: "; keep the useful tail.
  const i = m.lastIndexOf(": ");
  return i >= 0 && m.startsWith("cannot decode") ? m.slice(i + 2) : m;
}
