// With auth configured, /openapi.json and /asyncapi.json declare the bearer scheme and each
// operation's security from the auth rules (and stay valid); without auth they declare none. A
// browser page on another origin can read WWW-Authenticate (CORS exposes it), and Swagger UI's
// "Authorize" sends the token with "Try it out".
import assert from "node:assert/strict";
import { createServer as httpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Parser } from "@asyncapi/parser";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { AuthOptions } from "../../src/auth/options.js";
import { chromiumSkip, openChromiumPage } from "../support/chromium.js";
import { startServer } from "../support/server.js";

const TOKEN = "docs-test-token";
const rules: AuthOptions["rules"] = [
  { match: "example.ExampleService/SayHelloStream", access: "public" },
  { match: "example.ExampleService/CollectNames", access: { scopes: ["write", "admin"], any: true } },
  { match: "example.ExampleService/Chatter", access: { scopes: ["a", "b"] } },
];

// A page origin for the cross-origin checks: a plain HTTP server on another port.
const pages = httpServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>other origin</title>"));
await new Promise<void>((r) => pages.listen(0, "127.0.0.1", r));
after(() => new Promise<void>((r) => (pages.close(() => r()), pages.closeAllConnections())));
const pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;

const withTokens = await startServer({ auth: { tokens: [{ token: TOKEN, subject: "docs" }], rules }, cors: { allowedOrigins: [pageOrigin] } });
const withJwt = await startServer({ auth: { jwt: { secret: "a-shared-secret-of-at-least-32-bytes!" }, rules } });
const without = await startServer();

// One browser for both Chromium cases (launching it is the slow part). Opened before the first
// describe(): node:test runs the file's top-level after() hooks (which close the servers above)
// once the suites registered so far are done, so no describe() may follow a top-level await.
const skip = chromiumSkip;
const page = skip ? undefined : await openChromiumPage("oneport-docs-auth-");

const getJson = async (url: string) => (await (await fetch(url)).json()) as Record<string, any>;

describe("API documents with auth configured", () => {
  it("OpenAPI: declares bearerAuth and each operation's security from the rules, and validates", async () => {
    const doc = await getJson(`${withTokens.url}/openapi.json`);
    const res = await new Validator().validate(doc as never);
    assert.equal(res.valid, true, JSON.stringify(res.errors));
    assert.deepEqual(doc.components.securitySchemes.bearerAuth.type, "http");
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, "bearer");
    assert.equal(doc.components.securitySchemes.bearerAuth.bearerFormat, undefined, "static tokens are not JWTs");
    const hello = doc.paths["/v1/hello/{name}"].get;
    assert.deepEqual(hello.security, [{ bearerAuth: [] }], "the default access: any valid token");
    assert.ok(hello.responses["401"], "a protected operation documents its 401");
    const stream = doc.paths["/v1/hello/{name}/stream"].get;
    assert.deepEqual(stream.security, [], "a public method needs nothing");
    assert.equal(stream.responses["401"], undefined);
  });

  it("OpenAPI: says bearerFormat JWT when JWTs are verified", async () => {
    const doc = await getJson(`${withJwt.url}/openapi.json`);
    assert.equal(doc.components.securitySchemes.bearerAuth.bearerFormat, "JWT");
    assert.equal((await new Validator().validate(doc as never)).valid, true);
  });

  it("AsyncAPI: declares bearerAuth and each operation's security, scopes in the description, and validates", async () => {
    const doc = await getJson(`${withJwt.url}/asyncapi.json`);
    const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
    assert.deepEqual(diagnostics.filter((d) => d.severity === 0), []);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: "http", scheme: "bearer", bearerFormat: "JWT", description: doc.components.securitySchemes.bearerAuth.description });
    const ref = [{ $ref: "#/components/securitySchemes/bearerAuth" }];
    const ops = doc.operations;
    assert.deepEqual(ops["example.ExampleService.SayHello"].security, ref);
    assert.deepEqual(ops["example.ExampleService.SayHelloStream"].security, []);
    assert.deepEqual(ops["example.ExampleService.CollectNames"].security, ref);
    assert.match(ops["example.ExampleService.CollectNames"].description, /scopes "write" or "admin"/);
    assert.match(ops["example.ExampleService.Chatter"].description, /scopes "a" and "b"/);
    // Health stays public unless a rule says otherwise.
    assert.deepEqual(ops["grpc.health.v1.Health.Check"].security, []);
    assert.equal(doc.servers.oneport.security, undefined, "the upgrade itself needs no token (requireForWebSocket is off)");
  });

  it("OpenAPI: lists the scopes a method needs (all of them, or one requirement each when any will do)", async () => {
    const { openApiSecurity } = await import("../../src/docs/security.js");
    assert.deepEqual(openApiSecurity({ scopes: ["a", "b"] }), [{ bearerAuth: ["a", "b"] }]);
    assert.deepEqual(openApiSecurity({ scopes: ["write", "admin"], any: true }), [{ bearerAuth: ["write"] }, { bearerAuth: ["admin"] }]);
  });
});

