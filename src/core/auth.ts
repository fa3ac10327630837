import { createHash } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";

/** The name the caller's token belongs to; "" when the call was not authenticated. */
export const authorKey = createContextKey<string>("", { description: "oneport authenticated author" });

/** Options of authInterceptor(). */
export interface AuthOptions {
  /** Token to name, as parseTokens() returns it. */
  tokens: ReadonlyMap<string, string>;
  /** Fully qualified names of the services that need a token (e.g. "chat.v1.ChatService"); others stay open. */
  services: readonly string[];
}

/** The tokens the CLI uses when none are configured: well known, so for local development only. */
export const DEV_CHAT_TOKENS = "alice:alice-token,bob:bob-token";

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const TOKEN = /^[\x21-\x7e]{1,256}$/;

/**
 * Parses "alice:token1,bob:token2" (name:token pairs, comma separated) into token -> name.
 * Throws an Error that says which entry is wrong. A name may own several tokens; a token one name.
 */
export function parseTokens(spec: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const colon = entry.indexOf(":");
    const name = colon < 0 ? "" : entry.slice(0, colon);
    const token = colon < 0 ? "" : entry.slice(colon + 1);
    if (!NAME.test(name)) throw new Error(`bad token entry "${entry}": expected name:token, the name 1 to 32 characters of A-Z a-z 0-9 _ . -`);
    if (!TOKEN.test(token)) throw new Error(`bad token entry "${entry}": the token must be 1 to 256 printable ASCII characters without spaces or commas`);
    if (tokens.has(token)) throw new Error(`token of "${name}" is also given to "${tokens.get(token)}": tokens must be unique`);
    tokens.set(token, name);
  }
  if (tokens.size === 0) throw new Error('no tokens given: expected "name:token,name2:token2"');
  return tokens;
}

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

const unauthenticated = (message: string) =>
  // The WWW-Authenticate header tells HTTP clients (REST, Connect) which scheme to use.
  new ConnectError(message, Code.Unauthenticated, { "www-authenticate": 'Bearer realm="oneport"' });

/**
 * Checks `authorization: Bearer <token>` on the listed services' methods and puts the token's
 * name into the context (authorKey). Every protocol passes through the same interceptor chain, so
 * a missing or bad token is UNAUTHENTICATED on gRPC, gRPC-Web, Connect, REST and WebSocket alike.
 */
export function authInterceptor(options: AuthOptions): Interceptor {
  // Keyed by digest: looking a secret up by itself would let timing reveal how much of it matched.
  const byDigest = new Map([...options.tokens].map(([token, name]) => [digest(token), name]));
  const guarded = new Set(options.services);
  return (next) => async (req) => {
    if (!guarded.has(req.service.typeName)) return next(req);
    const header = req.header.get("authorization");
    if (header === null || header.trim() === "") throw unauthenticated(`${req.service.typeName} needs a token: send the header "authorization: Bearer <token>"`);
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw unauthenticated('the authorization header must be "Bearer <token>"');
    const name = byDigest.get(digest(m[1]));
    if (name === undefined) throw unauthenticated("unknown token");
    req.contextValues.set(authorKey, name);
    return next(req);
  };
}
