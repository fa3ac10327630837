// GET /openapi.json: a valid OpenAPI 3.1 document generated from the descriptors and HttpRules,
// and GET /docs: Swagger UI served from this port.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { MemoryBroker } from "../../src/pubsub/memory.js";
import { createChat } from "../../src/services/chat.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { transcodingService } from "../rest/transcoding-service.js";

const { url } = await startServer({ services: [exampleService(), transcodingService()] });
const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; description?: string; parameters: Array<{ name: string; in: string; schema: Record<string, unknown>; description?: string }>; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, { description?: string; properties?: Record<string, { description?: string }> }> };
};

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const res = await new Validator().validate(doc as never);
    assert.equal(doc.openapi, "3.1.0");
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
  });

  it("documents the course's route with its path parameter and the proto comments", () => {
    const op = doc.paths["/v1/hello/{name}"].get;
    assert.equal(op.operationId, "example.ExampleService.SayHello");
    assert.match(op.description ?? "", /SayHello answers "Hello, " \+ name/);
    assert.deepEqual(op.parameters.map((p) => [p.name, p.in]), [["name", "path"]]);
    assert.deepEqual(op.responses["200"].content?.["application/json"].schema, { $ref: "#/components/schemas/example.HelloResponse" });
    assert.deepEqual(op.responses.default.content?.["application/json"].schema, { $ref: "#/components/schemas/google.rpc.Status" });
    assert.match(doc.components.schemas["example.HelloResponse"].description ?? "", /carries the greeting/);
    assert.match(op.parameters[0].description ?? "", /The name to greet; must not be empty/);
  });

  it("lists query parameters for the fields the path and body do not bind, nested ones dotted", () => {
    const names = doc.paths["/v1/echo/{id}"].get.parameters.map((p) => `${p.in}:${p.name}`);
    for (const n of ["path:id", "query:kind", "query:big", "query:at", "query:maybeInt", "query:tags", "query:nested.label", "query:nested.deeper.value"]) assert.ok(names.includes(n), `${n} in ${names.join(" ")}`);
    assert.ok(!names.includes("query:id"), "the path-bound field is not a query parameter");
    assert.ok(!names.includes("query:labels"), "maps are not query parameters");
    const put = doc.paths["/v1/echo/{id}"].put.parameters.map((p) => p.name);
    assert.ok(!put.some((n) => n.startsWith("nested")), "the body field is not a query parameter");
    assert.deepEqual(doc.paths["/v1/echo"].post.parameters, [], 'body "*" leaves no query parameters');
  });

  it("documents request bodies, response_body, HttpBody, templates with patterns and :verb, and streams", () => {
    assert.deepEqual(doc.paths["/v1/echo"].post.requestBody?.content["application/json"].schema, { $ref: "#/components/schemas/oneport.testing.v1.EchoRequest" });
    assert.deepEqual(doc.paths["/v1/echo/{id}"].patch.responses["200"].content?.["application/json"].schema, { $ref: "#/components/schemas/oneport.testing.v1.EchoRequest", description: "The request as the server received it." });
    assert.ok(doc.paths["/v1/uploads/{name}"].post.requestBody?.content["*/*"]);
    assert.ok(doc.paths["/v1/downloads/{name}"].get.responses["200"].content?.["*/*"]);
    assert.ok(doc.paths["/v1/rooms/{name}:archive"].post, "{name=rooms/*}:archive becomes /v1/rooms/{name}:archive");
    assert.ok(doc.paths["/v1/projects/{name}/files/{name_2}"].get);
    // additional_bindings {get: "/v1/{name=files/**}"}: its own operation, the ** ONE parameter that may hold "/".
    const files = doc.paths["/v1/files/{name}"].get;
    assert.equal(files.operationId, "oneport.testing.v1.TranscodingService.GetFile_1");
    assert.deepEqual(files.parameters.map((p) => [p.name, p.in]), [["name", "path"]]);
    assert.match(files.parameters[0].description ?? "", /The rest of name = "files\/\*\*": any path, "\/" allowed/);
    assert.equal((doc.paths["/v1/echo:search"] as Record<string, unknown>)["x-custom-method-search"] !== undefined, true, "custom methods live in an extension");
    const stream = doc.paths["/v1/hello/{name}/stream"].get.responses["200"].content ?? {};
    assert.deepEqual(Object.keys(stream).sort(), ["application/x-ndjson", "text/event-stream"]);
    assert.match(doc.paths["/v1/sum"].post.description ?? "", /Not callable over REST/);
  });

  it("describes enums by value name with their comments, and well-known types by their JSON form", () => {
    const kind = doc.components.schemas["oneport.testing.v1.Kind"] as { enum: string[]; description: string };
    assert.deepEqual(kind.enum, ["KIND_UNSPECIFIED", "KIND_ALPHA", "KIND_BETA"]);
    assert.match(kind.description, /KIND_ALPHA: The first kind/);
    const props = doc.components.schemas["oneport.testing.v1.EchoRequest"].properties as Record<string, Record<string, unknown>>;
    assert.equal(props.at.format, "date-time");
    assert.equal(props.big.type, "string");
    assert.deepEqual(props.maybeInt.type, ["integer", "null"]);
  });
});

describe("GET /openapi.json of the CLI's services", () => {
  it("documents the chat service's routes (POST messages, SSE events, History paging) validly", async () => {
    const chat = createChat(new MemoryBroker());
    const server = await startServer({ services: [exampleService(), chat.service] });
    const d = (await (await fetch(`${server.url}/openapi.json`)).json()) as typeof doc;
    const res = await new Validator().validate(d as never);
    assert.equal(res.valid, true, JSON.stringify(res.errors)?.slice(0, 2000));
    assert.ok(d.paths["/v1/rooms/{room}/messages"].post.requestBody);
    assert.ok(d.paths["/v1/rooms/{room}/events"].get.responses["200"].content?.["text/event-stream"]);
    assert.ok(d.paths["/v1/rooms/{room}/messages"].get.parameters.some((p) => p.in === "query"));
  });
});

describe("GET /docs", () => {
  it("serves Swagger UI pointing at /openapi.json with every asset from this port", async () => {
    const res = await fetch(`${url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 4);
    for (const a of assets) {
      assert.ok(a.startsWith("/docs/"), `${a} is served locally, not from a CDN`);
      const r = await fetch(url + a);
      assert.equal(r.status, 200, a);
      assert.ok((await r.arrayBuffer()).byteLength > 0, a);
    }
    assert.match(await (await fetch(`${url}/docs/init.js`)).text(), /url: "\/openapi.json"/);
    assert.match(await (await fetch(`${url}/docs/swagger-ui-bundle.js`)).text(), /SwaggerUIBundle/);
  });

  it("serves nothing else from the file system", async () => {
    for (const p of ["/docs/package.json", "/docs/../package.json", "/docs/%2e%2e/package.json", "/docs/index.html"]) {
      assert.equal((await fetch(url + p)).status, 404, p);
    }
  });

  it("answers other methods with 405 and Allow", async () => {
    const res = await fetch(`${url}/openapi.json`, { method: "POST" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  });
});
