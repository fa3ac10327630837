// The auth layer lives in src/auth; these re-exports keep the older import path working.
export { authorKey, principalKey, type Principal, type Verifier } from "../auth/principal.js";
export { DEV_CHAT_TOKENS, parseTokens, staticVerifier, type StaticToken } from "../auth/static.js";
export { authInterceptor, type ServiceTokenOptions } from "../auth/interceptor.js";
/** @deprecated the options of authInterceptor(); see ServiceTokenOptions. */
export type { ServiceTokenOptions as AuthOptions } from "../auth/interceptor.js";
