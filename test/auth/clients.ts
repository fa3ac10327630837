// One attempt per protocol: call ExampleService with a token (or none) through a real client of that
// protocol, assert that protocol's own success or error shape, and return the gRPC code (0 = ok).
import assert from "node:assert/strict";
import { request as h1request } from "node:http";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { EventSource } from "eventsource";
import WebSocket from "ws";
import { createGrpcJsClient } from "../../src/client/grpc-js.js";
import { ExampleService, type HelloResponse } from "../../src/gen/example/example_pb.js";
import { connectH2WebSocket } from "../client/h2-websocket.js";

/** A protocol of the table: takes the server URL and a token, returns the gRPC code it got. */
export type Attempt = (url: string, token: string | undefined) => Promise<number>;

/** WebSocket attempts record here whether the last refusal came at the upgrade (401) or in a call's status frame. */
export const refusedAt: { last?: "upgrade" | "call" } = {};

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });
const codeNames: Record<number, string> = { 0: "ok", 7: "permission_denied", 16: "unauthenticated" };
const httpOf: Record<number, number> = { 7: 403, 16: 401 };

/** RFC 6750: a refusal names the scheme; an invalid token says invalid_token, a missing scope insufficient_scope. */
function assertChallenge(value: string | null | undefined, code: number, hadToken: boolean): void {
  assert.ok(value, "WWW-Authenticate is sent");
  assert.match(value, /^Bearer realm="oneport"/);
  if (code === 7) assert.match(value, /error="insufficient_scope", scope="hello"/);
  else if (hadToken) assert.match(value, /error="invalid_token"/);
  else assert.doesNotMatch(value, /error=/);
}

/** A status message must never echo the token or a stack. */
function assertClean(message: string, token: string | undefined): void {
  if (token && token.length > 8) assert.ok(!message.includes(token), `message echoes the token: ${message}`);
  assert.doesNotMatch(message, /\n\s+at |node_modules|\.ts:\d+/);
}

const grpcJs: Attempt = (url, token) => {
  const client = createGrpcJsClient(ExampleService, new URL(url).host);
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `Bearer ${token}`);
  return new Promise<number>((resolve, reject) => {
    client.sayHello({ name: "bob" }, md, (err: grpc.ServiceError | null, res: HelloResponse) => {
      client.close();
      try {
        if (!err) {
          assert.equal(res.message, "Hello, bob");
          return resolve(0);
        }
        assertClean(err.details, token);
        assertChallenge(String(err.metadata.get("www-authenticate")[0] ?? ""), err.code, token !== undefined);
        resolve(err.code);
      } catch (e) {
        reject(e);
      }
    });
  });
};

