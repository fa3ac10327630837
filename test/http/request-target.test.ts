// HTTP/1.1 request targets in absolute form ("GET http://host:port/path HTTP/1.1", as clients talk
// to a proxy): a server must accept them (RFC 9112 §3.2.2), so every route sees the origin form.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as net from "node:net";
import { originForm } from "../../src/http/listener.js";
import { startServer } from "../support/server.js";
import { raw } from "../rest/support.js";

const { url, port } = await startServer();

describe("absolute-form request targets", () => {
  it("reach REST, Connect and the ops routes as their origin form", async () => {
    const rest = await raw(url, "GET", `${url}/v1/hello/Bob`);
    assert.equal(rest.status, 200, rest.text);
    assert.equal(rest.text, '{"message":"Hello, Bob"}');
    const connect = await raw(url, "POST", `${url}/example.ExampleService/SayHello`, { headers: { "content-type": "application/json" }, body: '{"name":"Ann"}' });
    assert.equal(connect.text, '{"message":"Hello, Ann"}');
    assert.equal((await raw(url, "GET", `HTTP://127.0.0.1:${port}/healthz`)).status, 200, "the scheme in any case");
    assert.equal((await raw(url, "GET", `http://127.0.0.1:${port}`)).status, 404, "no path: /");
  });

  it("opens the WebSocket bridge", async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () =>
        s.write(
          `GET http://127.0.0.1:${port}/ws HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: oneport.json.v1\r\n\r\n",
        ),
      );
      s.once("data", (d: Buffer) => {
        s.destroy();
        resolve(d.toString("latin1"));
      });
      s.once("error", reject);
    });
    assert.match(head, /^HTTP\/1.1 101 /);
  });

  it("keeps what is not an absolute URL as it is", () => {
    assert.equal(originForm("http://h:1/a/b?c=d"), "/a/b?c=d");
    assert.equal(originForm("https://h"), "/");
    assert.equal(originForm("http://h?q"), "/?q");
    assert.equal(originForm("*"), "*");
    assert.equal(originForm("v1/hello"), "v1/hello");
  });
});
