import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Parser } from "@asyncapi/parser";
import { startChatServer } from "../chat/support.js";

// The example and chat services as main.ts serves them.
const { url, port, server } = await startChatServer();

async function fetchDoc() {
  const res = await fetch(`${url}/asyncapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  return (await res.json()) as Record<string, any>;
}

describe("GET /asyncapi.json", { timeout: 30_000 }, () => {
  it("is a valid AsyncAPI 3.0 document according to @asyncapi/parser", async () => {
    const doc = await fetchDoc();
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
    const errors = diagnostics.filter((d) => d.severity === 0);
    assert.deepEqual(errors.map((e) => `${e.path.join(".")}: ${e.message}`), []);
    assert.ok(document, "the parser returns a document");
    assert.equal(document.version(), "3.0.0");
    const channel = document.channels().get("ws");
    assert.equal(channel?.address(), "/ws");
    assert.equal(channel?.bindings().get("ws")?.value().method, "GET");
  });

  it("describes the server this client reached and the /ws channel with its subprotocols", async () => {
    const doc = await fetchDoc();
    assert.deepEqual(doc.servers.oneport, { host: `127.0.0.1:${port}`, protocol: "ws", description: "the server's one port (HTTP/1.1 upgrade)" });
    const proto = doc.channels.ws.bindings.ws.headers.properties["Sec-WebSocket-Protocol"];
    assert.deepEqual(proto.enum, ["oneport.json.v1", "oneport.proto.v1"]);
  });

  it("has one operation per registered method, with request and response schemas from the descriptors", async () => {
    const doc = await fetchDoc();
    for (const m of server.context.registry.methods()) {
      const op = doc.operations[`${m.service.typeName}.${m.method.name}`];
      assert.ok(op, `operation for ${m.path}`);
      assert.equal(op.action, "receive");
      assert.ok(op.reply, `${m.path} has a reply`);
    }
    const req = doc.components.messages["example.ExampleService.SayHello.request"].payload;
    assert.deepEqual(req.properties.method, { const: "example.ExampleService/SayHello" });
    assert.deepEqual(req.properties.message, { $ref: "#/components/schemas/example.HelloRequest" });
    assert.deepEqual(doc.components.schemas["example.HelloRequest"].properties, { name: { type: "string" } });
    assert.equal(doc.components.schemas["example.HelloStreamRequest"].properties.intervalMs.format, "uint32");
  });

  it("documents the chat room events as what the server sends on Subscribe", async () => {
    const doc = await fetchDoc();
    const events = doc.operations["chat.v1.ChatService.Subscribe.events"];
    assert.equal(events.action, "send");
    const res = doc.components.messages["chat.v1.ChatService.Subscribe.response"].payload.properties.message.$ref as string;
    const schema = doc.components.schemas[res.replace("#/components/schemas/", "")];
    assert.ok(schema, `the Subscribe response schema ${res} is in components`);
  });

  it("answers other methods with 405 and Allow", async () => {
    const res = await fetch(`${url}/asyncapi.json`, { method: "POST" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  });
});
