// The auth layer's public surface (re-exported by src/index.ts).
export { Auth, type UpgradeGate } from "./auth.js";
export { authInterceptor, type ServiceTokenOptions } from "./interceptor.js";
export { jwtVerifier, scopesOf, type JwtOptions } from "./jwt.js";
export { resolveAuthOptions, type AuthOptions, type ResolvedAuthOptions } from "./options.js";
export { authorKey, invalidToken, notMine, principalKey, type Principal, type Verifier } from "./principal.js";
export { type Access, type AuthRule } from "./rules.js";
export { DEV_CHAT_TOKENS, parseTokens, staticVerifier, type StaticToken } from "./static.js";
export { BEARER_SUBPROTOCOL } from "./credentials.js";