describe("API documents without auth", () => {
  it("declare no security scheme and no operation security", async () => {
    const openapi = await getJson(`${without.url}/openapi.json`);
    assert.equal(openapi.components.securitySchemes, undefined);
    assert.equal(JSON.stringify(openapi.paths).includes('"security"'), false);
    const asyncapi = await getJson(`${without.url}/asyncapi.json`);
    assert.equal(asyncapi.components.securitySchemes, undefined);
    assert.equal(JSON.stringify(asyncapi.operations).includes('"security"'), false);
  });
});

describe("WWW-Authenticate across origins", () => {
  it("is listed in Access-Control-Expose-Headers with the gRPC/Connect headers", async () => {
    const res = await fetch(`${withTokens.url}/v1/hello/bob`, { headers: { origin: pageOrigin } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="oneport"/);
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/,\s*/);
    for (const h of ["www-authenticate", "grpc-status", "grpc-message"]) assert.ok(exposed.includes(h), `${h} in ${exposed.join(", ")}`);
    await res.body?.cancel();
  });
});

describe("in Chromium", { skip, timeout: 60_000 }, () => {
  it("a page on another origin reads WWW-Authenticate of a refused REST and Connect call", async () => {
    await page!.goto(pageOrigin);
    const got = await page!.evaluate(async (base) => {
      const rest = await fetch(`${base}/v1/hello/bob`);
      const connect = await fetch(`${base}/example.ExampleService/SayHello`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"bob"}' });
      return { rest: [rest.status, rest.headers.get("www-authenticate")], connect: [connect.status, connect.headers.get("www-authenticate")] };
    }, withTokens.url);
    assert.equal(got.rest[0], 401);
    assert.match(String(got.rest[1]), /^Bearer realm="oneport"/);
    assert.equal(got.connect[0], 401);
    assert.match(String(got.connect[1]), /^Bearer realm="oneport"/);
  });

  it("Swagger UI's Authorize sends the bearer token with Try it out", async () => {
    const p = page!;
    await p.goto(`${withTokens.url}/docs`);
    await p.locator(".auth-wrapper .authorize").click();
    const modal = p.locator(".modal-ux");
    await modal.locator("input").first().fill(TOKEN);
    await modal.locator("button.authorize").click();
    await modal.locator("button.btn-done").click();
    const op = p.locator(`.opblock-get:has(.opblock-summary-path[data-path="/v1/hello/{name}"])`);
    await op.locator(".opblock-summary").click();
    const execute = op.getByRole("button", { name: "Execute" });
    await execute.waitFor();
    await op.locator('tr[data-param-name="name"][data-param-in="path"] input').fill("Bob");
    const request = p.waitForRequest((r) => new URL(r.url()).pathname === "/v1/hello/Bob");
    await execute.click();
    assert.equal((await request).headers().authorization, `Bearer ${TOKEN}`);
    const body = op.locator(".live-responses-table .response-col_description pre.microlight").first();
    await body.waitFor();
    assert.deepEqual(JSON.parse((await body.textContent()) ?? ""), { message: "Hello, Bob" });
  });
});
