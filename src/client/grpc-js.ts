import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

type Serializers = {
  requestSerialize: (value: MessageInitShape<DescMessage>) => Buffer;
  requestDeserialize: (bytes: Buffer) => MessageShape<DescMessage>;
  responseSerialize: (value: MessageInitShape<DescMessage>) => Buffer;
  responseDeserialize: (bytes: Buffer) => MessageShape<DescMessage>;
};

function serializers(input: DescMessage, output: DescMessage): Serializers {
  return {
    requestSerialize: (v) => Buffer.from(toBinary(input, create(input, v))),
    requestDeserialize: (b) => fromBinary(input, b),
    responseSerialize: (v) => Buffer.from(toBinary(output, create(output, v))),
    responseDeserialize: (b) => fromBinary(output, b),
  };
}

/** A @grpc/grpc-js service definition built from a generated protobuf-es service descriptor. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      originalName: m.name,
      ...serializers(m.input, m.output),
    } as grpc.MethodDefinition<unknown, unknown>;
  }
  return def as grpc.ServiceDefinition;
}

/** A grpc-js client for a generated service (methods by their localName, e.g. `sayHello`). */
export function createGrpcJsClient(
  service: DescService,
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ClientOptions = {},
): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.name);
  return new Ctor(address, credentials, options) as unknown as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
}
