import type { DescMessage, Message, Registry as TypeRegistry } from "@bufbuild/protobuf";
import type { NodeResponse } from "../http/types.js";
import { renderError, renderMessage } from "./render.js";
import { isHttpBody } from "./request.js";
import type { RestRoute } from "./routes.js";
import type { StreamFormat } from "./stream.js";
import type { RouteTrie, TrieMatch } from "./trie.js";

/**
 * HEAD as RFC 9110 (9.3.2) defines it: the route GET would take, when no rule binds HEAD itself.
 * Where GET is allowed, so is HEAD, so it joins the methods of a 405's Allow.
 */
export function withHead(method: string, trie: RouteTrie<RestRoute>, segments: string[]): TrieMatch<RestRoute> {
  const m = trie.lookup(method, segments);
  if (m.route) return m;
  if (method === "HEAD") {
    const get = trie.lookup("GET", segments);
    if (get.route) return get;
  }
  if (m.allowed.includes("GET") && !m.allowed.includes("HEAD")) return { allowed: [...m.allowed, "HEAD"].sort() };
  return m;
}

/**
 * HEAD on a server-streaming route: the status and headers GET would start its response with, and
 * no body. The call is started (so interceptors, auth and validation decide the status exactly as
 * for GET) and cancelled before a message is sent; a HEAD must not hold a stream open. As in
 * writeStream, an error within one event-loop turn is the HTTP status; a slower start is a 200.
 */
export async function headOfStream(
  response: NodeResponse,
  output: DescMessage,
  messages: AsyncIterator<Message>,
  format: StreamFormat,
  headers: () => Record<string, string | string[]>,
  types: TypeRegistry,
): Promise<void> {
  const res = response as unknown as { writeHead(s: number, h: Record<string, string | string[]>): unknown; end(): unknown };
  const raw = isHttpBody(output) && format === "ndjson";
  const pending = messages.next();
  // A raw HttpBody stream's content type is its first message's, so GET waits for it; so does HEAD.
  const settled = raw ? await pending.then(yes, yes) : await Promise.race([pending.then(yes, yes), new Promise<boolean>((r) => setImmediate(r, false))]);
  // Not awaited: a return() queues behind a next() still pending, which only the caller's abort ends.
  const stop = () => void messages.return?.()?.catch(noop);
  let contentType = format === "sse" ? "text/event-stream" : "application/x-ndjson";
  try {
    if (settled) {
      const first = await pending;
      if (raw && !first.done) contentType = renderMessage(output, first.value, undefined, types).contentType;
    }
  } catch (err) {
    const e = renderError(err, types);
    res.writeHead(e.status, { ...headers(), ...e.headers });
    res.end();
    return;
  }
  stop();
  res.writeHead(200, { ...headers(), "content-type": contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
  res.end();
}

const yes = () => true;
const noop = () => {};
