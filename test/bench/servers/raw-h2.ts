// The ceiling on Node: a raw node:http2 stream handler (gRPC binary, or Connect JSON) with protobuf-es.
import * as http2 from "node:http2";
import { create, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { HelloRequestSchema, HelloResponseSchema } from "../../../src/gen/example/example_pb.js";
import { announce, greet } from "./common.js";

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.on("end", () => {
    const body = Buffer.concat(chunks);
    if (String(headers["content-type"]).startsWith("application/grpc")) {
      const req = fromBinary(HelloRequestSchema, body.subarray(5));
      const out = toBinary(HelloResponseSchema, create(HelloResponseSchema, { message: greet(req.name) }));
      const env = Buffer.allocUnsafe(5 + out.length);
      env[0] = 0;
      env.writeUInt32BE(out.length, 1);
      env.set(out, 5);
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(env);
    } else {
      const req = fromJsonString(HelloRequestSchema, body.toString());
      const out = toJsonString(HelloResponseSchema, create(HelloResponseSchema, { message: greet(req.name) }));
      stream.respond({ ":status": 200, "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      stream.end(out);
    }
  });
});
announce(server);
