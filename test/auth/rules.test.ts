import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenCache } from "../../src/auth/cache.js";
import { cookieValue, parseAuthorization, queryToken, subprotocolToken, withoutParam } from "../../src/auth/credentials.js";
import { resolveAuthOptions } from "../../src/auth/options.js";
import { challenge } from "../../src/auth/principal.js";
import { checkRules, matches, missingScopes, RuleSet } from "../../src/auth/rules.js";
import { staticVerifier } from "../../src/auth/static.js";

describe("auth rules", () => {
  it("matches a method, a whole service, or everything", () => {
    assert.ok(matches("pkg.S/M", "pkg.S/M"));
    assert.ok(!matches("pkg.S/M", "pkg.S/N"));
    assert.ok(matches("pkg.S/*", "pkg.S/N"));
    assert.ok(!matches("pkg.S/*", "pkg.SX/N"), "a service prefix is not a match");
    assert.ok(matches("*", "any.Thing/At"));
  });

  it("lets the first matching rule decide, then health and reflection are public, then the default", () => {
    const r = new RuleSet(
      [
        { match: "a.S/Open", access: "public" },
        { match: "a.S/*", access: { scopes: ["x"] } },
        { match: "a.S/Open", access: "authenticated" },
      ],
      "authenticated",
    );
    assert.equal(r.access("a.S/Open"), "public");
    assert.deepEqual(r.access("a.S/Other"), { scopes: ["x"] });
    assert.equal(r.access("grpc.health.v1.Health/Check"), "public");
    assert.equal(r.access("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), "public");
    assert.equal(r.access("b.T/M"), "authenticated");
  });

  it("lets a rule close health when the operator wants it", () => {
    const r = new RuleSet([{ match: "grpc.health.v1.Health/*", access: "authenticated" }], "public");
    assert.equal(r.access("grpc.health.v1.Health/Check"), "authenticated");
  });

  it("names rules that match no served method", () => {
    const r = new RuleSet([{ match: "a.S/*", access: "public" }, { match: "typo.S/M", access: "public" }, { match: "*", access: "public" }], "public");
    assert.deepEqual(r.unused(["a.S/M"]), ["typo.S/M"]);
  });

  it("needs every scope by default and one of them with any", () => {
    assert.deepEqual(missingScopes({ scopes: ["a", "b"] }, ["a"]), ["b"]);
    assert.deepEqual(missingScopes({ scopes: ["a", "b"] }, ["b", "a"]), []);
    assert.deepEqual(missingScopes({ scopes: ["a", "b"], any: true }, ["b"]), []);
    assert.deepEqual(missingScopes({ scopes: ["a", "b"], any: true }, ["c"]), ["a", "b"]);
  });

  for (const [rules, message] of [
    [{}, /must be an array/],
    [[{ match: "pkg.S" , access: "public" }], /rules\[0\]: match "pkg.S" must be/],
    [[{ match: "pkg.S/M*", access: "public" }], /must be "pkg.Service\/Method"/],
    [[{ match: "*", access: "open" }], /"open" is not an access/],
    [[{ match: "*", access: { scopes: [] } }], /non-empty array/],
    [[{ match: "*", access: { scopes: ["has space"] } }], /is not a scope name/],
    [[{ match: "*", access: { scopes: ["a"], all: true } }], /unknown field "all"/],
    [[{ match: "*", access: "public", extra: 1 }], /unknown field "extra"/],
  ] as const) {
    it(`rejects ${JSON.stringify(rules)} with a message naming the rule`, () => {
      assert.throws(() => checkRules(rules), message);
    });
  }
});

describe("credentials", () => {
  it("parses Bearer tokens in any case of the scheme and refuses other schemes", () => {
    assert.deepEqual(parseAuthorization("Bearer abc.def-_~+/="), { token: "abc.def-_~+/=" });
    assert.deepEqual(parseAuthorization("bearer x"), { token: "x" });
    assert.deepEqual(parseAuthorization("Basic YTpi"), { error: "scheme" });
    assert.deepEqual(parseAuthorization("Bearer"), { error: "malformed" });
    assert.deepEqual(parseAuthorization("Bearer a b"), { error: "malformed" });
    assert.equal(parseAuthorization("  "), undefined);
    assert.equal(parseAuthorization(null), undefined);
    assert.deepEqual(parseAuthorization(`Bearer ${"a".repeat(4096)}`), { token: "a".repeat(4096) });
    assert.deepEqual(parseAuthorization(`Bearer ${"a".repeat(4097)}`), { error: "too-long" }, "says why, not 'malformed'");
  });

  it("finds a cookie by name among others, quoted or not", () => {
    assert.equal(cookieValue("a=1; oneport_token=tok; b=2", "oneport_token"), "tok");
    assert.equal(cookieValue('oneport_token="q"', "oneport_token"), "q");
    assert.equal(cookieValue("xoneport_token=tok", "oneport_token"), undefined);
    assert.equal(cookieValue(["a=1", "oneport_token=t2"], "oneport_token"), "t2");
    assert.equal(cookieValue("oneport_token=", "oneport_token"), undefined);
    assert.equal(cookieValue("oneport_token=t", ""), undefined, "an empty name turns cookies off");
  });

  it("finds the token subprotocol among the offers", () => {
    assert.equal(subprotocolToken("oneport.json.v1, oneport.bearer.abc.def"), "abc.def");
    assert.equal(subprotocolToken("oneport.json.v1"), undefined);
    assert.equal(subprotocolToken("oneport.bearer."), undefined);
  });

  it("reads and removes a query token, keeping the other parameters byte for byte", () => {
    assert.equal(queryToken("/ws?x=1&access_token=t%2Bk", "access_token"), "t+k");
    assert.equal(queryToken("/ws?x=1", "access_token"), undefined);
    assert.equal(queryToken("/ws?access_token=t", ""), undefined);
    assert.equal(withoutParam("a=%20+b&access_token=t&c", "access_token"), "a=%20+b&c");
    assert.equal(withoutParam("access%5Ftoken=t&d=1", "access_token"), "d=1");
    assert.equal(withoutParam("a=1", "access_token"), "a=1");
  });

  it("writes RFC 6750 challenges with only allowed characters", () => {
    assert.equal(challenge("oneport"), 'Bearer realm="oneport"');
    assert.equal(challenge("r", "invalid_token", 'bad "token"\\'), 'Bearer realm="r", error="invalid_token", error_description="bad token"');
    assert.equal(challenge("r", "insufficient_scope", undefined, ["a", "b"]), 'Bearer realm="r", error="insufficient_scope", scope="a b"');
  });
});

describe("static tokens and the token cache", () => {
  it("maps a static token to its subject and scopes, and refuses others as not its own", async () => {
    const v = staticVerifier([{ token: "t1", subject: "svc", scopes: ["a"] }]);
    assert.deepEqual(await v.verify("t1"), { subject: "svc", scopes: ["a"], claims: {} });
    await assert.rejects(v.verify("t2"), (e: { recognized: boolean; rawMessage: string }) => !e.recognized && /unknown token/.test(e.rawMessage));
  });

  it("rejects a token given to two subjects", () => {
    assert.throws(() => staticVerifier([{ token: "t", subject: "a" }, { token: "t", subject: "b" }]), /tokens must be unique/);
  });

  it("forgets a token at its exp and evicts the oldest entry when full", () => {
    const c = new TokenCache(60_000, 2);
    const past = { subject: "x", scopes: [], claims: { exp: Math.floor(Date.now() / 1000) - 1 } };
    c.set("expired", past);
    assert.equal(c.get("expired"), undefined);
    const p = { subject: "y", scopes: [], claims: {} };
    c.set("a", p);
    c.set("b", p);
    c.set("c", p);
    assert.equal(c.get("a"), undefined);
    assert.equal(c.get("c"), p);
    assert.ok(c.size <= 2);
  });

  it("remembers nothing with a zero TTL", () => {
    const c = new TokenCache(0, 10);
    c.set("a", { subject: "y", scopes: [], claims: {} });
    assert.equal(c.get("a"), undefined);
  });
});

describe("resolveAuthOptions()", () => {
  for (const [opts, message] of [
    [{}, /needs a way to verify tokens/],
    [{ tokens: new Map([["t", "a"]]), nope: 1 }, /unknown auth option "nope"/],
    [{ tokens: [{ token: "t", subject: "a", only: [] }] }, /static token of "a": only must be a non-empty list of method patterns/],
    [{ tokens: new Map([["t", "a"]]), cookie: "bad name" }, /auth.cookie must be a cookie name/],
    [{ tokens: new Map([["t", "a"]]), queryParam: "a&b" }, /auth.queryParam/],
    [{ tokens: new Map([["t", "a"]]), realm: 'a"b' }, /auth.realm/],
    [{ tokens: new Map([["t", "a"]]), defaultAccess: "open" }, /auth.defaultAccess/],
    [{ tokens: new Map([["t", "a"]]), cacheTtlMs: -1 }, /auth.cacheTtlMs/],
    [{ verifiers: [{}] }, /verify\(token\) method/],
  ] as const) {
    it(`rejects ${JSON.stringify(opts, (_k, v) => (v instanceof Map ? "Map" : v))} with a clear message`, () => {
      assert.throws(() => resolveAuthOptions(opts as never), message);
    });
  }

  it("defaults to authenticated, realm oneport, cookie oneport_token and no query token", () => {
    const r = resolveAuthOptions({ tokens: new Map([["t", "a"]]) });
    assert.equal(r.defaultAccess, "authenticated");
    assert.equal(r.realm, "oneport");
    assert.equal(r.cookie, "oneport_token");
    assert.equal(r.queryParam, "");
    assert.equal(r.requireForWebSocket, false);
  });
});
