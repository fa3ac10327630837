import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";

const SECRET = "db at /srv/secret.db refused: password=hunter2";
const { url } = await startServer({
  services: [
    service(ExampleService, {
      sayHello(req) {
        if (req.name === "bug") throw new Error(SECRET);
        // What Node's streams throw when the client reset the request it was reading.
        if (req.name === "gone") throw Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
        if (req.name === "deliberate") throw new ConnectError("no such person", Code.NotFound, undefined, undefined, new Error(SECRET));
        return { message: `Hello, ${req.name}` };
      },
      async *sayHelloStream() {
        yield { message: "first" };
        throw new TypeError(SECRET);
      },
    }),
  ],
});

const transports = {
  grpc: createGrpcTransport({ baseUrl: url }),
  "grpc-web": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
  connect: createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
};

for (const [name, transport] of Object.entries(transports)) {
  describe(`errors over ${name}`, () => {
    const client = createClient(ExampleService, transport);
    const fail = (p: Promise<unknown>) => p.then(() => assert.fail("expected an error"), (e: unknown) => ConnectError.from(e));

    it("answers an unexpected error with INTERNAL and a request id, never its message", async () => {
      const err = await fail(client.sayHello({ name: "bug" }));
      assert.equal(err.code, Code.Internal);
      assert.match(err.rawMessage, /^internal error \(request id [\w-]+\)$/);
      assert.doesNotMatch(JSON.stringify({ m: err.message, md: [...err.metadata] }), /secret|hunter2/);
    });

    it("reports a request stream the client closed early as CANCELED, not as an internal error", async () => {
      const err = await fail(client.sayHello({ name: "gone" }));
      assert.equal(err.code, Code.Canceled);
      assert.equal(err.rawMessage, "the client went away");
    });

    it("passes a deliberate ConnectError through without its cause", async () => {
      const err = await fail(client.sayHello({ name: "deliberate" }));
      assert.equal(err.code, Code.NotFound);
      assert.equal(err.rawMessage, "no such person");
      assert.doesNotMatch(err.message, /secret/);
    });

    it("hides an unexpected error in the middle of a stream", async () => {
      const got: string[] = [];
      const err = await fail(
        (async () => {
          for await (const r of client.sayHelloStream({ name: "x" })) got.push(r.message);
        })(),
      );
      assert.deepEqual(got, ["first"]);
      assert.equal(err.code, Code.Internal);
      assert.doesNotMatch(err.message, /secret|hunter2/);
    });

    it("returns x-request-id, echoing a plain one the client sent", async () => {
      let header: Headers | undefined;
      await client.sayHello({ name: "ok" }, { headers: { "x-request-id": "abc-123" }, onHeader: (h) => (header = h) });
      assert.equal(header?.get("x-request-id"), "abc-123");
      await client.sayHello({ name: "ok" }, { headers: { "x-request-id": "<script>" }, onHeader: (h) => (header = h) });
      assert.match(header?.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    });
  });
}
