// The ceiling for HTTP/1.1 JSON on Node: a raw node:http handler with protobuf-es fromJson/toJson.
import * as http from "node:http";
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { HelloRequestSchema, HelloResponseSchema } from "../../../src/gen/example/example_pb.js";
import { announce, greet } from "./common.js";

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const msg = fromJsonString(HelloRequestSchema, Buffer.concat(chunks).toString());
    const out = toJsonString(HelloResponseSchema, create(HelloResponseSchema, { message: greet(msg.name) }));
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
  });
});
announce(server);
