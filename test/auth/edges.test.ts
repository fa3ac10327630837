// The auth layer where protocols differ: WebSocket upgrades (cookie, query, required tokens,
// overrides per frame), REST cookies and query tokens, public services, chat authors from JWTs, and
// what interceptors and verifiers see.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { principalKey, type Verifier } from "../../src/auth/principal.js";
import { ChatService } from "../../src/gen/chat/v1/chat_pb.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { HealthCheckResponse_ServingStatus, Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { MemoryBroker } from "../../src/pubsub/memory.js";
import { createChat } from "../../src/services/chat.js";
import { exampleService } from "../../src/services/example.js";
import { connectH2WebSocket } from "../client/h2-websocket.js";
import { startServer } from "../support/server.js";
import { makeCredentials, mint, SCOPE, startAuthServer } from "./support.js";

const creds = await makeCredentials();
const good = await mint(creds.key, { scope: SCOPE });
const expired = creds.cases.find((c) => c.name === "an expired JWT")!.token!;

function get(url: string, path: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Opens the bridge; resolves with the socket, or with the refusal's status and body. */
function openWs(url: string, opts: { path?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<{ ws?: WebSocket; status?: number; headers?: Record<string, string | string[] | undefined>; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}${opts.path ?? "/ws"}`, opts.protocols ?? ["oneport.json.v1"], { headers: opts.headers ?? {} });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    ws.once("open", () => {
      after(() => ws.close());
      resolve({ ws });
    });
    ws.once("error", reject);
  });
}

/** Calls SayHello over an open socket; returns the final frame's status code name. */
function hello(ws: WebSocket, id: string, headers?: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const on = (d: WebSocket.RawData) => {
      const f = JSON.parse(String(d)) as { id?: string; end?: boolean; status?: { code: string } };
      if (f.id !== id || !f.end) return;
      ws.off("message", on);
      resolve(f.status?.code ?? "ok");
    };
    ws.on("message", on);
    ws.send(JSON.stringify({ id, method: "example.ExampleService/SayHello", message: { name: "x" }, ...(headers ? { headers } : {}) }));
  });
}

describe("auth at the WebSocket upgrade", async () => {
  const { url } = await startAuthServer(creds.jwks.url, { queryParam: "access_token" });
  const strict = await startAuthServer(creds.jwks.url, { requireForWebSocket: true });

  it("accepts a token in the cookie and uses it for every call", async () => {
    const { ws } = await openWs(url, { headers: { cookie: `a=b; oneport_token=${good}` } });
    assert.equal(await hello(ws!, "1"), "ok");
    assert.equal(await hello(ws!, "2"), "ok");
  });

  it("refuses an expired token in the cookie with 401 and a google.rpc.Status body", async () => {
    const r = await openWs(url, { headers: { cookie: `oneport_token=${expired}` } });
    assert.equal(r.status, 401);
    assert.deepEqual(JSON.parse(r.body!), { code: 16, message: "the token expired: get a new one", details: [] });
    assert.match(String(r.headers!["www-authenticate"]), /error="invalid_token"/);
  });

  it("accepts ?access_token= when the option names it, and refuses a bad one", async () => {
    const { ws } = await openWs(url, { path: `/ws?access_token=${good}` });
    assert.equal(await hello(ws!, "1"), "ok");
    assert.equal((await openWs(url, { path: "/ws?access_token=garbage" })).status, 401);
  });

  it("ignores ?access_token= by default (URLs end up in logs)", async () => {
    const r = await openWs(strict.url.replace(/\/$/, ""), { path: `/ws?access_token=${good}` });
    assert.equal(r.status, 401, "requireForWebSocket saw no token: the query was not read");
  });

  it("refuses an upgrade without a token when requireForWebSocket is set, on HTTP/1.1 and HTTP/2", async () => {
    const r = await openWs(strict.url);
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body!).code, 16);
    assert.equal(r.headers!["www-authenticate"], 'Bearer realm="oneport"');
    const h2 = await connectH2WebSocket(strict.url, { protocol: "oneport.json.v1" });
    h2.session.close();
    assert.equal(h2.status, 401);
    assert.equal(h2.headers["www-authenticate"], 'Bearer realm="oneport"');
    assert.equal(JSON.parse(h2.body).code, 16);
    const ok = await openWs(strict.url, { protocols: ["oneport.json.v1", `oneport.bearer.${good}`] });
    assert.equal(await hello(ok.ws!, "1"), "ok");
  });

  it("refuses another scheme in the upgrade's Authorization header with 401", async () => {
    const r = await openWs(url, { headers: { authorization: "Basic YTpi" } });
    assert.equal(r.status, 401);
    assert.match(JSON.parse(r.body!).message, /must be "Bearer <token>"/);
  });

  it("lets a frame's own authorization header override the upgrade's, for that call only", async () => {
    const { ws } = await openWs(url, { headers: { authorization: `Bearer ${good}` } });
    assert.equal(await hello(ws!, "1", { authorization: `Bearer ${expired}` }), "unauthenticated");
    assert.equal(await hello(ws!, "2"), "ok", "the connection and its token survive");
  });

  it("checks each call again, so a token that gave no access at the upgrade gives none later", async () => {
    const noScope = await mint(creds.key, { scope: "other" });
    const { ws } = await openWs(url, { headers: { authorization: `Bearer ${noScope}` } });
    assert.equal(await hello(ws!, "1"), "permission_denied");
  });
});

describe("auth on REST", async () => {
  const { url } = await startAuthServer(creds.jwks.url, { queryParam: "access_token" });
  const plain = await startAuthServer(creds.jwks.url);

  it("takes ?access_token= on a GET stream when enabled, without binding it to a field", async () => {
    const a = await get(url, `/v1/hello/bob/stream?count=1&access_token=${good}`, { accept: "text/event-stream" });
    assert.equal(a.status, 200, a.text);
    assert.match(a.text, /data: \{"message":"Hello, bob \(1\/1\)"\}/);
  });

  it("refuses ?access_token= when it is off, with 401 before reading anything else", async () => {
    const a = await get(plain.url, `/v1/hello/bob?access_token=${good}`);
    assert.equal(a.status, 401);
    assert.equal(JSON.parse(a.text).code, 16);
  });

  it("answers 401 with WWW-Authenticate before an SSE stream with a bad cookie starts", async () => {
    const a = await get(url, "/v1/hello/bob/stream?count=1", { accept: "text/event-stream", cookie: `oneport_token=${expired}` });
    assert.equal(a.status, 401);
    assert.match(String(a.headers["content-type"]), /^application\/json/);
    assert.match(String(a.headers["www-authenticate"]), /^Bearer realm="oneport", error="invalid_token"/);
  });
});

describe("public methods, principals and verifiers", async () => {
  const seen: Array<string | undefined> = [];
  const spy: Interceptor = (next) => (req) => {
    seen.push(req.contextValues.get(principalKey)?.subject);
    return next(req);
  };
  let verified = 0;
  const counting: Verifier = {
    async verify(token) {
      verified++;
      if (token === "boom") throw new Error("database at 10.0.0.7 is down");
      if (token === "revoked") throw new ConnectError("this key was revoked: create a new one", Code.Unauthenticated);
      if (token !== "counted") throw Object.assign(new Error("no"), {});
      return { subject: "counted", scopes: [], claims: {} };
    },
  };
  const { url } = await startServer({ services: [exampleService()], interceptors: [spy], auth: { verifiers: [counting] } });

  it("keeps health public even when everything else needs a token, and never looks at its credentials", async () => {
    const health = createClient(Health, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const before = verified;
    const r = await health.check({ service: "" }, { headers: { authorization: "Bearer garbage" } });
    assert.equal(r.status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal(verified, before);
  });

  it("gives the Principal to interceptors after auth, and verifies a repeated token once", async () => {
    const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const before = verified;
    for (let i = 0; i < 3; i++) await client.sayHello({ name: "x" }, { headers: { authorization: "Bearer counted" } });
    assert.equal(verified - before, 1, "the cache answered the repeats");
    assert.deepEqual(seen.slice(-3), ["counted", "counted", "counted"]);
  });

  it("passes a verifier's own UNAUTHENTICATED refusal on with its message and a challenge", async () => {
    const a = await get(url, "/v1/hello/x", { authorization: "Bearer revoked" });
    assert.equal(a.status, 401);
    assert.equal(JSON.parse(a.text).message, "this key was revoked: create a new one");
    assert.match(String(a.headers["www-authenticate"]), /error="invalid_token"/);
  });

  it("turns a verifier's own failure into UNAVAILABLE without its message", async () => {
    const client = createClient(ExampleService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const err = await client.sayHello({ name: "x" }, { headers: { authorization: "Bearer boom" } }).then(
      () => assert.fail("expected an error"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.Unavailable);
    assert.doesNotMatch(err.rawMessage, /10\.0\.0\.7|database/);
  });
});

describe("chat with JWTs", async () => {
  const broker = new MemoryBroker();
  after(() => broker.close());
  const chat = createChat(broker);
  const secret = "chat-secret-chat-secret-chat-secret!";
  const { url } = await startServer({
    services: [exampleService(), chat.service],
    features: [chat.feature],
    auth: { jwt: { secret }, rules: [{ match: "chat.v1.ChatService/*", access: "authenticated" }], defaultAccess: "public" },
  });
  const { SignJWT } = await import("jose");
  const token = await new SignJWT({ sub: "dana", exp: Math.floor(Date.now() / 1000) + 60 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));

  it("takes the author from the JWT's subject", async () => {
    const client = createClient(ChatService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    const r = await client.send({ room: "lobby", text: "hi" }, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.message?.author, "dana");
  });

  it("refuses a cookie on a POST: cookies count only for GETs, so another site cannot post as the user", async () => {
    const a = await get(url, "/v1/rooms/lobby/messages", { "content-type": "application/json", cookie: `oneport_token=${token}` }, "POST", '{"text":"hi"}');
    assert.equal(a.status, 401, a.text);
  });

  it("leaves the example service public under defaultAccess public", async () => {
    const a = await get(url, "/v1/hello/bob");
    assert.equal(a.status, 200);
  });
});

// REST checks the Authorization the implementation will see: Grpc-Metadata-Authorization becomes
// the call's authorization metadata (grpc-gateway's convention), so it is what auth verifies too.
describe("REST auth and Grpc-Metadata-Authorization", () => {
  it("authenticates the authorization metadata the service sees, never one value while the service sees another", async () => {
    const { transcodingService } = await import("../rest/transcoding-service.js");
    const { url } = await startServer({
      services: [transcodingService()],
      auth: { tokens: [{ token: "alice-token", subject: "alice" }, { token: "bob-token", subject: "bob" }], defaultAccess: "authenticated" },
    });
    const seen = async (headers: Record<string, string>) => {
      const r = await get(url, "/v1/metadata", headers);
      return r.status === 200 ? (JSON.parse(r.text) as { headers: Record<string, string> }).headers.authorization : r.status;
    };
    assert.equal(await seen({ authorization: "Bearer alice-token" }), "Bearer alice-token");
    // Only the prefixed header: the service sees bob's token, so bob is who is authenticated.
    assert.equal(await seen({ "grpc-metadata-authorization": "Bearer bob-token" }), "Bearer bob-token");
    // Both: the service would see two tokens at once; that is no valid credential.
    assert.equal(await seen({ authorization: "Bearer alice-token", "grpc-metadata-authorization": "Bearer bob-token" }), 401);
    assert.equal(await seen({ "grpc-metadata-authorization": "Bearer nobody" }), 401);
  });
});

describe("a bearer token over the size limit", () => {
  it("is refused with 401 saying it is too long (not that the header is malformed)", async () => {
    const { url } = await startServer({ auth: { tokens: [{ token: "t", subject: "a" }], defaultAccess: "authenticated" } });
    const r = await get(url, "/v1/hello/Bob", { authorization: `Bearer ${"x".repeat(5000)}` });
    assert.equal(r.status, 401);
    assert.match(JSON.parse(r.text).message, /the bearer token is longer than 4096 characters/);
  });
});
