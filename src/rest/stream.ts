import type { DescMessage, Message, Registry as TypeRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeResponse } from "../http/types.js";
import { statusJson } from "./errors.js";
import { renderError, renderMessage } from "./render.js";
import { isHttpBody } from "./request.js";

/** How a server stream is framed on REST. */
export type StreamFormat = "ndjson" | "sse";

/**
 * Picks SSE when the Accept header names text/event-stream (or text/*) with a q above 0 and at
 * least that of NDJSON and JSON; NDJSON otherwise, and for a missing or malformed header. The
 * match-all range alone does not ask for SSE: fetch sends it by default and expects the default.
 */
export function streamFormat(accept: string | undefined): StreamFormat {
  if (accept === undefined) return "ndjson";
  const sse = acceptQuality(accept, "text", "event-stream", false);
  return sse > 0 && sse >= acceptQuality(accept, "application", "x-ndjson") && sse >= acceptQuality(accept, "application", "json") ? "sse" : "ndjson";
}

/**
 * The q an Accept header gives type/subtype (lowercase; RFC 9110 §12.5.1): that of the most specific
 * matching media range (type/subtype, then type/*, then the match-all range unless `matchAll` is
 * false), 0 when none matches, -1 when the header is malformed. The header's types compare
 * case-insensitively; parameters other than q are ignored. Scans in place, without splitting or
 * lowercasing: it runs per stream.
 */
export function acceptQuality(accept: string, type: string, subtype: string, matchAll = true): number {
  let best = -1; // specificity of the best match so far: 0 match-all, 1 type/*, 2 type/subtype
  let q = 0;
  const n = accept.length;
  for (let i = skipOws(accept, 0); i < n; i = skipOws(accept, i + 1)) {
    if (accept.charCodeAt(i) === COMMA) continue; // empty list elements are allowed
    const t = i;
    i = skipToken(accept, i);
    if (i === t || accept.charCodeAt(i) !== SLASH) return -1;
    const s = i + 1;
    i = skipToken(accept, s);
    if (i === s) return -1;
    const anyType = same(accept, t, s - 1, "*");
    const anySub = same(accept, s, i, "*");
    const spec = same(accept, t, s - 1, type) ? (same(accept, s, i, subtype) ? 2 : anySub ? 1 : -1) : matchAll && anyType && anySub ? 0 : -1;
    let rangeQ = 1;
    for (i = skipOws(accept, i); accept.charCodeAt(i) === SEMICOLON; i = skipOws(accept, i)) {
      const p = skipOws(accept, i + 1);
      i = skipToken(accept, p);
      if (i === p || accept.charCodeAt(i) !== EQUALS) return -1;
      const v = i + 1;
      i = accept.charCodeAt(v) === QUOTE ? skipQuoted(accept, v) : skipToken(accept, v);
      if (i <= v) return -1;
      if (same(accept, p, v - 1, "q") && (rangeQ = qvalue(accept, v, i)) < 0) return -1;
    }
    if (i < n && accept.charCodeAt(i) !== COMMA) return -1;
    if (spec >= 0 && (spec > best || (spec === best && rangeQ > q))) {
      best = spec;
      q = rangeQ;
    }
  }
  return best < 0 ? 0 : q;
}

const COMMA = 0x2c;
const SLASH = 0x2f;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** RFC 9110 tchar, by char code: letters, digits and !#$%&'*+-.^_`|~. */
const TCHAR = new Uint8Array(128).map((_, c) => Number(/[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(c))));

function skipToken(s: string, i: number): number {
  while (TCHAR[s.charCodeAt(i)] === 1) i++;
  return i;
}

function skipOws(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c === 0x20 || c === 0x09; c = s.charCodeAt(++i));
  return i;
}

/** The index after the quoted-string that starts at i, or -1 when it does not close. */
function skipQuoted(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/** Whether s[from, to) is a lowercase literal, ignoring ASCII case. */
function same(s: string, from: number, to: number, lower: string): boolean {
  if (to - from !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    const c = s.charCodeAt(from + k);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** The qvalue in s[from, to): "0" or "1" with up to three decimals, at most 1; -1 when malformed. */
function qvalue(s: string, from: number, to: number): number {
  const whole = s.charCodeAt(from) - 0x30;
  if ((whole !== 0 && whole !== 1) || to - from > 5) return -1;
  if (to - from === 1) return whole;
  if (s.charCodeAt(from + 1) !== 0x2e) return -1;
  let frac = 0;
  for (let k = from + 2, scale = 100; k < to; k++, scale /= 10) {
    const d = s.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return -1;
    frac += d * scale;
  }
  return whole === 1 && frac > 0 ? -1 : whole + frac / 1000;
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
