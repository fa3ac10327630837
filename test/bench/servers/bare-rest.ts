// The REST bench's baseline: a bare node:http server that parses the URL and encodes the same JSON
// as oneport's GET /v1/hello/{name} (and /healthz, to compare the front of the server alone).
import * as http from "node:http";
import { announce } from "./common.js";

const server = http.createServer((req, res) => {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (path === "/healthz") {
    // What oneport's /healthz answers: the front of the server (listener, dispatcher) without REST.
    const out = JSON.stringify({ status: "ok" });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
    return;
  }
  const m = /^\/v1\/hello\/([^/]+)$/.exec(path);
  if (req.method !== "GET" || !m) {
    res.writeHead(404).end();
    return;
  }
  const out = JSON.stringify({ message: `Hello, ${decodeURIComponent(m[1])}` });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
  res.end(out);
});
announce(server);