// Connect's unary protocol by hand over HTTP/1.1 (JSON), so the HTTP status is visible too.
const connectJsonH1: Attempt = (url, token) =>
  new Promise((resolve, reject) => {
    const u = new URL(`${url}/example.ExampleService/SayHello`);
    const req = h1request(u, { method: "POST", headers: { "content-type": "application/json", ...bearer(token) } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        try {
          const body = JSON.parse(text) as { message?: string; code?: string };
          if (res.statusCode === 200) {
            assert.equal(body.message, "Hello, bob");
            return resolve(0);
          }
          const code = Number(Object.entries(codeNames).find(([, n]) => n === body.code)?.[0] ?? -1);
          assert.equal(res.statusCode, httpOf[code], `HTTP status for ${body.code}`);
          assertClean(String(body.message), token);
          assertChallenge(res.headers["www-authenticate"] as string | undefined, code, token !== undefined);
          resolve(code);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("error", reject);
    req.end('{"name":"bob"}');
  });

/** A protobuf-es client over a connect-node transport: ConnectError carries the code and headers. */
const viaTransport =
  (make: (baseUrl: string) => ReturnType<typeof createConnectTransport>): Attempt =>
  async (url, token) => {
    const client = createClient(ExampleService, make(url));
    try {
      const res = await client.sayHello({ name: "bob" }, { headers: bearer(token) });
      assert.equal(res.message, "Hello, bob");
      return 0;
    } catch (e) {
      const err = ConnectError.from(e);
      assertClean(err.rawMessage, token);
      assertChallenge(err.metadata.get("www-authenticate"), err.code, token !== undefined);
      return err.code;
    }
  };

function rawGet(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = h1request(new URL(path, url), { headers }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** REST errors are google.rpc.Status JSON with the gRPC code number. */
function restRefusal(a: { status: number; headers: Record<string, string | string[] | undefined>; text: string }, token: string | undefined): number {
  const body = JSON.parse(a.text) as { code: number; message: string; details: unknown[] };
  assert.ok(Array.isArray(body.details));
  assert.equal(a.status, httpOf[body.code], `HTTP status for code ${body.code}`);
  assertClean(body.message, token);
  assertChallenge(a.headers["www-authenticate"] as string | undefined, body.code, token !== undefined);
  return body.code;
}

const restUnary: Attempt = async (url, token) => {
  const a = await rawGet(url, "/v1/hello/bob", bearer(token));
  if (a.status === 200) {
    assert.deepEqual(JSON.parse(a.text), { message: "Hello, bob" });
    return 0;
  }
  return restRefusal(a, token);
};

/**
 * REST server stream as SSE with the `eventsource` package; the token in a header or a cookie. A
 * refused stream must fail with its HTTP status before any event (EventSource's error carries it),
 * and the same request made by hand must show the google.rpc.Status body.
 */
const sse =
  (how: "header" | "cookie"): Attempt =>
  async (url, token) => {
    const headers: Record<string, string> = how === "header" ? bearer(token) : token === undefined ? {} : { cookie: `theme=dark; oneport_token=${token}` };
    const es = new EventSource(`${url}/v1/hello/bob/stream?count=2`, {
      fetch: (u, init) => fetch(u, { ...init, headers: { ...init?.headers, ...headers } }),
    });
    const got: string[] = [];
    const outcome = await new Promise<{ end: true } | { status: number | undefined }>((resolve) => {
      es.onmessage = (e) => got.push((JSON.parse(e.data) as { message: string }).message);
      es.addEventListener("end", () => resolve({ end: true }));
      es.addEventListener("error", (e) => {
        if ((e as MessageEvent).data !== undefined) resolve({ status: -1 }); // an `event: error` inside the stream
        else if (es.readyState === EventSource.CLOSED) resolve({ status: (e as { code?: number }).code });
      });
    });
    es.close();
    if ("end" in outcome) {
      assert.deepEqual(got, ["Hello, bob (1/2)", "Hello, bob (2/2)"]);
      return 0;
    }
    assert.equal(got.length, 0, "no event before the refusal");
    assert.ok(outcome.status === 401 || outcome.status === 403, `refused before the stream with 401/403, got ${outcome.status}`);
    const a = await rawGet(url, "/v1/hello/bob/stream?count=2", { accept: "text/event-stream", ...headers });
    assert.equal(a.status, outcome.status);
    return restRefusal(a, token);
  };

interface Frame {
  id?: string;
  message?: { message?: string };
  end?: boolean;
  status?: { code: string; message?: string };
}

/** Runs SayHello over an open bridge socket; returns the status code of its final frame. */
async function wsCall(ws: WebSocket, token: string | undefined, frameHeaders: Record<string, string> | undefined): Promise<number> {
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ws.on("message", (d) => {
      const f = JSON.parse(String(d)) as Frame;
      if (f.id !== "1") return;
      frames.push(f);
      if (f.end) resolve();
    });
    ws.once("close", (c) => reject(new Error(`closed with ${c} before the final frame`)));
  });
  ws.send(JSON.stringify({ id: "1", method: "example.ExampleService/SayHello", message: { name: "bob" }, ...(frameHeaders ? { headers: frameHeaders } : {}) }));
  await done;
  ws.close();
  const last = frames[frames.length - 1];
  if (last.status?.code === "ok" || last.status?.code === undefined) {
    assert.equal(frames.find((f) => f.message)?.message?.message, "Hello, bob");
    return 0;
  }
  assertClean(String(last.status.message), token);
  refusedAt.last = "call";
  const code = Number(Object.entries(codeNames).find(([, n]) => n === last.status!.code)?.[0] ?? -1);
  assert.notEqual(code, -1, `unexpected status ${last.status.code}`);
  return code;
}

/**
 * The bridge with the token presented at the upgrade (header or subprotocol) or in the frame. An
 * invalid token at the upgrade must be refused with 401 and a google.rpc.Status body, no upgrade;
 * a valid one (or none) upgrades and the call's final frame carries the status.
 */
const webSocket =
  (how: "header" | "subprotocol" | "frame"): Attempt =>
  (url, token) =>
    new Promise<number>((resolve, reject) => {
      const protocols = ["oneport.json.v1", ...(how === "subprotocol" && token !== undefined ? [`oneport.bearer.${token}`] : [])];
      const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`, protocols, { headers: how === "header" ? bearer(token) : {} });
      ws.once("unexpected-response", (_req, res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          try {
            assert.equal(res.statusCode, 401, `upgrade refused with 401: ${text}`);
            assert.notEqual(how, "frame");
            refusedAt.last = "upgrade";
            resolve(restRefusal({ status: 401, headers: res.headers, text }, token));
          } catch (e) {
            reject(e);
          }
        });
      });
      ws.once("error", (e) => reject(e));
      ws.once("open", () => {
        assert.equal(ws.protocol, "oneport.json.v1", "the bearer subprotocol is never selected");
        wsCall(ws, token, how === "frame" ? bearer(token) : undefined).then(resolve, reject);
      });
    });

/** The bridge over HTTP/2 (RFC 8441 extended CONNECT), the token in the subprotocol offer. */
const webSocketH2: Attempt = async (url, token) => {
  const h = await connectH2WebSocket(url, { protocol: ["oneport.json.v1", ...(token !== undefined ? [`oneport.bearer.${token}`] : [])].join(", ") });
  try {
    if (h.status !== 200) {
      assert.equal(h.status, 401);
      refusedAt.last = "upgrade";
      return restRefusal({ status: h.status, headers: h.headers as Record<string, string>, text: h.body }, token);
    }
    return await wsCall(h.ws!, token, undefined);
  } finally {
    h.session.close();
  }
};

/** Every protocol of the table. */
export const attempts: Record<string, Attempt> = {
  "grpc-js (HTTP/2)": grpcJs,
  "Connect JSON over HTTP/1.1": connectJsonH1,
  "Connect binary over HTTP/2": viaTransport((baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true })),
  "gRPC-Web over HTTP/1.1": viaTransport((baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
  "REST unary": restUnary,
  "REST SSE, token in a header": sse("header"),
  "REST SSE, token in a cookie": sse("cookie"),
  "WebSocket, token in the upgrade header": webSocket("header"),
  "WebSocket, token in the subprotocol": webSocket("subprotocol"),
  "WebSocket, token in the frame headers": webSocket("frame"),
  "WebSocket over HTTP/2 (RFC 8441)": webSocketH2,
};

export { Code };
