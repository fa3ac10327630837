// CORS: preflight for REST, Connect and gRPC-Web paths; secure default (no origin allowed).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveCorsOptions } from "../../src/http/cors.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { raw } from "./support.js";
import { transcodingService } from "./transcoding-service.js";

const open = await startServer({ services: [exampleService(), transcodingService()], cors: { allowedOrigins: ["https://app.example.com", "https://*.example.org"], maxAgeSeconds: 600 } });
const closed = await startServer();

const preflight = (url: string, path: string, origin: string, method = "POST", headers = "content-type") =>
  raw(url, "OPTIONS", path, { headers: { origin, "access-control-request-method": method, "access-control-request-headers": headers } });

describe("CORS", () => {
  for (const [name, path, method, headers] of [
    ["a REST path", "/v1/hello/Bob", "GET", "authorization"],
    ["a Connect path", "/example.ExampleService/SayHello", "POST", "content-type, connect-protocol-version"],
    ["a gRPC-Web path", "/example.ExampleService/SayHelloStream", "POST", "content-type, x-grpc-web, x-user-agent"],
  ]) {
    it(`answers a preflight for ${name} from an allowed origin`, async () => {
      const a = await preflight(open.url, path, "https://app.example.com", method, headers);
      assert.equal(a.status, 204);
      assert.equal(a.headers["access-control-allow-origin"], "https://app.example.com");
      assert.match(String(a.headers["access-control-allow-methods"]), new RegExp(method));
      assert.equal(a.headers["access-control-allow-headers"], headers);
      assert.equal(a.headers["access-control-max-age"], "600");
      assert.match(String(a.headers.vary), /Origin/);
    });
  }

  for (const [path, method, methods] of [
    ["/v1/hello/Bob", "GET", "GET, HEAD"],
    ["/v1/hello/Bob", "HEAD", "GET, HEAD"],
    ["/v1/echo/x", "PUT", "DELETE, GET, HEAD, PATCH, PUT"],
    ["/v1/echo:search", "SEARCH", "SEARCH"],
    ["/example.ExampleService/SayHello", "POST", "POST, GET"],
  ]) {
    it(`allows exactly the methods served at ${path} (${methods}) in a ${method} preflight`, async () => {
      const a = await preflight(open.url, path, "https://app.example.com", method);
      assert.equal(a.status, 204);
      assert.equal(a.headers["access-control-allow-methods"], methods);
    });
  }

  it("allows subdomains of a *.domain pattern, and not the bare domain or look-alikes", async () => {
    assert.equal((await preflight(open.url, "/v1/hello/Bob", "https://a.b.example.org")).status, 204);
    assert.equal((await preflight(open.url, "/v1/hello/Bob", "https://example.org")).status, 403);
    assert.equal((await preflight(open.url, "/v1/hello/Bob", "https://evilexample.org")).status, 403);
    assert.equal((await preflight(open.url, "/v1/hello/Bob", "http://a.example.org")).status, 403);
  });

  it("marks every answer as varying with Origin once CORS is configured (allowed, refused or no Origin), and none without CORS", async () => {
    for (const headers of [{ origin: "https://app.example.com" }, { origin: "https://evil.example.com" }, {}] as Record<string, string>[]) {
      const a = await raw(open.url, "GET", "/v1/hello/Bob", { headers });
      assert.equal(a.status, 200);
      assert.equal(a.headers.vary, "Origin", JSON.stringify(headers));
    }
    const plain = await raw(closed.url, "GET", "/v1/hello/Bob", { headers: { origin: "https://app.example.com" } });
    assert.equal(plain.headers.vary, undefined);
  });

  it("refuses a preflight from an origin not allowed, with a Status body saying how to allow it", async () => {
    const a = await preflight(open.url, "/v1/hello/Bob", "https://evil.example.com");
    assert.equal(a.status, 403);
    assert.equal(a.headers["access-control-allow-origin"], undefined);
    assert.match(JSON.parse(a.text).message, /cors.allowedOrigins/);
  });

  it("allows no origin at all by default", async () => {
    const a = await preflight(closed.url, "/v1/hello/Bob", "https://app.example.com");
    assert.equal(a.status, 403);
    const b = await raw(closed.url, "GET", "/v1/hello/Bob", { headers: { origin: "https://app.example.com" } });
    assert.equal(b.status, 200);
    assert.equal(b.headers["access-control-allow-origin"], undefined);
  });

  it("adds allow and expose headers to actual requests from allowed origins, on REST and Connect", async () => {
    const a = await raw(open.url, "GET", "/v1/hello/Bob", { headers: { origin: "https://app.example.com" } });
    assert.equal(a.status, 200);
    assert.equal(a.headers["access-control-allow-origin"], "https://app.example.com");
    assert.match(String(a.headers["access-control-expose-headers"]), /Grpc-Status/);
    const c = await raw(open.url, "POST", "/example.ExampleService/SayHello", {
      headers: { origin: "https://app.example.com", "content-type": "application/json" },
      body: '{"name":"Bob"}',
    });
    assert.equal(c.status, 200);
    assert.equal(c.headers["access-control-allow-origin"], "https://app.example.com");
  });

  it("leaves preflights for unknown paths to the 404 handler", async () => {
    assert.equal((await preflight(open.url, "/nowhere", "https://app.example.com")).status, 404);
  });

  it("validates its options", () => {
    assert.throws(() => resolveCorsOptions({ allowedOrigins: ["app.example.com"] }), /is not an origin/);
    assert.throws(() => resolveCorsOptions({ allowedOrigins: ["*"], allowCredentials: true }), /allowCredentials cannot be used/);
    assert.throws(() => resolveCorsOptions({ maxAgeSeconds: -1 }), /maxAgeSeconds/);
    assert.throws(() => resolveCorsOptions({ origins: [] } as never), /unknown cors option "origins"/);
    assert.throws(() => resolveCorsOptions({ allowedOrigins: ["https://app.example.com/"] }), /drop the trailing slash/);
    assert.throws(() => resolveCorsOptions({ exposedHeaders: ["x bad"] }), /cors.exposedHeaders must be an array of header names/);
    assert.deepEqual(resolveCorsOptions().allowedOrigins, []);
  });
});
