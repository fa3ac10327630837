// Property-based tests (fast-check) of the credential parsers, and of the auth edges of a real
// server: any Authorization header, cookie, token subprotocol or query token gets a well-formed
// 401/403 (or a success), never a crash or a 500, and a valid call works afterwards.
import assert from "node:assert/strict";
import { Agent } from "node:http";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { cookieValue, parseAuthorization, queryToken, subprotocolToken, withoutParam } from "../../src/auth/credentials.js";
import { budget, h1call, mutatedText, startFuzzServer } from "../fuzz/support.js";

/** Strings over an alphabet plus a few bytes outside it (cheaper to generate than junkText). */
const chars = (alphabet: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...alphabet, "\u0000", "\u00e9", "\u007f", "\n"), maxLength });

const SECRET = "property-secret-property-secret-32!";
const token = await new SignJWT({ sub: "p", scope: "hello", exp: Math.floor(Date.now() / 1000) + 600 })
  .setProtectedHeader({ alg: "HS256" })
  .sign(new TextEncoder().encode(SECRET));
// Header values Node lets a client send: no control characters but tab.
const headerValue = fc.string({ unit: fc.constantFrom(..."Bb earrRtTokn.=-_~+/ \t\"';,%:aZ09"), maxLength: 60 }).filter((s) => s.trim() === s);

describe("credential parsers (properties)", () => {
  it("parseAuthorization returns a token only for one Bearer word of printable ASCII", () => {
    fc.assert(
      fc.property(fc.oneof(chars("Bb earr \t.=-_", 40), mutatedText([`Bearer ${token}`, "Basic YTpi", "bearer x"])), (v) => {
        const r = parseAuthorization(v);
        if (r !== undefined && "token" in r) {
          assert.match(v, /^\s*bearer\s+/i);
          assert.match(r.token, /^[\x21-\x7e]+$/);
          assert.ok(v.includes(r.token));
        }
      }),
      budget(800, 1500),
    );
  });

  it("withoutParam removes every occurrence of the name and keeps the other pairs in order", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("access_token", "access%5Ftoken", "a", "b+c", "%zz"), chars("=&%+ab1", 8)), { maxLength: 6 }), (pairs) => {
        const query = pairs.map(([k, v]) => `${k}=${v.replace(/&/g, "")}`).join("&");
        const out = withoutParam(query, "access_token");
        assert.equal(queryToken(`?${out}`, "access_token"), undefined, `${query} -> ${out}`);
        const kept = query.split("&").filter((p) => !/^access(_|%5F)token=/.test(p));
        assert.equal(out, kept.join("&"));
      }),
      budget(800, 1500),
    );
  });

  it("cookieValue and subprotocolToken never throw and return only what was sent", () => {
    fc.assert(
      fc.property(chars("=; \"oneport_tkbear.,", 60), (v) => {
        const c = cookieValue(v, "oneport_token");
        if (c !== undefined) assert.ok(v.includes(c));
        const s = subprotocolToken(v);
        if (s !== undefined) assert.ok(v.includes(`oneport.bearer.${s}`));
      }),
      budget(800, 1500),
    );
  });
});

describe("auth edges of a real server (properties)", async () => {
  const srv = await startFuzzServer({
    auth: { jwt: { secret: SECRET }, rules: [{ match: "example.ExampleService/*", access: { scopes: ["hello"] } }], cookie: "oneport_token", queryParam: "access_token" },
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  after(() => agent.destroy());
  const port = srv.port;

  async function validCallWorks() {
    const ok = await h1call(agent, port, "GET", "/v1/hello/ok", { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
  }

  it("answers any Authorization header on Connect and REST with 200, 401 or 403 in the protocol's format", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(headerValue, mutatedText([`Bearer ${token}`]).filter((s) => /^[\x20-\x7e]*$/.test(s) && s.trim() === s)), async (value) => {
        const rest = await h1call(agent, port, "GET", "/v1/hello/x", value === "" ? {} : { authorization: value });
        assert.ok([200, 401, 403].includes(rest.status), `REST ${rest.status} for ${JSON.stringify(value)}: ${rest.body}`);
        if (rest.status !== 200) {
          const s = JSON.parse(rest.body.toString()) as { code: number; details: unknown[] };
          assert.equal(s.code, rest.status === 401 ? 16 : 7);
          assert.match(String(rest.headers["www-authenticate"]), /^Bearer realm="oneport"/);
        }
        const connect = await h1call(agent, port, "POST", "/example.ExampleService/SayHello", { "content-type": "application/json", ...(value === "" ? {} : { authorization: value }) }, Buffer.from('{"name":"x"}'));
        assert.equal(connect.status, rest.status, "Connect and REST agree");
      }),
      budget(150, 4000),
    );
    await validCallWorks();
    srv.assertNoCrash();
  });

  it("answers any cookie or query token on an SSE stream with 200, 401 or 403 before the stream", async () => {
    await fc.assert(
      fc.asyncProperty(chars("oneport_tken=;. eyJ", 50), fc.boolean(), async (v, inQuery) => {
        const path = inQuery ? `/v1/hello/x/stream?count=1&access_token=${encodeURIComponent(v)}` : "/v1/hello/x/stream?count=1";
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (!inQuery && /^[\x20-\x7e]*$/.test(v)) headers.cookie = v;
        const a = await h1call(agent, port, "GET", path, headers);
        assert.ok([200, 401, 403].includes(a.status), `${a.status}: ${a.body}`);
        if (a.status !== 200) assert.match(String(a.headers["content-type"]), /^application\/json/);
      }),
      budget(100, 3000),
    );
    await validCallWorks();
    srv.assertNoCrash();
  });

  it("answers any token subprotocol with an upgrade or a 401, never a crash", async () => {
    const tchar = fc.string({ unit: fc.constantFrom(..."abcXYZ019.-_~!#$%&'*+^`|"), minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(tchar, fc.constant(token), tchar.map((t) => token.slice(0, -3) + t)), async (t) => {
        const outcome = await new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["oneport.json.v1", `oneport.bearer.${t}`]);
          ws.once("unexpected-response", (_q, res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          ws.once("open", () => {
            ws.close();
            resolve(101);
          });
          ws.once("error", reject);
        });
        assert.ok(outcome === 101 || outcome === 401, `upgrade answered ${outcome}`);
        if (t === token) assert.equal(outcome, 101);
      }),
      budget(80, 3000),
    );
    await validCallWorks();
    srv.assertNoCrash();
  });
});
