// Shared by the auth tests: real keys and JWTs made with jose, a real HTTP server serving the JWKS,
// and a oneport server whose auth layer verifies both JWTs (by JWKS URL) and static tokens.
import { createServer as httpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import type { AuthOptions } from "../../src/auth/options.js";
import type { ServerOptions } from "../../src/config.js";
import { startServer, type TestServer } from "../support/server.js";

/** The issuer and audience every test token names unless a case says otherwise. */
export const ISSUER = "https://issuer.oneport.test";
export const AUDIENCE = "oneport-test";
/** The scope the example service needs in the auth tests. */
export const SCOPE = "hello";
/** A static token that carries the scope (subject "svc"). */
export const STATIC_TOKEN = "static-svc-token";

/** A signing key with its public JWK (kid set). */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey | import("node:crypto").KeyObject;
  jwk: JWK;
}

/** Makes an ES256 key pair named `kid`. */
export async function makeKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, privateKey, jwk };
}

/** Signs a JWT with `key`; `claims` override the defaults (sub alice, iss, aud, exp in 10 minutes). */
export async function mint(key: SigningKey, claims: JWTPayload = {}, opts: { kid?: string; expSec?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const body: JWTPayload = { sub: "alice", iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + (opts.expSec ?? 600), ...claims };
  return new SignJWT(body).setProtectedHeader({ alg: "ES256", kid: opts.kid ?? key.kid, typ: "JWT" }).sign(key.privateKey);
}

/** A real HTTP server serving a JWKS that tests may change (key rotation); counts its fetches. */
export interface JwksServer {
  url: string;
  keys: JWK[];
  fetches: number;
}

/** Starts the JWKS server on 127.0.0.1:0; closed after the test file. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { url: "", keys, fetches: 0 };
  const server: Server = httpServer((req, res) => {
    if (req.url !== "/.well-known/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    const body = JSON.stringify({ keys: state.keys });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return state;
}

/** Credentials of the cross-protocol table, and what every protocol must answer (gRPC code). */
export interface Credentials {
  key: SigningKey;
  other: SigningKey;
  jwks: JwksServer;
  /** case name -> [token or undefined, expected code: 0 ok, 16 unauthenticated, 7 permission denied] */
  cases: Array<{ name: string; token: string | undefined; code: 0 | 7 | 16 }>;
}

/** Keys, the JWKS server and one token per case of the table. */
export async function makeCredentials(): Promise<Credentials> {
  const key = await makeKey("key-1");
  const other = await makeKey("key-other");
  const jwks = await startJwksServer([key.jwk]);
  const scoped = { scope: `openid ${SCOPE}` };
  return {
    key,
    other,
    jwks,
    cases: [
      { name: "no token", token: undefined, code: 16 },
      { name: "a garbage token", token: "not-a-token", code: 16 },
      { name: "an expired JWT", token: await mint(key, { ...scoped, exp: Math.floor(Date.now() / 1000) - 3600 }), code: 16 },
      // Signed by another key but naming the trusted key's kid: the signature cannot verify.
      { name: "a JWT with a wrong signature", token: await mint(other, scoped, { kid: key.kid }), code: 16 },
      { name: "a JWT for another audience", token: await mint(key, { ...scoped, aud: "someone-else" }), code: 16 },
      { name: "a valid JWT without the scope", token: await mint(key, { scope: "openid" }), code: 7 },
      { name: "a valid JWT with the scope", token: await mint(key, { scp: [SCOPE] }), code: 0 },
      { name: "a valid static token", token: STATIC_TOKEN, code: 0 },
    ],
  };
}

/** The auth block of the test servers: JWKS URL + a static token; the example service needs SCOPE. */
export function authOptions(jwksUrl: string, extra: Partial<AuthOptions> = {}): AuthOptions {
  return {
    jwt: { jwksUrl, issuer: ISSUER, audience: AUDIENCE },
    tokens: [{ token: STATIC_TOKEN, subject: "svc", scopes: [SCOPE] }],
    rules: [{ match: "example.ExampleService/*", access: { scopes: [SCOPE] } }],
    ...extra,
  };
}

/** Starts a oneport server with the auth layer (see authOptions). */
export function startAuthServer(jwksUrl: string, extra: Partial<AuthOptions> = {}, server: Partial<ServerOptions> = {}): Promise<TestServer> {
  return startServer({ ...server, auth: authOptions(jwksUrl, extra) });
}
