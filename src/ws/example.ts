import { create, ScalarType, toBinary, toJson, type DescMessage } from "@bufbuild/protobuf";
import type { Registry as MethodRegistry, RegisteredMethod } from "../core/registry.js";
import type { ServerFrame, WireFormat } from "./frame.js";

/** The method error frames show as an example: SayHello if served, else the first unary method of a user service. */
export function exampleMethod(methods: MethodRegistry): RegisteredMethod | undefined {
  return (
    methods.lookup("/example.ExampleService/SayHello") ??
    methods.methods().find((m) => m.spec.kind === "unary" && !m.service.typeName.startsWith("grpc."))
  );
}

/** A valid client frame for `m`, with a sample request, encoded for `format`. */
export function exampleFrame(m: RegisteredMethod, format: WireFormat): NonNullable<ServerFrame["example"]> {
  const msg = sample(m.method.input);
  const method = m.path.slice(1);
  return { id: "1", method, message: format === "json" ? toJson(m.method.input, msg) : toBinary(m.method.input, msg) };
}

// The first string field gets a value so that the example shows the message's shape.
function sample(desc: DescMessage) {
  const msg = create(desc) as Record<string, unknown>;
  const field = desc.fields.find((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING && !f.oneof);
  if (field) msg[field.localName] = "Bob";
  return msg as ReturnType<typeof create<DescMessage>>;
}
