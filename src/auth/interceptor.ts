import type { Interceptor } from "@connectrpc/connect";
import { silentLogger } from "../log.js";
import { Auth } from "./auth.js";
import { resolveAuthOptions } from "./options.js";

/** Options of authInterceptor(): static tokens guarding whole services (the pre-`auth` form). */
export interface ServiceTokenOptions {
  /** Token to name, as parseTokens() returns it. */
  tokens: ReadonlyMap<string, string>;
  /** Fully qualified names of the services that need a token (e.g. "chat.v1.ChatService"); others stay open. */
  services: readonly string[];
}

/**
 * Checks `authorization: Bearer <token>` on the listed services' methods and puts the token's
 * name into the context (authorKey). The same as ServerOptions.auth with these tokens, one
 * "authenticated" rule per service and "public" for the rest; prefer the `auth` option.
 */
export function authInterceptor(options: ServiceTokenOptions): Interceptor {
  const resolved = resolveAuthOptions({
    tokens: options.tokens,
    rules: options.services.map((s) => ({ match: `${s}/*`, access: "authenticated" as const })),
    defaultAccess: "public",
  });
  return new Auth(resolved, silentLogger).interceptor();
}
