// A bare @grpc/grpc-js server with the same SayHello handler and protobuf-es codecs.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HelloRequestSchema, HelloResponseSchema, type HelloRequest, type HelloResponse } from "../../../src/gen/example/example_pb.js";
import { greet } from "./common.js";

const def: grpc.ServiceDefinition = {
  sayHello: {
    path: "/example.ExampleService/SayHello",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: HelloRequest) => Buffer.from(toBinary(HelloRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(HelloRequestSchema, b),
    responseSerialize: (m: HelloResponse) => Buffer.from(toBinary(HelloResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(HelloResponseSchema, b),
  },
};
const server = new grpc.Server();
server.addService(def, {
  sayHello(call: grpc.ServerUnaryCall<HelloRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
    try {
      cb(null, { $typeName: "example.HelloResponse", message: greet(call.request.name) });
    } catch (e) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: String(e) });
    }
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`PORT ${port}`);
});
process.on("SIGTERM", () => process.exit(0));
