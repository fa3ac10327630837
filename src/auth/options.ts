import type { Logger } from "pino";
import { jwtVerifier, type JwtOptions } from "./jwt.js";
import type { Verifier } from "./principal.js";
import { checkAccess, checkRules, type Access, type AuthRule } from "./rules.js";
import { staticVerifier, type StaticToken } from "./static.js";

/** Authentication and authorization on every protocol (ServerOptions.auth). */
export interface AuthOptions {
  /** Fixed tokens: a token -> name map (parseTokens) or a list with scopes. */
  tokens?: ReadonlyMap<string, string> | StaticToken[];
  /** JWTs verified with jose: a secret, a public key, a local JWKS or a JWKS URL. */
  jwt?: JwtOptions;
  /** Verifiers of your own, tried first (then static tokens, then JWT). */
  verifiers?: Verifier[];
  /** Ordered rules; the first whose pattern matches a method decides. */
  rules?: AuthRule[];
  /** Access of methods no rule matches (default "authenticated"). Health and reflection stay public unless a rule says otherwise. */
  defaultAccess?: Access;
  /** The realm named in WWW-Authenticate (default "oneport"). */
  realm?: string;
  /** Cookie read for a token on WebSocket upgrades and REST GET requests, for browsers (default "oneport_token"; "" = off). */
  cookie?: string;
  /** Query parameter read for a token on WebSocket upgrades and REST GET requests (default "" = off: URLs end up in logs). */
  queryParam?: string;
  /** Refuse WebSocket upgrades that carry no token (default false: calls are then checked one by one). */
  requireForWebSocket?: boolean;
  /** How long a verified token is remembered, in ms (default 60000; never beyond its `exp`; 0 = verify every call). */
  cacheTtlMs?: number;
  /** Most tokens remembered (default 10000). */
  cacheSize?: number;
}

/** Validated auth options, with the verifiers built. */
export interface ResolvedAuthOptions {
  verifiers: Verifier[];
  rules: AuthRule[];
  defaultAccess: Access;
  realm: string;
  cookie: string;
  queryParam: string;
  requireForWebSocket: boolean;
  cacheTtlMs: number;
  cacheSize: number;
  /** "JWT" when JWTs are verified (auth.jwt): what the API documents say of the bearer token. */
  bearerFormat?: string;
}

const KNOWN = ["tokens", "jwt", "verifiers", "rules", "defaultAccess", "realm", "cookie", "queryParam", "requireForWebSocket", "cacheTtlMs", "cacheSize"];
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{0,64}$/;

/** Validates the `auth` block and builds its verifiers; throws an Error naming the bad option. */
export function resolveAuthOptions(opts: AuthOptions, logger?: Logger): ResolvedAuthOptions {
  for (const k of Object.keys(opts)) if (!KNOWN.includes(k)) throw new Error(`unknown auth option "${k}"; known: ${KNOWN.join(", ")}`);
  const verifiers: Verifier[] = [...(opts.verifiers ?? [])];
  if (verifiers.some((v) => typeof v?.verify !== "function")) throw new Error("auth.verifiers must be objects with a verify(token) method");
  if (opts.tokens !== undefined) verifiers.push(staticVerifier(opts.tokens));
  if (opts.jwt !== undefined) verifiers.push(jwtVerifier(opts.jwt, logger));
  if (verifiers.length === 0) throw new Error("auth needs a way to verify tokens: tokens, jwt or verifiers");
  const out: ResolvedAuthOptions = {
    verifiers,
    rules: checkRules(opts.rules ?? []),
    defaultAccess: checkAccess(opts.defaultAccess ?? "authenticated", "auth.defaultAccess"),
    realm: opts.realm ?? "oneport",
    cookie: opts.cookie ?? "oneport_token",
    queryParam: opts.queryParam ?? "",
    requireForWebSocket: opts.requireForWebSocket ?? false,
    cacheTtlMs: opts.cacheTtlMs ?? 60_000,
    cacheSize: opts.cacheSize ?? 10_000,
    ...(opts.jwt !== undefined ? { bearerFormat: "JWT" } : {}),
  };
  if (typeof out.realm !== "string" || !/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(out.realm)) throw new Error("auth.realm must be 1 to 64 printable characters without quotes or backslashes");
  if (typeof out.cookie !== "string" || !COOKIE_NAME.test(out.cookie)) throw new Error(`auth.cookie must be a cookie name or "", got ${JSON.stringify(out.cookie)}`);
  if (typeof out.queryParam !== "string" || !/^[A-Za-z0-9_.-]{0,64}$/.test(out.queryParam)) throw new Error(`auth.queryParam must be a parameter name such as "access_token" or "", got ${JSON.stringify(out.queryParam)}`);
  if (typeof out.requireForWebSocket !== "boolean") throw new Error("auth.requireForWebSocket must be true or false");
  for (const k of ["cacheTtlMs", "cacheSize"] as const) {
    if (!Number.isInteger(out[k]) || out[k] < 0) throw new Error(`auth.${k} must be a non-negative integer, got ${String(out[k])}`);
  }
  return out;
}
