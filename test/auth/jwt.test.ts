import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CompactSign, exportJWK, SignJWT, UnsecuredJWT } from "jose";
import { jwtVerifier, scopesOf } from "../../src/auth/jwt.js";
import { isAuthError } from "../../src/auth/principal.js";
import { AUDIENCE, ISSUER, makeKey, mint, startJwksServer } from "./support.js";

const SECRET = "a-shared-secret-of-at-least-32-bytes!";
const now = () => Math.floor(Date.now() / 1000);

/** The refusal of `p`: its gRPC code and client message (fails if it resolves). */
async function refusal(p: Promise<unknown>): Promise<{ code: Code; message: string; recognized: boolean }> {
  const e = await p.then(
    () => assert.fail("expected the token to be refused"),
    (err: unknown) => err,
  );
  assert.ok(isAuthError(e), `an AuthError, got ${String(e)}`);
  return { code: e.code, message: e.rawMessage, recognized: e.recognized };
}

const hs = (claims: Record<string, unknown>, alg = "HS256", secret = SECRET) =>
  new SignJWT({ sub: "alice", exp: now() + 60, ...claims }).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));

describe("jwtVerifier() with an HS256 secret", () => {
  const v = jwtVerifier({ secret: SECRET, issuer: ISSUER, audience: AUDIENCE });

  it("returns the subject, scopes and claims of a valid token", async () => {
    const p = await v.verify(await hs({ iss: ISSUER, aud: AUDIENCE, scope: "read write", extra: 1 }));
    assert.equal(p.subject, "alice");
    assert.deepEqual(p.scopes, ["read", "write"]);
    assert.equal(p.claims.extra, 1);
  });

  for (const [what, claims, message] of [
    ["an expired token", { iss: ISSUER, aud: AUDIENCE, exp: now() - 3600 }, /expired: get a new one/],
    ["a token from another issuer", { iss: "https://evil.example", aud: AUDIENCE }, /another issuer: this server accepts iss https:\/\/issuer\.oneport\.test/],
    ["a token for another audience", { iss: ISSUER, aud: "other" }, /another audience: this server accepts aud oneport-test/],
    ["a token that is not valid yet", { iss: ISSUER, aud: AUDIENCE, nbf: now() + 3600 }, /not valid yet/],
    ["a token without exp", { iss: ISSUER, aud: AUDIENCE, exp: undefined }, /no expiry/],
    ["a token without sub", { iss: ISSUER, aud: AUDIENCE, sub: undefined }, /no "sub" claim/],
  ] as const) {
    it(`refuses ${what} with UNAUTHENTICATED and a fixed message`, async () => {
      const r = await refusal(v.verify(await hs(claims)));
      assert.equal(r.code, Code.Unauthenticated);
      assert.match(r.message, message);
      assert.equal(r.recognized, true);
    });
  }

  it("accepts a token expired less than the clock tolerance ago", async () => {
    const p = await jwtVerifier({ secret: SECRET, clockToleranceSec: 60 }).verify(await hs({ exp: now() - 10 }));
    assert.equal(p.subject, "alice");
  });

  it("refuses a token signed with another secret", async () => {
    const r = await refusal(v.verify(await hs({ iss: ISSUER, aud: AUDIENCE }, "HS256", "another-secret-that-is-32-bytes-long!!")));
    assert.match(r.message, /signature does not verify/);
  });

  it("refuses an algorithm outside the allowlist", async () => {
    const r = await refusal(v.verify(await hs({ iss: ISSUER, aud: AUDIENCE }, "HS512")));
    assert.match(r.message, /algorithm is not accepted: this server accepts HS256/);
  });

  it('refuses an unsigned token (alg "none")', async () => {
    const token = new UnsecuredJWT({ sub: "alice", iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }).encode();
    const r = await refusal(v.verify(token));
    assert.equal(r.code, Code.Unauthenticated);
  });

  it("says a token that is no JWT is not its own, so another verifier may take it", async () => {
    const r = await refusal(v.verify("plain-static-token"));
    assert.equal(r.recognized, false);
  });

  it("refuses a malformed JWT without echoing jose's message", async () => {
    // Correctly signed, but the payload is not a JSON claims set.
    const token = await new CompactSign(new TextEncoder().encode("not json")).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    const r = await refusal(v.verify(token));
    assert.equal(r.message, "the token is not a valid JWT");
  });
});

describe("jwtVerifier() with a PEM public key", () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const v = jwtVerifier({ publicKey: pem });

  it("verifies RS256 tokens signed by the matching private key", async () => {
    const token = await new SignJWT({ sub: "bob", exp: now() + 60, scp: ["a", "b"] }).setProtectedHeader({ alg: "RS256" }).sign(privateKey);
    const p = await v.verify(token);
    assert.equal(p.subject, "bob");
    assert.deepEqual(p.scopes, ["a", "b"]);
  });

  it("refuses an HS256 token whose secret is the public key text (algorithm confusion)", async () => {
    const r = await refusal(v.verify(await hs({}, "HS256", pem)));
    assert.match(r.message, /algorithm is not accepted: this server accepts RS256/);
  });
});

