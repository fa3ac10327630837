import { createHash } from "node:crypto";
import { notMine, type Principal, type Verifier } from "./principal.js";

/** The tokens the CLI uses when none are configured: well known, so for local development only. */
export const DEV_CHAT_TOKENS = "alice:alice-token,bob:bob-token";

/** One static token: who it belongs to and what it may do. */
export interface StaticToken {
  token: string;
  subject: string;
  scopes?: string[];
  /** The only methods the token may call, as rule patterns ("chat.v1.ChatService/*"); default: any. */
  only?: string[];
}

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

/**
 * A verifier of fixed tokens: a token -> name map (as parseTokens returns) or a list with scopes.
 * Tokens it does not know are "not mine", so a JWT verifier tried after it still gets its say.
 */
export function staticVerifier(tokens: ReadonlyMap<string, string> | readonly StaticToken[]): Verifier {
  const list: StaticToken[] = tokens instanceof Map ? [...tokens].map(([token, subject]) => ({ token, subject })) : [...(tokens as readonly StaticToken[])];
  // Keyed by digest: looking a secret up by itself would let timing reveal how much of it matched.
  const byDigest = new Map<string, Principal>();
  for (const t of list) {
    if (typeof t.token !== "string" || !TOKEN.test(t.token)) throw new Error(`static token of "${String(t.subject)}": the token must be 1 to 256 printable ASCII characters without spaces`);
    if (typeof t.subject !== "string" || t.subject === "") throw new Error("every static token needs a subject (the name it belongs to)");
    if (t.only !== undefined && (!Array.isArray(t.only) || t.only.length === 0 || t.only.some((m) => typeof m !== "string" || m === ""))) {
      throw new Error(`static token of "${t.subject}": only must be a non-empty list of method patterns such as "chat.v1.ChatService/*"`);
    }
    const d = digest(t.token);
    if (byDigest.has(d)) throw new Error(`static token of "${t.subject}" is also given to "${byDigest.get(d)!.subject}": tokens must be unique`);
    const p: Principal = { subject: t.subject, scopes: Object.freeze([...(t.scopes ?? [])]), claims: Object.freeze({}), ...(t.only ? { only: Object.freeze([...t.only]) } : {}) };
    byDigest.set(d, Object.freeze(p));
  }
  return {
    async verify(token) {
      const p = byDigest.get(digest(token));
      if (p === undefined) throw notMine("unknown token: send a token this server issued");
      return p;
    },
  };
}
