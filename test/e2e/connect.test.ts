import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { startServer } from "../support/server.js";

const { url } = await startServer();

const transports = {
  "connect json h1": () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
  "connect binary h1": () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true }),
  "connect json h2": () => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: false }),
  "connect binary h2": () => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }),
  "grpc h2": () => createGrpcTransport({ baseUrl: url }),
  "grpc-web h1": () => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
  "grpc-web h2": () => createGrpcWebTransport({ baseUrl: url, httpVersion: "2" }),
};

for (const [name, make] of Object.entries(transports)) {
  describe(`ExampleService over ${name}`, () => {
    const client = createClient(ExampleService, make());

    it("answers SayHello with Hello, name", async () => {
      const res = await client.sayHello({ name: "Bob" });
      assert.equal(res.message, "Hello, Bob");
    });

    it("rejects an empty name with INVALID_ARGUMENT", async () => {
      const err = await client.sayHello({ name: "" }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, /name must not be empty/);
    });

    it("streams greetings from SayHelloStream", async () => {
      const got: string[] = [];
      for await (const r of client.sayHelloStream({ name: "Ann", count: 3 })) got.push(r.message);
      assert.deepEqual(got, ["Hello, Ann (1/3)", "Hello, Ann (2/3)", "Hello, Ann (3/3)"]);
    });

    if (name.includes("h2")) {
      it("collects names from a client stream", async () => {
        async function* names() {
          yield { name: "A" };
          yield { name: "B" };
        }
        const res = await client.collectNames(names());
        assert.equal(res.message, "Hello, A, B");
      });

      it("answers each name of a bidi stream", async () => {
        async function* names() {
          yield { name: "X" };
          yield { name: "Y" };
        }
        const got: string[] = [];
        for await (const r of client.chatter(names())) got.push(r.message);
        assert.deepEqual(got, ["Hello, X", "Hello, Y"]);
      });
    }
  });
}
