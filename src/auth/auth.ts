import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues, type Interceptor } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { protocolKey } from "../core/pipeline.js";
import { TokenCache } from "./cache.js";
import { cookieValue, MAX_TOKEN_CHARS, parseAuthorization, queryToken, subprotocolToken, withoutParam } from "./credentials.js";
import type { ResolvedAuthOptions } from "./options.js";
import { authorKey, challenge, invalidToken, isAuthError, principalKey, unauthenticated, type AuthError, type Principal } from "./principal.js";
import { matches, missingScopes, RuleSet, type Access } from "./rules.js";

// Set by an edge (REST) that already authenticated and authorized this very call: the interceptor
// then does not verify again. Only server code can write context values; clients cannot.
const checkedKey = createContextKey(false, { description: "oneport auth already checked" });

/** What an upgrade may do: proceed (with the Authorization value its calls start from), or be refused. */
export type UpgradeGate = { authorization?: string } | { status: number; headers: Record<string, string>; body: string };

/**
 * The auth layer: verifies bearer tokens with the configured verifiers (caching the answers),
 * applies the per-method rules, and puts the Principal into the call's context. One instance per
 * server; its interceptor runs on every protocol, and the WebSocket upgrade and REST edges ask it
 * before they start anything.
 */
export class Auth {
  private readonly rules: RuleSet;
  private readonly cache: TokenCache;
  private readonly byMethod = new WeakMap<DescMethod, Access>();

  constructor(
    readonly options: ResolvedAuthOptions,
    private readonly logger: Logger,
  ) {
    this.rules = new RuleSet(options.rules, options.defaultAccess);
    this.cache = new TokenCache(options.cacheTtlMs, options.cacheSize);
  }

  /** Warns about rules that match no served method (a typo there silently falls back to the default). */
  warnUnused(methods: readonly string[]): void {
    for (const m of this.rules.unused(methods)) this.logger.warn({ match: m }, "auth rule matches no served method");
  }

  /** The access `method` ("pkg.Service/Method") needs. */
  access(method: string): Access {
    return this.rules.access(method);
  }

  /** Verifies a token with each verifier in turn; the first that accepts it wins. */
  async verify(token: string): Promise<Principal> {
    const hit = this.cache.get(token);
    if (hit !== undefined) return hit;
    let refusal: AuthError | undefined;
    for (const v of this.options.verifiers) {
      try {
        const p = await v.verify(token);
        this.cache.set(token, p);
        return p;
      } catch (e) {
        // A verifier's own ConnectError(UNAUTHENTICATED) is a deliberate refusal, like invalidToken().
        const err = isAuthError(e) ? e : e instanceof ConnectError && e.code === Code.Unauthenticated ? invalidToken(e.rawMessage) : undefined;
        if (err === undefined) {
          // A verifier of the user's that failed in its own way: logged, the client learns nothing of it.
          this.logger.error({ err: e }, "token verifier failed");
          throw new ConnectError("tokens cannot be verified right now; try again later", Code.Unavailable);
        }
        // The refusal of a verifier that understood the token says more than "unknown token".
        if (refusal === undefined || (err.recognized && !refusal.recognized)) refusal = err;
      }
    }
    throw this.asClientError(refusal!);
  }

  /**
   * Authenticates and authorizes one call to `method` from its Authorization value. Returns the
   * Principal, or undefined for a public method (which never looks at credentials).
   */
  async authorize(method: string, access: Access, authorization: string | null | undefined, protocol = ""): Promise<Principal | undefined> {
    if (access === "public") return undefined;
    const realm = this.options.realm;
    const a = parseAuthorization(authorization);
    if (a === undefined) {
      const frame = protocol === "ws" ? ' (on the WebSocket: in the frame\'s "headers", or at the upgrade)' : "";
      throw unauthenticated(`${method} needs a token: send the header "authorization: Bearer <token>"${frame}`, challenge(realm));
    }
    if ("error" in a) {
      const why = a.error === "too-long" ? `the bearer token is longer than ${MAX_TOKEN_CHARS} characters` : 'the authorization header must be "Bearer <token>"';
      throw unauthenticated(why, a.error === "scheme" ? challenge(realm) : challenge(realm, "invalid_request"));
    }
    const p = await this.verify(a.token);
    if (p.only !== undefined && !p.only.some((pattern) => matches(pattern, method))) {
      throw new ConnectError(`this token may only call ${p.only.join(", ")}, not ${method}`, Code.PermissionDenied, { "www-authenticate": challenge(realm, "insufficient_scope") });
    }
    if (typeof access === "object") {
      const missing = missingScopes(access, p.scopes);
      if (missing.length > 0) {
        const need = access.any ? `one of the scopes ${access.scopes.join(", ")}` : `the scope${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`;
        throw new ConnectError(`${method} needs ${need}; the token has ${p.scopes.length > 0 ? p.scopes.join(", ") : "none"}`, Code.PermissionDenied, {
          "www-authenticate": challenge(realm, "insufficient_scope", undefined, access.scopes),
        });
      }
    }
    return p;
  }