describe("jwtVerifier() with a JWKS", () => {
  it("picks the key of a local JWKS by kid", async () => {
    const k = await makeKey("local-1");
    const p = await jwtVerifier({ jwks: { keys: [k.jwk] }, issuer: ISSUER, audience: AUDIENCE }).verify(await mint(k));
    assert.equal(p.subject, "alice");
  });

  it("fetches a rotated key from the JWKS URL when a token names a new kid", async () => {
    const k1 = await makeKey("rot-1");
    const k2 = await makeKey("rot-2");
    const jwks = await startJwksServer([k1.jwk]);
    const v = jwtVerifier({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 0 });
    assert.equal((await v.verify(await mint(k1))).subject, "alice");
    assert.equal(jwks.fetches, 1);
    await refusal(v.verify(await mint(k2))); // not published yet
    jwks.keys = [k1.jwk, k2.jwk];
    assert.equal((await v.verify(await mint(k2, { sub: "carol" }))).subject, "carol");
    assert.ok(jwks.fetches >= 2, "the new kid made the verifier fetch the set again");
    assert.equal((await v.verify(await mint(k1))).subject, "alice", "the old key still works");
  });

  it("answers UNAVAILABLE, not UNAUTHENTICATED, when the JWKS URL cannot be reached", async () => {
    const k = await makeKey("gone");
    const jwks = await startJwksServer([]);
    const dead = jwks.url.replace(/:\d+\//, ":1/"); // port 1: nothing listens
    const r = await refusal(jwtVerifier({ jwksUrl: dead, jwksTimeoutMs: 2000 }).verify(await mint(k)));
    assert.equal(r.code, Code.Unavailable);
    assert.match(r.message, /cannot be verified right now/);
    assert.doesNotMatch(r.message, /ECONNREFUSED|fetch|127\.0\.0\.1/);
  });

  it("refuses a token whose kid is in no key set", async () => {
    const k = await makeKey("known");
    const stranger = await makeKey("stranger");
    const r = await refusal(jwtVerifier({ jwks: { keys: [k.jwk] } }).verify(await mint(stranger)));
    assert.match(r.message, /no key of this server matches/);
  });
});

describe("jwtVerifier() options", () => {
  for (const [what, opts, message] of [
    ["no key source", {}, /exactly one of secret, publicKey, jwks, jwksUrl; got none/],
    ["two key sources", { secret: SECRET, jwksUrl: "https://x/jwks" }, /got secret, jwksUrl/],
    ["a short secret", { secret: "short" }, /at least 32 bytes/],
    ["a secret with RS256", { secret: SECRET, algorithms: ["RS256"] }, /only verifies HS256/],
    ["a JWKS with HS256", { jwks: { keys: [] }, algorithms: ["HS256"] }, /HS\* needs jwt.secret/],
    ["a bad PEM", { publicKey: "not a key" }, /not a PEM public key/],
    ["a bad JWKS URL", { jwksUrl: "not a url" }, /not a URL/],
    ["a JWKS URL that is not http(s)", { jwksUrl: "file:///etc/jwks.json" }, /https:\/\/ \(or http:\/\/\) URL/],
    ["a negative clock tolerance", { secret: SECRET, clockToleranceSec: -1 }, /clockToleranceSec/],
  ] as const) {
    it(`rejects ${what} with a clear message`, () => {
      assert.throws(() => jwtVerifier(opts as never), message);
    });
  }

  it("takes the scope key type from a PEM: EC keys verify ES256", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const v = jwtVerifier({ publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() });
    const token = await new SignJWT({ sub: "eve", exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(privateKey);
    assert.equal((await v.verify(token)).subject, "eve");
    assert.ok(await exportJWK(publicKey));
  });
});

describe("scopesOf()", () => {
  it("reads a space-separated scope and an scp array, without duplicates or empties", () => {
    assert.deepEqual(scopesOf({ scope: "a  b", scp: ["b", "c", 3, ""] }), ["a", "b", "c"]);
  });

  it("reads an scp string too", () => {
    assert.deepEqual(scopesOf({ scp: "x y" }), ["x", "y"]);
  });

  it("returns no scopes when neither claim is there", () => {
    assert.deepEqual(scopesOf({}), []);
  });
});

describe("ConnectError shape", () => {
  it("keeps AuthErrors as ConnectErrors without a cause", async () => {
    const e = await jwtVerifier({ secret: SECRET }).verify("a.b.c").catch((x: unknown) => x);
    assert.ok(e instanceof ConnectError);
    assert.equal((e as ConnectError).cause, undefined);
  });
});
