// Building routes from HttpRules at start-up: bad rules stop the server with a message that names
// the method, the template and what is wrong; REST options are validated.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, create, setExtension, type MessageInitShape } from "@bufbuild/protobuf";
import { MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { Registry, type RegisteredMethod } from "../../src/core/registry.js";
import { http } from "../../src/gen/google/api/annotations_pb.js";
import { HttpRuleSchema } from "../../src/gen/google/api/http_pb.js";
import { resolveRestOptions } from "../../src/rest/options.js";
import { buildRoutes } from "../../src/rest/routes.js";
import { exampleService } from "../../src/services/example.js";
import { transcodingService } from "./transcoding-service.js";

const registry = new Registry();
registry.add(exampleService());
registry.add(transcodingService());
const sayHello = registry.lookup("/example.ExampleService/SayHello")!;

/** SayHello with another HttpRule, as if its proto said so. */
function withRule(rule: MessageInitShape<typeof HttpRuleSchema>): RegisteredMethod {
  const options = clone(MethodOptionsSchema, sayHello.method.proto.options ?? create(MethodOptionsSchema));
  setExtension(options, http, create(HttpRuleSchema, rule));
  const method = { ...sayHello.method, proto: { ...sayHello.method.proto, options } };
  return { ...sayHello, method } as RegisteredMethod;
}

describe("buildRoutes()", () => {
  it("builds a route for every rule and additional binding", () => {
    const { list } = buildRoutes(registry.methods());
    assert.deepEqual(
      list.filter((r) => r.method.path === "/oneport.testing.v1.TranscodingService/Echo").map((r) => r.label),
      ["GET /v1/echo/{id}", "GET /v1/echo/{id}/nested/{nested.deeper.value}", "POST /v1/echo", "PUT /v1/echo/{id}", "PATCH /v1/echo/{id}", "DELETE /v1/echo/{id}", "SEARCH /v1/echo:search"],
    );
  });

  const bad: Array<[string, MessageInitShape<typeof HttpRuleSchema>, RegExp]> = [
    ["a template error with its column", { pattern: { case: "get", value: "/v1/{name" } }, /\/example.ExampleService\/SayHello: google.api.http GET "\/v1\/\{name": invalid path template "\/v1\/\{name" at column 10: expected "}", got the end/],
    ["a path variable that is no field", { pattern: { case: "get", value: "/v1/{nom}" } }, /path variable "nom": example.HelloRequest has no field "nom"/],
    ["a body that is no field", { pattern: { case: "post", value: "/v1/x" }, body: "nobody" }, /body "nobody" is not a field of example.HelloRequest/],
    ["a response_body that is no field", { pattern: { case: "get", value: "/v1/x/{name}" }, responseBody: "msg" }, /response_body "msg" is not a field of example.HelloResponse/],
    ["a nested path through a scalar", { pattern: { case: "get", value: "/v1/{name.first}" } }, /path variable "name.first": field "name" must be a singular message/],
  ];
  for (const [name, rule, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(() => buildRoutes([withRule(rule)]), message);
    });
  }

  it("refuses two methods on the same route", () => {
    assert.throws(() => buildRoutes([sayHello, withRule({ pattern: { case: "get", value: "/v1/hello/{name}" } })]), /has the same HTTP route as/);
  });
});

describe("resolveRestOptions()", () => {
  it("fills in defaults", () => {
    assert.deepEqual(resolveRestOptions(), { enabled: true, metadataHeaders: ["authorization", "x-request-id", "traceparent", "tracestate"], deadlineHeader: "grpc-timeout", docs: true, protoPaths: ["proto", "third_party"] });
  });

  it("names the bad option", () => {
    assert.throws(() => resolveRestOptions({ metadataHeaders: ["bad header"] }), /rest.metadataHeaders/);
    assert.throws(() => resolveRestOptions({ metadataHeaders: ["x-*-y"] }), /rest.metadataHeaders/);
    assert.throws(() => resolveRestOptions({ deadlineHeader: "x y" }), /rest.deadlineHeader/);
    assert.throws(() => resolveRestOptions({ docs: "yes" as never }), /rest.docs must be a boolean/);
    assert.throws(() => resolveRestOptions({ allowlist: [] } as never), /unknown rest option "allowlist"/);
  });
});