  /** The interceptor every protocol's calls pass through (after the error guard, before the user's). */
  interceptor(): Interceptor {
    return (next) => (req) => {
      let access = this.byMethod.get(req.method);
      if (access === undefined) this.byMethod.set(req.method, (access = this.rules.access(`${req.service.typeName}/${req.method.name}`)));
      // Public methods cost nothing: their headers (lazy) are not even read.
      if (access === "public" || req.contextValues.get(checkedKey)) return next(req);
      const method = `${req.service.typeName}/${req.method.name}`;
      return this.authorize(method, access, req.header.get("authorization"), req.contextValues.get(protocolKey)).then((p) => {
        if (p !== undefined) setPrincipal(req.contextValues, p);
        return next(req);
      });
    };
  }

  /**
   * REST: checks the call before its body is read or its stream opened (an SSE client then gets a
   * 401 google.rpc.Status, not a stream that fails). Browsers' EventSource cannot send headers, so
   * GET requests may bring the token in the cookie or the query parameter (when enabled). Returns the
   * call's context values and the query without the token parameter.
   */
  async rest(
    method: string,
    req: { method?: string; url?: string; headers: IncomingMessage["headers"] },
    query: string,
    // The Authorization the call will carry as metadata, when the transcoder gives it one (it may come from Grpc-Metadata-Authorization).
    header: string | undefined = req.headers.authorization,
  ): Promise<{ values?: ContextValues; query: string }> {
    const q = this.options.queryParam;
    const rest = q === "" ? query : withoutParam(query, q);
    // The call's URL (and whatever logs it) keeps no token.
    if (rest !== query && req.url !== undefined) req.url = req.url.slice(0, req.url.indexOf("?")) + (rest === "" ? "" : `?${rest}`);
    const access = this.rules.access(method);
    if (access === "public") return { query: rest };
    let authorization = header;
    if (authorization === undefined && (req.method === "GET" || req.method === "HEAD")) {
      const token = cookieValue(req.headers.cookie, this.options.cookie) ?? (q === "" ? undefined : queryToken(`?${query}`, q));
      if (token !== undefined) authorization = `Bearer ${token}`;
    }
    const p = await this.authorize(method, access, authorization, "rest");
    const values = createContextValues();
    values.set(checkedKey, true);
    if (p !== undefined) setPrincipal(values, p);
    return { values, query: rest };
  }

  /**
   * A WebSocket upgrade (HTTP/1.1 or RFC 8441): a token in the Authorization header, the
   * `oneport.bearer.<token>` subprotocol, the cookie or (when enabled) the query is verified now;
   * an invalid one is refused with 401. No token: allowed unless requireForWebSocket, and each call
   * is then checked by the rules. The token found becomes the calls' Authorization value.
   */
  async upgrade(req: IncomingMessage): Promise<UpgradeGate> {
    const h = req.headers;
    const q = this.options.queryParam;
    const qAt = req.url?.indexOf("?") ?? -1;
    const fromQuery = q === "" ? undefined : queryToken(req.url, q);
    // The token leaves the URL here: the calls' URL (and whatever logs it) never holds it.
    if (fromQuery !== undefined && req.url !== undefined) {
      const rest = withoutParam(req.url.slice(qAt + 1), q);
      req.url = req.url.slice(0, qAt) + (rest === "" ? "" : `?${rest}`);
    }
    let authorization = h.authorization;
    let fromElsewhere = false;
    if (authorization === undefined) {
      const token = subprotocolToken(h["sec-websocket-protocol"]) ?? cookieValue(h.cookie, this.options.cookie) ?? fromQuery;
      if (token !== undefined) {
        authorization = `Bearer ${token}`;
        fromElsewhere = true;
      }
    }
    try {
      if (authorization === undefined) {
        if (!this.options.requireForWebSocket) return {};
        throw unauthenticated('this WebSocket needs a token: send "authorization: Bearer <token>", or offer the subprotocol "oneport.bearer.<token>"', challenge(this.options.realm));
      }
      const a = parseAuthorization(authorization);
      if (a === undefined || "error" in a) throw unauthenticated('the authorization header must be "Bearer <token>"', challenge(this.options.realm, "invalid_request"));
      await this.verify(a.token);
      return fromElsewhere ? { authorization } : {};
    } catch (e) {
      const err = ConnectError.from(e);
      this.logger.debug({ code: Code[err.code], path: req.url }, "websocket upgrade refused by auth");
      return refusal(err);
    }
  }

  // Verifier refusals carry their RFC 6750 challenge; UNAVAILABLE ones (key set down) carry none.
  private asClientError(e: AuthError): ConnectError {
    if (e.code !== Code.Unauthenticated) return new ConnectError(e.rawMessage, e.code);
    return unauthenticated(e.rawMessage, challenge(this.options.realm, e.challenge, e.rawMessage));
  }
}

function setPrincipal(values: ContextValues, p: Principal): void {
  values.set(principalKey, p);
  values.set(authorKey, p.subject);
}

/** A refused upgrade: the HTTP status of the code, its headers, and a google.rpc.Status JSON body. */
function refusal(err: ConnectError): UpgradeGate {
  const status = err.code === Code.Unauthenticated ? 401 : err.code === Code.Unavailable ? 503 : 500;
  const headers: Record<string, string> = {};
  const www = err.metadata.get("www-authenticate");
  if (www) headers["www-authenticate"] = www;
  const message = err.code === Code.Unauthenticated || err.code === Code.Unavailable ? err.rawMessage : "internal error";
  return { status, headers, body: JSON.stringify({ code: err.code, message, details: [] }) };
}
