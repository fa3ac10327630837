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
  const raw = isHttpBody(output);
  const open = (contentType: string) => {
    res.writeHead(200, { ...headers(), "content-type": contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.flushHeaders?.();
  };
  const pending = messages.next();
  // Errors raised while a call starts (validation, auth) settle within a turn of the event loop and
  // still get a plain HTTP error status. A stream that waits longer (a subscription) is opened now,
  // so the client sees the response start. Raw HttpBody streams wait: the first message names the type.
  const early = await Promise.race([pending.then(yes, yes), new Promise<boolean>((r) => setImmediate(r, false))]);
  if (!early && !raw) open(format === "sse" ? "text/event-stream" : "application/x-ndjson");
  const frame = (m: Message): string | Uint8Array => {
    const r = renderMessage(output, m, undefined, types);
    if (raw && format === "ndjson") return r.body;
    return format === "sse" ? `data: ${r.body as string}\n\n` : `{"result":${r.body as string}}\n`;
  };
  let closed = false;
  const onClose = () => (closed = true);
  res.once("close", onClose);
  // Comments keep idle SSE connections open through proxies that drop silent ones; a reader that
  // stopped reading gets none (they would pile up in the send buffer).
  let stalled = false;
  const resume = () => (stalled = false);
  const ping = () => {
    if (stalled || res.write(": keep-alive\n\n")) return;
    stalled = true;
    res.once("drain", resume);
  };
  const keepAlive = format === "sse" ? setInterval(ping, SSE_KEEPALIVE_MS).unref() : undefined;
  try {
    let next: IteratorResult<Message>;
    try {
      next = await pending;
    } catch (err) {
      if (res.headersSent) throw err;
      // Nothing sent yet: answer with a plain error status, like a unary call.
      const e = renderError(err, types);
      res.writeHead(e.status, { ...headers(), ...e.headers });
      res.end(e.body);
      closed = true; // ended: nothing more to write
      return;
    }
    if (!res.headersSent) open(format === "sse" ? "text/event-stream" : raw && !next.done ? renderMessage(output, next.value, undefined, types).contentType : "application/x-ndjson");
    for (; !next.done; next = await messages.next()) {
      if (closed) break;
      if (!res.write(frame(next.value))) {
        stalled = true;
        await drained(res);
        stalled = false;
      }
    }
    if (!closed && format === "sse") res.write(`event: end\ndata: {"code":0,"message":"","details":[]}\n\n`);
  } catch (err) {
    if (!closed) {
      const status = JSON.stringify(statusJson(err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal), types));
      res.write(format === "sse" ? `event: error\ndata: ${status}\n\n` : `{"error":${status}}\n`);
    }
  } finally {
    clearInterval(keepAlive);
    res.off("drain", resume);
    res.off("close", onClose);
    if (closed) {
      if (!res.writableEnded) await messages.return?.();
    } else {
      const t = trailers();
      if (Object.keys(t).length > 0) res.addTrailers(t);
      res.end();
    }
  }
}

const yes = () => true;
/** How often an idle SSE stream gets a comment line. */
export const SSE_KEEPALIVE_MS = 15_000;

/** The part of the HTTP/1.1 and HTTP/2 response APIs a stream uses (the union type is not callable). */
interface Sink {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  flushHeaders?(): void;
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
