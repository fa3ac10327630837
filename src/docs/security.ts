import type { Access } from "../auth/rules.js";

/** What the API documents need of the auth layer (ServerContext.auth), when auth is configured. */
export interface DocsAuth {
  /** The access a method ("pkg.Service/Method") needs, from the auth rules. */
  access(method: string): Access;
  /** "JWT" when tokens are JWTs. */
  bearerFormat?: string;
  /** WebSocket upgrades without a token are refused (auth.requireForWebSocket). */
  requireForWebSocket?: boolean;
  /** The cookie browsers may bring the token in ("" or absent: none). */
  cookie?: string;
}

/** The DocsAuth of a server's auth layer, or undefined when auth is not configured. */
export function docsAuth(auth: { access(method: string): Access; options: { bearerFormat?: string; requireForWebSocket: boolean; cookie: string } } | undefined): DocsAuth | undefined {
  if (auth === undefined) return undefined;
  const o = auth.options;
  return { access: (m) => auth.access(m), bearerFormat: o.bearerFormat, requireForWebSocket: o.requireForWebSocket, cookie: o.cookie };
}

/** The name of the bearer security scheme in both documents' components.securitySchemes. */
export const BEARER_SCHEME = "bearerAuth";

/** The HTTP bearer scheme (RFC 6750) as OpenAPI 3.1 and AsyncAPI 3.0 both write it. */
export function bearerScheme(auth: DocsAuth, description: string): Record<string, unknown> {
  return { type: "http", scheme: "bearer", ...(auth.bearerFormat ? { bearerFormat: auth.bearerFormat } : {}), description };
}

/**
 * An OpenAPI operation's `security`: [] for a public method (no token needed, whatever the
 * defaults), the bearer scheme otherwise, with the scopes it needs as OpenAPI 3.1 allows for
 * non-OAuth schemes: all of them in one requirement, or one requirement per scope when any will do.
 */
export function openApiSecurity(access: Access): Array<Record<string, string[]>> {
  if (access === "public") return [];
  if (access === "authenticated") return [{ [BEARER_SCHEME]: [] }];
  return access.any ? access.scopes.map((s) => ({ [BEARER_SCHEME]: [s] })) : [{ [BEARER_SCHEME]: [...access.scopes] }];
}

/** One sentence on what a method needs, for descriptions (AsyncAPI cannot list scopes of an http scheme). */
export function accessSentence(access: Access): string {
  if (access === "public") return "Public: no token needed.";
  if (access === "authenticated") return "Needs a valid bearer token.";
  const list = access.scopes.map((s) => `"${s}"`).join(access.any ? " or " : " and ");
  return `Needs a bearer token with the scope${access.scopes.length > 1 ? "s" : ""} ${list}.`;
}
