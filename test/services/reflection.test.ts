import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ServerReflection as V1 } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as V1Alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { startServer } from "../support/server.js";

const { url, server } = await startServer();
const transport = createGrpcTransport({ baseUrl: url });

for (const [name, desc] of [["v1", V1], ["v1alpha", V1Alpha]] as const) {
  describe(`grpc.reflection.${name}`, () => {
    const client = createClient(desc as typeof V1, transport);
    async function ask(requests: object[]) {
      const out = [];
      async function* reqs() {
        for (const r of requests) yield r;
      }
      for await (const r of client.serverReflectionInfo(reqs() as never)) out.push(r);
      return out;
    }
    const fileNames = (r: { messageResponse: { case?: string; value?: unknown } }) => {
      assert.equal(r.messageResponse.case, "fileDescriptorResponse", JSON.stringify(r.messageResponse));
      return (r.messageResponse.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    };

    it("lists every registered service", async () => {
      const [r] = await ask([{ messageRequest: { case: "listServices", value: "" } }]);
      assert.equal(r.messageResponse.case, "listServicesResponse");
      const names = (r.messageResponse.value as { service: { name: string }[] }).service.map((s) => s.name).sort();
      assert.deepEqual(names, server.context.registry.services().map((s) => s.typeName).sort());
    });

    it("answers file_containing_symbol for a service and a method, with dependencies", async () => {
      const [svc, method] = await ask([
        { messageRequest: { case: "fileContainingSymbol", value: "example.ExampleService" } },
        { messageRequest: { case: "fileContainingSymbol", value: "example.ExampleService.SayHello" } },
      ]);
      const first = fileNames(svc);
      assert.equal(first[0], "example/example.proto");
      assert.ok(first.includes("google/api/annotations.proto"));
      assert.ok(first.includes("google/protobuf/descriptor.proto"));
      // Files already sent on this stream are not sent again.
      assert.deepEqual(fileNames(method), ["example/example.proto"]);
    });

    it("answers file_by_filename and reports unknown names as NOT_FOUND", async () => {
      const [file, missing, badSymbol] = await ask([
        { messageRequest: { case: "fileByFilename", value: "google/api/http.proto" } },
        { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
        { messageRequest: { case: "fileContainingSymbol", value: "nope.Nothing" } },
      ]);
      assert.deepEqual(fileNames(file), ["google/api/http.proto"]);
      for (const r of [missing, badSymbol]) {
        assert.equal(r.messageResponse.case, "errorResponse");
        assert.equal((r.messageResponse.value as { errorCode: number }).errorCode, 5);
      }
    });

    it("finds extensions of a type (google.api.http on MethodOptions)", async () => {
      const [nums, ext] = await ask([
        { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" } },
        { messageRequest: { case: "fileContainingExtension", value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 } } },
      ]);
      assert.equal(nums.messageResponse.case, "allExtensionNumbersResponse");
      assert.ok((nums.messageResponse.value as { extensionNumber: number[] }).extensionNumber.includes(72295728));
      assert.equal(fileNames(ext)[0], "google/api/annotations.proto");
    });
  });
}
