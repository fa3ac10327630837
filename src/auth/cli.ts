import { readFileSync } from "node:fs";
import type { AuthOptions } from "./options.js";
import { resolveAuthOptions } from "./options.js";
import { checkRules, type AuthRule } from "./rules.js";

/** The auth lines of the CLI's --help. */
export const authUsage = `  --jwt-secret S      accept JWTs signed with this HS256 secret (32+ bytes) [JWT_SECRET]
  --jwt-public-key FILE  accept JWTs signed by this PEM public key        [JWT_PUBLIC_KEY]
  --jwt-jwks-url URL  accept JWTs signed by a key of this JWKS           [JWT_JWKS_URL]
  --jwt-issuer ISS    JWTs must name this issuer (iss)                   [JWT_ISSUER]
  --jwt-audience AUD  JWTs must name this audience (aud; a,b for several) [JWT_AUDIENCE]
  --auth-rules R      per-method rules: a JSON array or a JSON file, e.g. [AUTH_RULES]
                      '[{"match":"example.ExampleService/*","access":{"scopes":["hello"]}}]'
                      (chat.v1.ChatService/* is always "authenticated")
  --auth-default A    access of methods no rule matches: public or authenticated
                                                                      [AUTH_DEFAULT, default public]
  --auth-query-param NAME  also read a token from ?NAME= on WebSocket upgrades and REST GETs
                      (off by default: URLs end up in logs)             [AUTH_QUERY_PARAM]
  --ws-require-auth   refuse WebSocket upgrades without a token         [WS_REQUIRE_AUTH=true]
`;

/** The auth flags for node:util parseArgs. */
export const authFlags = {
  "jwt-secret": { type: "string" },
  "jwt-public-key": { type: "string" },
  "jwt-jwks-url": { type: "string" },
  "jwt-issuer": { type: "string" },
  "jwt-audience": { type: "string" },
  "auth-rules": { type: "string" },
  "auth-default": { type: "string" },
  "auth-query-param": { type: "string" },
  "ws-require-auth": { type: "boolean" },
} as const;

// The chat service's methods: always "authenticated", and all the chat tokens may call.
const CHAT = "chat.v1.ChatService/*";

/**
 * The server's auth block from flags and environment (`pick(flag, ENV)`): the chat tokens as static
 * tokens, a JWT verifier when a key source is given, the user's rules, then chat as "authenticated".
 * Validated here, so a mistake stops the CLI at start with a message that names the flag.
 */
export function authFromCli(pick: (flag: string, env: string) => string | undefined, wsRequireFlag: boolean | undefined, env: NodeJS.ProcessEnv, chatTokens: ReadonlyMap<string, string>): AuthOptions {
  const secret = pick("jwt-secret", "JWT_SECRET");
  const publicKeyFile = pick("jwt-public-key", "JWT_PUBLIC_KEY");
  const jwksUrl = pick("jwt-jwks-url", "JWT_JWKS_URL");
  const given = [secret && "--jwt-secret", publicKeyFile && "--jwt-public-key", jwksUrl && "--jwt-jwks-url"].filter(Boolean);
  if (given.length > 1) throw new Error(`give one JWT key source, not ${given.join(" and ")}`);
  const issuer = pick("jwt-issuer", "JWT_ISSUER");
  const audience = pick("jwt-audience", "JWT_AUDIENCE")?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (given.length === 0 && (issuer || audience)) throw new Error("--jwt-issuer and --jwt-audience need a key source: --jwt-secret, --jwt-public-key or --jwt-jwks-url");
  let publicKey: string | undefined;
  if (publicKeyFile) {
    try {
      publicKey = readFileSync(publicKeyFile, "utf8");
    } catch (e) {
      throw new Error(`--jwt-public-key (JWT_PUBLIC_KEY): cannot read "${publicKeyFile}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const jwt = given.length === 0 ? undefined : { secret, publicKey, jwksUrl, issuer, audience: audience && audience.length > 0 ? audience : undefined };
  const rules = parseRules(pick("auth-rules", "AUTH_RULES"));
  const def = pick("auth-default", "AUTH_DEFAULT") ?? "public";
  if (def !== "public" && def !== "authenticated") throw new Error(`--auth-default (AUTH_DEFAULT) must be public or authenticated, got "${def}"`);
  const wsEnv = env.WS_REQUIRE_AUTH;
  if (wsEnv !== undefined && wsEnv !== "" && !["true", "false", "1", "0"].includes(wsEnv)) throw new Error(`WS_REQUIRE_AUTH must be true or false, got "${wsEnv}"`);
  const opts: AuthOptions = {
    // Chat tokens are for chat: they must not open the other methods an operator made "authenticated".
    tokens: [...chatTokens].map(([token, subject]) => ({ token, subject, only: [CHAT] })),
    jwt: jwt && Object.fromEntries(Object.entries(jwt).filter(([, v]) => v !== undefined)),
    rules: [...rules, { match: CHAT, access: "authenticated" }],
    defaultAccess: def,
    queryParam: pick("auth-query-param", "AUTH_QUERY_PARAM") ?? "",
    requireForWebSocket: wsRequireFlag ?? (wsEnv === "true" || wsEnv === "1"),
  };
  if (opts.jwt === undefined) delete opts.jwt;
  try {
    resolveAuthOptions(opts);
  } catch (e) {
    throw new Error(`auth: ${(e as Error).message.replace(/^jwt\./, "--jwt-").replace(/^jwt needs/, "JWT needs")}`);
  }
  return opts;
}

function parseRules(raw: string | undefined): AuthRule[] {
  if (raw === undefined) return [];
  let text = raw.trim();
  if (!text.startsWith("[")) {
    try {
      text = readFileSync(text, "utf8");
    } catch (e) {
      throw new Error(`--auth-rules (AUTH_RULES): neither a JSON array nor a readable file "${raw}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`--auth-rules (AUTH_RULES): not valid JSON: ${(e as Error).message}`);
  }
  try {
    return checkRules(json);
  } catch (e) {
    throw new Error(`--auth-rules (AUTH_RULES): ${(e as Error).message}`);
  }
}
