/**
 * The conformance runner's stdin/stdout framing: each message is a big-endian uint32 length
 * followed by that many bytes of binary protobuf. Pure functions plus one stream reader.
 */

/** Prefixes one encoded message with its 4-byte big-endian length. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + message.byteLength);
  out.writeUInt32BE(message.byteLength, 0);
  out.set(message, 4);
  return out;
}

/** Splits complete frames off the front of `bytes`; returns them and the bytes left over. */
export function unframe(bytes: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let at = 0;
  while (bytes.length - at >= 4) {
    const len = bytes.readUInt32BE(at);
    if (bytes.length - at - 4 < len) break;
    messages.push(bytes.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { messages, rest: bytes.subarray(at) };
}

/** Reads exactly one frame from a stream (the runner writes one request, then may keep stdin open). */
export function readFrame(input: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const { messages } = unframe(seen);
      if (messages.length === 0) return;
      done();
      resolve(messages[0]);
    };
    const onEnd = () => {
      done();
      reject(new Error(`stdin ended after ${seen.length} bytes, before a complete size-prefixed message`));
    };
    const done = () => {
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("error", reject);
    };
    input.on("data", onData);
    input.once("end", onEnd);
    input.once("error", reject);
  });
}
