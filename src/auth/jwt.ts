import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Logger } from "pino";
import { cannotVerify, invalidToken, notMine, type Principal, type Verifier } from "./principal.js";

/** How JWTs are verified: exactly one key source, plus the claims every token must satisfy. */
export interface JwtOptions {
  /** Shared secret for HS256/384/512 (at least 32 bytes: RFC 7518 §3.2). */
  secret?: string | Uint8Array;
  /** A PEM public key (SPKI) or X.509 certificate, for RS*, PS*, ES* or EdDSA. */
  publicKey?: string;
  /** A JSON Web Key Set given inline ({"keys": [...]}); tokens pick a key by `kid`. */
  jwks?: JSONWebKeySet;
  /** URL of a JSON Web Key Set; fetched when needed, refetched when a token names an unknown `kid`. */
  jwksUrl?: string;
  /** Accepted `iss` values; tokens from any other issuer are refused. */
  issuer?: string | string[];
  /** Accepted `aud` values (this server's names); tokens meant for other services are refused. */
  audience?: string | string[];
  /** Allowed clock skew for `exp` and `nbf`, in seconds (default 30). */
  clockToleranceSec?: number;
  /** Accepted `alg` values. Default: HS256 for a secret; the key's own algorithm for a PEM; RS256, PS256, ES256, EdDSA for JWKS. */
  algorithms?: string[];
  /** Tokens without `exp` are refused unless this is false (default true). */
  requireExpiry?: boolean;
  /** The claim naming the caller (default "sub"). */
  subjectClaim?: string;
  /** JWKS URL fetch timeout in ms (default 5000). */
  jwksTimeoutMs?: number;
  /** Least time between two fetches triggered by unknown `kid`s, in ms (default 30000). */
  jwksCooldownMs?: number;
  /** Keys fetched are used for at most this long before a refetch, in ms (default 600000). */
  jwksMaxAgeMs?: number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Creates a verifier of JWTs with jose; throws an Error naming the option that is wrong. */
export function jwtVerifier(opts: JwtOptions, logger?: Logger): Verifier {
  const sources = (["secret", "publicKey", "jwks", "jwksUrl"] as const).filter((k) => opts[k] !== undefined);
  if (sources.length !== 1) throw new Error(`jwt needs exactly one of secret, publicKey, jwks, jwksUrl; got ${sources.length === 0 ? "none" : sources.join(", ")}`);
  const tolerance = opts.clockToleranceSec ?? 30;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new Error(`jwt.clockToleranceSec must be a non-negative number, got ${String(opts.clockToleranceSec)}`);
  const subjectClaim = opts.subjectClaim ?? "sub";
  let key: KeyObject | JWTVerifyGetKey;
  let algorithms = opts.algorithms;
  if (opts.secret !== undefined) {
    const bytes = typeof opts.secret === "string" ? Buffer.from(opts.secret, "utf8") : Buffer.from(opts.secret);
    if (bytes.length < 32) throw new Error(`jwt.secret must be at least 32 bytes (256 bits) for HS256, got ${bytes.length}`);
    key = createSecretKey(bytes);
    algorithms ??= ["HS256"];
    if (algorithms.some((a) => !a.startsWith("HS"))) throw new Error(`jwt.algorithms: a shared secret only verifies HS256, HS384 or HS512, got ${algorithms.join(", ")}`);
  } else if (opts.publicKey !== undefined) {
    let k: KeyObject;
    try {
      k = createPublicKey(opts.publicKey);
    } catch {
      throw new Error("jwt.publicKey is not a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate");
    }
    key = k;
    algorithms ??= defaultAlgorithms(k);
  } else if (opts.jwks !== undefined) {
    if (!Array.isArray(opts.jwks?.keys)) throw new Error('jwt.jwks must be a JSON Web Key Set: {"keys": [...]}');
    key = createLocalJWKSet(opts.jwks);
  } else {
    let url: URL;
    try {
      url = new URL(opts.jwksUrl!);
    } catch {
      throw new Error(`jwt.jwksUrl is not a URL: ${JSON.stringify(opts.jwksUrl)}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`jwt.jwksUrl must be an https:// (or http://) URL, got ${url.protocol}`);
    key = createRemoteJWKSet(url, { timeoutDuration: opts.jwksTimeoutMs ?? 5000, cooldownDuration: opts.jwksCooldownMs ?? 30_000, cacheMaxAge: opts.jwksMaxAgeMs ?? 600_000 });
  }
  // Symmetric algorithms never verify with a key set or a public key (the "alg confusion" attack).
  algorithms ??= ASYMMETRIC;
  if (opts.secret === undefined && algorithms.some((a) => a.startsWith("HS"))) throw new Error("jwt.algorithms: HS* needs jwt.secret, not a public key or key set");
  const verifyOptions = {
    issuer: opts.issuer,
    audience: opts.audience,
    clockTolerance: tolerance,
    algorithms,
    requiredClaims: opts.requireExpiry === false ? [] : ["exp"],
  };
  const expected = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(" or ") : String(v));

  return {
    async verify(token) {
      if (!JWT_SHAPE.test(token)) throw notMine("the token is not a JWT (header.payload.signature)");
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as never, verifyOptions));
      } catch (e) {
        // jose's own messages are not sent: the client gets a fixed sentence per failure.
        throw refusal(e, expected(opts.issuer), expected(opts.audience), algorithms, logger);
      }
      const subject = payload[subjectClaim];
      if (typeof subject !== "string" || subject === "") throw invalidToken(`the token has no "${subjectClaim}" claim naming the caller`);
      return { subject, scopes: scopesOf(payload), claims: payload } satisfies Principal;
    },
  };
}

