// A user interceptor that throws while it wraps `next` (before it sees any request) fails the call
// with INTERNAL on every protocol, is logged and counted like any failure, and the process goes on.
// It used to throw out of the fast paths (gRPC, gRPC-Web, Connect unary) and crash the server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { resolveOptions, service } from "../../src/config.js";
import { ExampleService } from "../../src/gen/example/example_pb.js";
import { exampleService } from "../../src/services/example.js";
import { startServer } from "../support/server.js";
import { connect } from "../ws/client.js";

const broken: Interceptor = () => {
  throw new Error("an interceptor that cannot wrap");
};
const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
const logger = pino({ level: "error" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
const { url } = await startServer({ interceptors: [broken], logger });

describe("an interceptor that throws while wrapping next", () => {
  const transports = {
    "gRPC": createGrpcTransport({ baseUrl: url }),
    "gRPC-Web": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
    "Connect HTTP/1.1": createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    "Connect HTTP/2": createConnectTransport({ baseUrl: url, httpVersion: "2" }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    it(`fails ${name} unary and server-streaming calls with INTERNAL, and the server goes on`, async () => {
      const client = createClient(ExampleService, transport);
      const unary = await client.sayHello({ name: "Bob" }).then(() => assert.fail("must fail"), (e: unknown) => ConnectError.from(e));
      assert.equal(unary.code, Code.Internal, unary.rawMessage);
      assert.match(unary.rawMessage, /^internal error \(request id /, "no internals sent");
      const stream = await (async () => {
        for await (const _ of client.sayHelloStream({ name: "Bob", count: 1 })) assert.fail("no message");
      })().then(() => assert.fail("must fail"), (e: unknown) => ConnectError.from(e));
      assert.equal(stream.code, Code.Internal, stream.rawMessage);
    });
  }

  it("fails REST and WebSocket calls alike, and logs the interceptor's error", async () => {
    const r = await fetch(`${url}/v1/hello/Bob`);
    assert.equal(r.status, 500);
    const c = await connect(url);
    c.send({ id: "a", method: "example.ExampleService/SayHello", message: { name: "Bob" } });
    const [f] = await c.stream("a");
    assert.equal(f.status?.code, "internal");
    c.close();
    assert.ok(lines.some((l) => l.msg === "unexpected error in a call" && l.err?.message === "an interceptor that cannot wrap"), JSON.stringify(lines.slice(0, 3)));
  });
});

describe("createServer options that are not what they should be", () => {
  for (const [name, opts, message] of [
    ["an interceptor that is no function", { interceptors: [42] }, /interceptors\[0\] must be an interceptor, a function \(next\) => \(req\) => \.\.\., got number/],
    ["a service descriptor without service()", { services: [ExampleService] }, /services\[0\] is not a service registration: pass service\(TheService, implementation\)/],
    ["an unknown option", { prot: 1 }, /unknown option "prot"; known options: services, interceptors, port/],
    ["a port given as a string", { port: "8080" }, /port must be an integer from 0 to 65535, got "8080"/],
    ["a host that is no string", { host: 12 }, /host must be a string such as "127.0.0.1", got 12/],
  ] as const) {
    it(`refuses ${name} with a message that says what to fix`, () => {
      assert.throws(() => resolveOptions(opts as never), message);
    });
  }

  it("takes what the README shows", () => {
    assert.doesNotThrow(() => resolveOptions({ services: [exampleService(), service(ExampleService, {})], interceptors: [(next) => next], port: 0, host: "::1" }));
  });
});
