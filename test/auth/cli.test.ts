import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SignJWT } from "jose";
import type { StaticToken } from "../../src/auth/static.js";
import { parseCli, usage } from "../../src/cli-config.js";
import { finished, startMain } from "../support/process.js";

const SECRET = "cli-test-secret-cli-test-secret-32b";
const dir = mkdtempSync(join(tmpdir(), "oneport-auth-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("CLI auth flags (parseCli)", () => {
  it("keeps chat on the chat tokens and everything else public by default", () => {
    const auth = parseCli([], {}).server.auth!;
    assert.equal(auth.defaultAccess, "public");
    assert.deepEqual(auth.rules, [{ match: "chat.v1.ChatService/*", access: "authenticated" }]);
    assert.equal(auth.jwt, undefined);
    assert.deepEqual((auth.tokens as StaticToken[]).find((t) => t.token === "alice-token"), { token: "alice-token", subject: "alice", only: ["chat.v1.ChatService/*"] });
  });

  it("builds a JWT verifier from --jwt-secret, --jwt-issuer and --jwt-audience (flags win over the environment)", () => {
    const auth = parseCli(["--jwt-secret", SECRET, "--jwt-audience", "a, b"], { JWT_SECRET: "ignored", JWT_ISSUER: "https://iss" }).server.auth!;
    assert.deepEqual(auth.jwt, { secret: SECRET, issuer: "https://iss", audience: ["a", "b"] });
  });

  it("reads rules from JSON or a file, and puts them before the chat rule", () => {
    const rules = '[{"match":"example.ExampleService/*","access":{"scopes":["hello"]}}]';
    const file = join(dir, "rules.json");
    writeFileSync(file, rules);
    for (const value of [rules, file]) {
      const auth = parseCli([], { AUTH_RULES: value, AUTH_DEFAULT: "authenticated" }).server.auth!;
      assert.deepEqual(auth.rules?.[0], { match: "example.ExampleService/*", access: { scopes: ["hello"], any: false } });
      assert.equal(auth.rules?.length, 2);
      assert.equal(auth.defaultAccess, "authenticated");
    }
  });

  it("sets the query parameter and the WebSocket requirement", () => {
    const auth = parseCli(["--auth-query-param", "access_token", "--ws-require-auth"], {}).server.auth!;
    assert.equal(auth.queryParam, "access_token");
    assert.equal(auth.requireForWebSocket, true);
    assert.equal(parseCli([], { WS_REQUIRE_AUTH: "true" }).server.auth!.requireForWebSocket, true);
  });

  for (const [argv, env, message] of [
    [["--jwt-secret", "short"], {}, /--jwt-secret must be at least 32 bytes/],
    [["--jwt-secret", SECRET, "--jwt-jwks-url", "https://x/jwks"], {}, /one JWT key source, not --jwt-secret and --jwt-jwks-url/],
    [["--jwt-issuer", "x"], {}, /need a key source/],
    [["--jwt-public-key", join(dir, "missing.pem")], {}, /--jwt-public-key \(JWT_PUBLIC_KEY\): cannot read/],
    [[], { AUTH_RULES: "[{" }, /--auth-rules \(AUTH_RULES\): not valid JSON/],
    [[], { AUTH_RULES: '[{"match":"bad","access":"public"}]' }, /auth.rules\[0\]: match "bad"/],
    [[], { AUTH_RULES: "no-such-file.json" }, /neither a JSON array nor a readable file/],
    [[], { AUTH_DEFAULT: "open" }, /--auth-default \(AUTH_DEFAULT\) must be public or authenticated/],
    [[], { WS_REQUIRE_AUTH: "yes" }, /WS_REQUIRE_AUTH must be true or false/],
  ] as const) {
    it(`rejects ${JSON.stringify([...argv, ...Object.entries(env).flat()])} with a message naming the flag`, () => {
      assert.throws(() => parseCli([...argv], { ...env }), message);
    });
  }
});

describe("CLI auth (src/main.ts)", () => {
  it("lists the auth flags in --help", () => {
    for (const flag of ["--jwt-secret", "--jwt-public-key", "--jwt-jwks-url", "--jwt-issuer", "--jwt-audience", "--auth-rules", "--auth-default", "--auth-query-param", "--ws-require-auth"]) {
      assert.ok(usage.includes(flag), flag);
    }
  });

  it("serves REST with JWTs from --jwt-secret and the rules of AUTH_RULES", async () => {
    const { child, port } = await startMain(["--jwt-secret", SECRET, "--log-level", "info"], {
      AUTH_RULES: '[{"match":"example.ExampleService/SayHello","access":{"scopes":["hello"]}}]',
    });
    const url = `http://127.0.0.1:${port}/v1/hello/bob`;
    const token = (scope: string) => new SignJWT({ sub: "u", scope, exp: Math.floor(Date.now() / 1000) + 60 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${await token("other")}` } })).status, 403);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${await token("hello")}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { message: "Hello, bob" });
    const exit = finished(child);
    child.kill("SIGTERM");
    assert.equal((await exit).code, 0);
  });

  it("keeps the chat tokens to chat: with JWT auth on and authenticated by default, the public dev tokens open nothing else", async () => {
    const { child, port } = await startMain(["--jwt-secret", SECRET, "--auth-default", "authenticated"]);
    const base = `http://127.0.0.1:${port}`;
    const alice = { authorization: "Bearer alice-token" };
    const hello = await fetch(`${base}/v1/hello/Ann/stream?count=1`, { headers: alice });
    assert.equal(hello.status, 403);
    assert.match((await hello.json()).message, /this token may only call chat\.v1\.ChatService\/\*, not example\.ExampleService\/SayHelloStream/);
    const connect = await fetch(`${base}/example.ExampleService/SayHello`, { method: "POST", headers: { ...alice, "content-type": "application/json" }, body: '{"name":"Ann"}' });
    assert.equal(connect.status, 403);
    // Chat itself still takes them, and a JWT opens the rest.
    const sent = await fetch(`${base}/v1/rooms/lobby/messages`, { method: "POST", headers: { ...alice, "content-type": "application/json" }, body: '{"text":"hi"}' });
    assert.equal(sent.status, 200, await sent.text());
    const jwt = await new SignJWT({ sub: "u", exp: Math.floor(Date.now() / 1000) + 60 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET));
    assert.equal((await fetch(`${base}/v1/hello/Ann`, { headers: { authorization: `Bearer ${jwt}` } })).status, 200);
    const exit = finished(child);
    child.kill("SIGTERM");
    assert.equal((await exit).code, 0);
  });
});