/** A token's scopes: OAuth's space-separated `scope` string and/or an `scp` array (or string). */
export function scopesOf(payload: JWTPayload): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === "string") v.split(" ").forEach((s) => s && out.add(s));
    else if (Array.isArray(v)) v.forEach((s) => typeof s === "string" && s && out.add(s));
  };
  add(payload.scope);
  add(payload.scp);
  return [...out];
}

function defaultAlgorithms(k: KeyObject): string[] {
  switch (k.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512"];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const curve = k.asymmetricKeyDetails?.namedCurve;
      return [curve === "secp384r1" ? "ES384" : curve === "secp521r1" ? "ES512" : "ES256"];
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new Error(`jwt.publicKey: a ${k.asymmetricKeyType} key cannot verify JWTs; use RSA, EC or Ed25519`);
  }
}

function refusal(e: unknown, issuer: string, audience: string, algorithms: string[], logger?: Logger) {
  const code = (e as { code?: string }).code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return invalidToken("the token expired: get a new one");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (e as errors.JWTClaimValidationFailed).claim;
      if (claim === "aud") return invalidToken(`the token is meant for another audience: this server accepts aud ${audience}`);
      if (claim === "iss") return invalidToken(`the token comes from another issuer: this server accepts iss ${issuer}`);
      if (claim === "nbf") return invalidToken("the token is not valid yet (nbf): check the clocks");
      if (claim === "exp") return invalidToken("the token has no expiry (exp): this server needs tokens that expire");
      return invalidToken(`the token's "${String(claim).slice(0, 40)}" claim is not valid`);
    }
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return invalidToken("the token's signature does not verify: get a token from the issuer this server trusts");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return invalidToken(`the token's algorithm is not accepted: this server accepts ${algorithms.join(", ")}`);
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return invalidToken("no key of this server matches the token (kid): get a token from the issuer this server trusts");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      logger?.error({ code }, "cannot get the JWT key set");
      return cannotVerify("tokens cannot be verified right now (the key set is unavailable); try again later");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
      return invalidToken("the token is not a valid JWT");
    default:
      // A failed fetch of the key set (network) or something unforeseen: logged, never sent.
      logger?.error({ err: e }, "JWT verification failed unexpectedly");
      return cannotVerify("tokens cannot be verified right now; try again later");
  }
}
