import type { DescMessage, Message, Registry as TypeRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeResponse } from "../http/types.js";
import { statusJson } from "./errors.js";
import { renderError, renderMessage } from "./render.js";
import { isHttpBody } from "./request.js";

/** How a server stream is framed on REST. */
export type StreamFormat = "ndjson" | "sse";

/** Picks SSE when the client accepts text/event-stream, newline-delimited JSON otherwise. */
export function streamFormat(accept: string | undefined): StreamFormat {
  return accept !== undefined && accept.includes("text/event-stream") ? "sse" : "ndjson";
}

/**
 * Writes a server stream. NDJSON frames each message as {"result": ...} and a failure as a last
 * {"error": Status} line (grpc-gateway's format); SSE sends each message as a `data:` event and
 * ends with `event: end` or `event: error` carrying the Status. HttpBody streams pass raw bytes.
 * Backpressure: the next message is pulled only after the socket drained, so a slow reader holds
 * the producer instead of growing a buffer.
 */
export async function writeStream(
  response: NodeResponse,
  output: DescMessage,
  messages: AsyncIterator<Message>,
  format: StreamFormat,
  headers: () => Record<string, string | string[]>,
  trailers: () => Record<string, string>,
  types: TypeRegistry,
): Promise<void> {
  const res = response as unknown as Sink;
  let first: IteratorResult<Message>;
  try {
    first = await messages.next();
  } catch (err) {
    // Nothing sent yet: answer with a plain error status, like a unary call.
    const e = renderError(err, types);
    if (!res.headersSent) res.writeHead(e.status, { ...headers(), ...e.headers });
    res.end(e.body);
    return;
  }
  const raw = isHttpBody(output);
  const contentType = format === "sse" ? "text/event-stream" : raw && !first.done ? renderMessage(output, first.value, undefined, types).contentType : "application/x-ndjson";
  res.writeHead(200, { ...headers(), "content-type": contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
  const frame = (m: Message): string | Uint8Array => {
    const r = renderMessage(output, m, undefined, types);
    if (raw && format === "ndjson") return r.body;
    return format === "sse" ? `data: ${r.body as string}\n\n` : `{"result":${r.body as string}}\n`;
  };
  let closed = false;
  const onClose = () => (closed = true);
  res.once("close", onClose);
  try {
    for (let next = first; !next.done; next = await messages.next()) {
      if (closed) break;
      if (!res.write(frame(next.value))) await drained(res);
    }
    if (!closed && format === "sse") res.write(`event: end\ndata: {"code":0,"message":"","details":[]}\n\n`);
  } catch (err) {
    if (!closed) {
      const status = JSON.stringify(statusJson(err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal), types));
      res.write(format === "sse" ? `event: error\ndata: ${status}\n\n` : `{"error":${status}}\n`);
    }
  } finally {
    res.off("close", onClose);
    if (closed) await messages.return?.();
    else {
      const t = trailers();
      if (Object.keys(t).length > 0) res.addTrailers(t);
      res.end();
    }
  }
}

/** The part of the HTTP/1.1 and HTTP/2 response APIs a stream uses (the union type is not callable). */
interface Sink {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | string[]>): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  addTrailers(headers: Record<string, string>): void;
  on(event: string, fn: () => void): unknown;
  once(event: string, fn: () => void): unknown;
  off(event: string, fn: () => void): unknown;
}

function drained(res: Sink): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
