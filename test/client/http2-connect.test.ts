import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { parseResponseHead, upgradeHeaders } from "../../src/ws/http2-connect.js";
import { startServer } from "../support/server.js";
import { selfSignedCert } from "../support/tls.js";
import { connectH2WebSocket, nextMessage } from "./h2-websocket.js";

const tls = selfSignedCert();
const servers = {
  "h2c (cleartext)": await startServer(),
  "h2 over TLS": await startServer({ tls: { cert: tls.cert, key: tls.key } }),
};
const hello = JSON.stringify({ id: "1", method: "example.ExampleService/SayHello", message: { name: "Bob" } });

for (const [name, { url }] of Object.entries(servers)) {
  describe(`WebSocket over HTTP/2 extended CONNECT, ${name}`, () => {
    const ca = name.includes("TLS") ? tls.cert : undefined;

    it("serves the bridge on a CONNECT stream with the negotiated subprotocol", async () => {
      const c = await connectH2WebSocket(url, { protocol: "oneport.json.v1", ca });
      after(() => c.session.destroy());
      assert.equal(c.status, 200);
      assert.equal(c.headers["sec-websocket-protocol"], "oneport.json.v1");
      assert.equal(c.headers["sec-websocket-accept"], undefined);
      const ws = c.ws!;
      ws.send(hello);
      const { headers: _, ...frame } = JSON.parse(await nextMessage(ws));
      assert.deepEqual(frame, { id: "1", message: { message: "Hello, Bob" }, end: true, status: { code: "ok" } });
      ws.close(1000);
      await new Promise((r) => ws.once("close", r));
    });

    it("refuses a foreign Origin with 403, as the HTTP/1.1 upgrade does", async () => {
      const c = await connectH2WebSocket(url, { origin: "https://evil.example", ca });
      after(() => c.session.destroy());
      assert.equal(c.status, 403);
      assert.equal(JSON.parse(c.body).code, "permission_denied");
    });

    it("accepts the server's own origin", async () => {
      const c = await connectH2WebSocket(url, { origin: url, protocol: "oneport.json.v1", ca });
      after(() => c.session.destroy());
      assert.equal(c.status, 200);
      c.ws!.terminate();
    });

    it("answers 404 for a CONNECT to a path without a WebSocket endpoint, and keeps serving", async () => {
      const c = await connectH2WebSocket(url, { path: "/nope", ca });
      after(() => c.session.destroy());
      assert.equal(c.status, 404);
      const ok = await connectH2WebSocket(url, { protocol: "oneport.json.v1", ca });
      after(() => ok.session.destroy());
      assert.equal(ok.status, 200);
      ok.ws!.terminate();
    });
  });
}

describe("RFC 8441 handshake translation", () => {
  it("turns CONNECT pseudo-headers into an HTTP/1.1 upgrade request", () => {
    const h = upgradeHeaders({ ":method": "CONNECT", ":protocol": "websocket", ":authority": "a.example:8443", ":path": "/ws", "sec-websocket-version": "13", cookie: "s=1" });
    assert.equal(h.host, "a.example:8443");
    assert.equal(h.upgrade, "websocket");
    assert.equal(h.cookie, "s=1");
    assert.match(String(h["sec-websocket-key"]), /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Object.keys(h).some((k) => k.startsWith(":")), false);
  });

  it("keeps the subprotocol and drops HTTP/1.1-only headers of the response head", () => {
    const r = parseResponseHead("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x=\r\nSec-WebSocket-Protocol: oneport.proto.v1");
    assert.deepEqual(r, { status: 101, headers: { "sec-websocket-protocol": "oneport.proto.v1" } });
  });
});
