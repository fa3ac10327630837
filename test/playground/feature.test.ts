import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTokens } from "../../src/core/auth.js";
import { playgroundFeature } from "../../src/playground/feature.js";
import { startServer } from "../support/server.js";
import { startChatServer } from "../chat/support.js";

const withChat = await startChatServer({ server: { features: [playgroundFeature({ devTokens: parseTokens("alice:alice-token") })] } });
const withoutChat = await startServer({ features: [playgroundFeature()] });

describe("playground feature", () => {
  it("serves the page with a strict content security policy", async () => {
    const res = await fetch(`${withChat.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const html = await res.text();
    assert.match(html, /<script type="module" src="\/playground\/app.js"><\/script>/);
    assert.match(html, /href="\/docs"/);
    assert.match(html, /href="\/asyncapi.json"/);
  });

  it("serves its script modules and stylesheet", async () => {
    for (const [path, type] of [
      ["/playground/app.js", "text/javascript; charset=utf-8"],
      ["/playground/ws-client.js", "text/javascript; charset=utf-8"],
      ["/playground/style.css", "text/css; charset=utf-8"],
    ]) {
      const res = await fetch(`${withChat.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), type, path);
      assert.ok((await res.text()).length > 100, path);
    }
  });

  it("describes the registered services, the /ws path and the dev tokens in /playground.json", async () => {
    const info = (await (await fetch(`${withChat.url}/playground.json`)).json()) as {
      services: { name: string; methods: { name: string; kind: string }[] }[];
      ws: { path: string };
      chat: { devTokens: { name: string; token: string }[] } | null;
    };
    assert.deepEqual(info.services.map((s) => s.name), withChat.server.context.registry.services().map((s) => s.typeName));
    const chat = info.services.find((s) => s.name === "chat.v1.ChatService");
    assert.deepEqual(chat?.methods.map((m) => `${m.name}:${m.kind}`), ["Send:unary", "Subscribe:server_streaming", "Chat:bidi_streaming", "History:unary"]);
    assert.equal(info.ws.path, "/ws");
    assert.deepEqual(info.chat, { devTokens: [{ name: "alice", token: "alice-token" }] });
  });

  it("offers no chat (and no tokens) when ChatService is not registered", async () => {
    const info = (await (await fetch(`${withoutChat.url}/playground.json`)).json()) as { chat: unknown };
    assert.equal(info.chat, null);
  });

  it("tells the page when the WebSocket bridge is disabled", async () => {
    const noWs = await startServer({ ws: { enabled: false }, features: [playgroundFeature()] });
    const info = (await (await fetch(`${noWs.url}/playground.json`)).json()) as { ws: { path: string | null } };
    assert.equal(info.ws.path, null);
  });

  it("answers HEAD without a body and other methods with 405 and Allow", async () => {
    const head = await fetch(`${withChat.url}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await fetch(`${withChat.url}/`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });

  it("leaves other paths to the rest of the server", async () => {
    assert.equal((await fetch(`${withChat.url}/playground/missing.js`)).status, 404);
    assert.equal((await fetch(`${withChat.url}/healthz`)).status, 200);
  });
});
