import { Code, ConnectError, createContextKey } from "@connectrpc/connect";

/** Who made a call, as a Verifier established it from a token. */
export interface Principal {
  /** The caller's stable id: a static token's name, a JWT's `sub`. */
  readonly subject: string;
  /** What the token allows (a JWT's `scope` / `scp`, a static token's listed scopes). */
  readonly scopes: readonly string[];
  /** The verified claims (a JWT's payload); empty for static tokens. */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * The methods the token may call at all, as rule patterns ("chat.v1.ChatService/*"); undefined:
   * any the rules let it. A static token's `only` (the CLI's chat tokens are for chat alone).
   */
  readonly only?: readonly string[];
}

/** Turns a bearer token into a Principal, or throws (see invalidToken / notMine). */
export interface Verifier {
  verify(token: string): Promise<Principal>;
}

/** The caller of the current call; undefined when it presented no (valid) token to a public method. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "oneport authenticated principal" });

/** The name the caller's token belongs to (Principal.subject); "" when the call was not authenticated. */
export const authorKey = createContextKey<string>("", { description: "oneport authenticated author" });

/**
 * An authentication failure. `recognized` says whether the verifier knew the token's kind (a JWT
 * it could parse): when several verifiers are tried, the client hears about the one that did.
 */
export class AuthError extends ConnectError {
  constructor(
    message: string,
    code: Code,
    readonly recognized: boolean,
    readonly challenge: string,
  ) {
    super(message, code);
  }
}

/** Whether an error came from the auth layer (ConnectError's instanceof matches any ConnectError). */
export function isAuthError(e: unknown): e is AuthError {
  return e instanceof ConnectError && typeof (e as Partial<AuthError>).recognized === "boolean";
}

/** A token this verifier does not know at all (another verifier may). */
export function notMine(message: string): AuthError {
  return new AuthError(message, Code.Unauthenticated, false, "invalid_token");
}

/** A token this verifier understood and refuses (expired, bad signature, wrong audience...). */
export function invalidToken(message: string): AuthError {
  return new AuthError(message, Code.Unauthenticated, true, "invalid_token");
}

/** The verifier cannot decide right now (its key set is unreachable): UNAVAILABLE, worth a retry. */
export function cannotVerify(message: string): AuthError {
  return new AuthError(message, Code.Unavailable, true, "");
}

// RFC 6750 §3: error_description is a quoted-string limited to %x20-21 / %x23-5B / %x5D-7E.
const quotable = (s: string) => s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "").slice(0, 200);

/**
 * The WWW-Authenticate challenge of RFC 6750 §3: no error code when the request had no token,
 * `invalid_token` when it was refused, `insufficient_scope` with the needed scopes.
 */
export function challenge(realm: string, error?: string, description?: string, scope?: readonly string[]): string {
  let v = `Bearer realm="${quotable(realm)}"`;
  if (error) v += `, error="${error}"`;
  if (error && description) v += `, error_description="${quotable(description)}"`;
  if (scope && scope.length > 0) v += `, scope="${quotable(scope.join(" "))}"`;
  return v;
}

/** UNAUTHENTICATED with its WWW-Authenticate header (no cause: nothing internal reaches the client). */
export function unauthenticated(message: string, wwwAuthenticate: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": wwwAuthenticate });
}
