import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startServer } from "../support/server.js";
import { h2request } from "./support.js";

const { url } = await startServer({ cors: { allowedOrigins: ["https://app.example.com"] } });
const path = "/example.ExampleService/SayHello";

describe("fast path and CORS", () => {
  it("adds CORS headers to a Connect call with Origin over HTTP/2", async () => {
    const r = await h2request(url, { ":path": path, "content-type": "application/json", origin: "https://app.example.com" }, Buffer.from('{"name":"Bob"}'));
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "https://app.example.com");
    assert.equal(JSON.parse(r.body.toString()).message, "Hello, Bob");
  });

  it("adds CORS headers to a gRPC-Web call with Origin over HTTP/1.1", async () => {
    const body = Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, 0x42, 0x6f, 0x62]);
    const r = await fetch(url + path, { method: "POST", headers: { "content-type": "application/grpc-web+proto", origin: "https://app.example.com" }, body: new Uint8Array(body) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.match(Buffer.from(await r.arrayBuffer()).toString(), /Hello, Bob[\s\S]*grpc-status: 0/);
  });
});
