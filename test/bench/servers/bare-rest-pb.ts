// A second REST baseline: the bare node:http handler of bare-rest.ts, but with the request and the
// answer as protobuf-es messages and proto3 JSON (create, toJsonString), as a transcoder must: what
// oneport's REST path costs over the message work itself (the Pipeline, routing, headers).
import * as http from "node:http";
import { create, toJsonString } from "@bufbuild/protobuf";
import { HelloRequestSchema, HelloResponseSchema } from "../../../src/gen/example/example_pb.js";
import { announce, greet } from "./common.js";

const server = http.createServer((req, res) => {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const m = /^\/v1\/hello\/([^/]+)$/.exec(q < 0 ? url : url.slice(0, q));
  if (req.method !== "GET" || !m) {
    res.writeHead(404).end();
    return;
  }
  const input = create(HelloRequestSchema, { name: decodeURIComponent(m[1]) });
  const out = toJsonString(HelloResponseSchema, create(HelloResponseSchema, { message: greet(input.name) }));
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
  res.end(out);
});
announce(server);
